//! The mutual-TLS set-up: the RP's identity (PKCS#12 as BankID issues it, or PEM) and the
//! BankID server CA that is the only trust anchor. Builds the rustls config the client uses;
//! never falls back to the public web roots or the system store.

use std::fmt;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::RootCertStore;

use crate::error::ConfigError;

/// The RP's client certificate chain and private key.
pub struct RpIdentity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl RpIdentity {
    /// From a PKCS#12 (`.p12`/`.pfx`) file as BankID delivers it (also what `openssl pkcs12
    /// -export` writes, modern AES or `-legacy` 3DES/RC2). The first key with its certificate
    /// is used, with whatever chain the file holds.
    pub fn from_pkcs12(der: &[u8], password: &str) -> Result<Self, ConfigError> {
        let store =
            p12_keystore::KeyStore::from_pkcs12(der, password).map_err(ConfigError::Pkcs12)?;
        let (_, chain) = store.private_key_chain().ok_or(ConfigError::Pkcs12NoKey)?;
        if chain.chain().is_empty() {
            return Err(ConfigError::Pkcs12NoKey);
        }
        Ok(RpIdentity {
            chain: chain
                .chain()
                .iter()
                .map(|cert| CertificateDer::from(cert.as_der().to_vec()))
                .collect(),
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(chain.key().to_vec())),
        })
    }

    /// From PEM: the certificate (then any intermediates) and the private key (PKCS#8, PKCS#1
    /// or SEC1). Both may sit in the same file.
    pub fn from_pem(cert_chain_pem: &[u8], key_pem: &[u8]) -> Result<Self, ConfigError> {
        let chain = CertificateDer::pem_slice_iter(cert_chain_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(ConfigError::Pem)?;
        if chain.is_empty() {
            return Err(ConfigError::NoCertificate);
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|error| match error {
            rustls::pki_types::pem::Error::NoItemsFound => ConfigError::NoPrivateKey,
            other => ConfigError::Pem(other),
        })?;
        Ok(RpIdentity { chain, key })
    }

    /// The leaf certificate first, then the chain, in DER.
    pub fn certificate_chain(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }
}

impl Clone for RpIdentity {
    fn clone(&self) -> Self {
        RpIdentity {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl fmt::Debug for RpIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RpIdentity")
            .field("certificates", &self.chain.len())
            .field("key", &"[redacted]")
            .finish()
    }
}

/// The CA(s) the BankID server certificate must chain to: "Test BankID SSL Root CA v1 Test"
/// for the test environment, "BankID SSL Root CA v1" for production, or a simulator's CA.
#[derive(Clone)]
pub struct ServerCa {
    roots: Vec<CertificateDer<'static>>,
}

impl ServerCa {
    /// One or more PEM certificates.
    pub fn from_pem(pem: &[u8]) -> Result<Self, ConfigError> {
        let roots = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(ConfigError::Pem)?;
        if roots.is_empty() {
            return Err(ConfigError::NoCertificate);
        }
        Ok(ServerCa { roots })
    }

    pub fn from_der(der: Vec<u8>) -> Self {
        ServerCa {
            roots: vec![CertificateDer::from(der)],
        }
    }
}

impl fmt::Debug for ServerCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerCa")
            .field("certificates", &self.roots.len())
            .finish()
    }
}

/// A rustls client config that trusts only `server_ca` and presents `identity`.
pub fn client_tls_config(
    identity: &RpIdentity,
    server_ca: &ServerCa,
) -> Result<rustls::ClientConfig, ConfigError> {
    let mut roots = RootCertStore::empty();
    for root in &server_ca.roots {
        roots.add(root.clone()).map_err(ConfigError::Tls)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(ConfigError::Tls)?
        .with_root_certificates(roots)
        .with_client_auth_cert(identity.chain.clone(), identity.key.clone_key())
        .map_err(ConfigError::Tls)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made once with OpenSSL 3.0 (`openssl req -x509 … -days 36500` then `openssl pkcs12
    // -export [-legacy] -passout pass:qwerty123`): an EC key with AES-256/PBKDF2 (OpenSSL 3's
    // default) and an RSA key with RC2/3DES (`-legacy`, how BankID's own test file is made).
    // Only parsed, never used for a handshake, so their validity dates do not matter.
    const OPENSSL_AES_EC: &[u8] = include_bytes!("../tests/fixtures/openssl-aes-ec.p12");
    const OPENSSL_LEGACY_RSA: &[u8] = include_bytes!("../tests/fixtures/openssl-legacy-rsa.p12");

    #[test]
    fn reads_pkcs12_written_by_openssl_modern_and_legacy() {
        for (name, file) in [
            ("aes-ec", OPENSSL_AES_EC),
            ("legacy-rsa", OPENSSL_LEGACY_RSA),
        ] {
            let identity = RpIdentity::from_pkcs12(file, "qwerty123")
                .unwrap_or_else(|error| panic!("{name}: {error}"));
            assert_eq!(identity.certificate_chain().len(), 1, "{name}");
            let ca = ServerCa::from_der(identity.certificate_chain()[0].to_vec());
            client_tls_config(&identity, &ca).unwrap_or_else(|error| panic!("{name}: {error}"));
        }
    }

    #[test]
    fn wrong_pkcs12_password_is_a_config_error() {
        let result = RpIdentity::from_pkcs12(OPENSSL_AES_EC, "wrong");
        assert!(matches!(result, Err(ConfigError::Pkcs12(_))));
    }

    #[test]
    fn pem_without_key_or_certificate_is_refused() {
        assert!(matches!(
            RpIdentity::from_pem(b"", b""),
            Err(ConfigError::NoCertificate)
        ));
        assert!(matches!(
            ServerCa::from_pem(b"nothing here"),
            Err(ConfigError::NoCertificate)
        ));
    }
}
