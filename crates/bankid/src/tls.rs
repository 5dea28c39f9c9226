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

    /// A PKCS#12 file made now by the `openssl` command, as an RP makes one (password
    /// `qwerty123`): `ec` gives an EC key with AES-256/PBKDF2 (OpenSSL 3's default), `rsa` an RSA
    /// key with RC2/3DES (`-legacy`, how BankID's own test file is made). Made at test time so
    /// no key material is committed; only parsed, never used for a handshake.
    fn openssl_pkcs12(key: &str) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
        let run = |args: &[&str]| {
            let output = std::process::Command::new("openssl")
                .args(args)
                .output()
                .unwrap_or_else(|e| panic!("the openssl command is needed here: {e}"));
            assert!(output.status.success(), "openssl {args:?}: {output:?}");
        };
        let newkey = if key == "ec" { "ec" } else { "rsa:2048" };
        let mut req = vec!["req", "-x509", "-newkey", newkey];
        if key == "ec" {
            req.extend(["-pkeyopt", "ec_paramgen_curve:P-256"]);
        }
        let (key_file, cert_file, p12_file) = (path("rp.key"), path("rp.pem"), path("rp.p12"));
        req.extend([
            "-nodes",
            "-keyout",
            &key_file,
            "-out",
            &cert_file,
            "-days",
            "2",
            "-subj",
            "/CN=Test RP",
        ]);
        run(&req);
        let mut export = vec!["pkcs12", "-export"];
        if key == "rsa" {
            export.push("-legacy");
        }
        export.extend([
            "-in",
            &cert_file,
            "-inkey",
            &key_file,
            "-passout",
            "pass:qwerty123",
            "-out",
            &p12_file,
        ]);
        run(&export);
        std::fs::read(&p12_file).unwrap()
    }

    #[test]
    fn reads_pkcs12_written_by_openssl_modern_and_legacy() {
        for (name, file) in [
            ("aes-ec", openssl_pkcs12("ec")),
            ("legacy-rsa", openssl_pkcs12("rsa")),
        ] {
            let identity = RpIdentity::from_pkcs12(&file, "qwerty123")
                .unwrap_or_else(|error| panic!("{name}: {error}"));
            assert_eq!(identity.certificate_chain().len(), 1, "{name}");
            let ca = ServerCa::from_der(identity.certificate_chain()[0].to_vec());
            client_tls_config(&identity, &ca).unwrap_or_else(|error| panic!("{name}: {error}"));
        }
    }

    #[test]
    fn wrong_pkcs12_password_is_a_config_error() {
        let result = RpIdentity::from_pkcs12(&openssl_pkcs12("ec"), "wrong");
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
