//! The simulator's test PKI, generated at start and never written to disk: a "BankID SSL Root
//! CA" that issues the server certificate, and an RP CA that issues the one client identity
//! the server accepts. Generated fresh each run, so it cannot expire unnoticed.

use std::net::IpAddr;

use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, PrivateKeyChain};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};

use super::SimulatorError;

/// How long the generated certificates are valid (from an hour ago, against clock skew).
pub const CERTIFICATE_VALIDITY: Duration = Duration::days(90);

/// The password of [`super::Simulator::rp_pkcs12`], as on BankID's own test RP file.
pub const RP_PKCS12_PASSWORD: &str = "qwerty123";

pub(crate) struct TestPki {
    pub server_ca_pem: String,
    pub server_ca_der: Vec<u8>,
    pub server_chain: Vec<CertificateDer<'static>>,
    pub server_key: PrivateKeyDer<'static>,
    pub rp_ca_pem: String,
    pub rp_ca_der: Vec<u8>,
    pub rp_cert_der: Vec<u8>,
    pub rp_cert_pem: String,
    pub rp_key_pem: String,
    pub rp_pkcs12: Vec<u8>,
}

pub(crate) fn generate(server_ips: &[IpAddr]) -> Result<TestPki, SimulatorError> {
    let now = OffsetDateTime::now_utc();

    let server_ca_key = KeyPair::generate()?;
    let server_ca = ca_params(
        "Test BankID SSL Root CA v1 Test (Legitimera simulator)",
        now,
    )
    .self_signed(&server_ca_key)?;

    let mut server_params = CertificateParams::new(vec!["localhost".to_owned()])?;
    server_params
        .subject_alt_names
        .extend(server_ips.iter().map(|ip| SanType::IpAddress(*ip)));
    server_params.distinguished_name = name("appapi2.test.bankid.com (Legitimera simulator)");
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf_validity(&mut server_params, now);
    let server_key = KeyPair::generate()?;
    let server_cert = server_params.signed_by(&server_key, &server_ca, &server_ca_key)?;

    let rp_ca_key = KeyPair::generate()?;
    let rp_ca = ca_params("Test BankID RP CA v1 Test (Legitimera simulator)", now)
        .self_signed(&rp_ca_key)?;
    let mut rp_params = CertificateParams::new(Vec::new())?;
    rp_params.distinguished_name = name("Legitimera test RP");
    rp_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    leaf_validity(&mut rp_params, now);
    let rp_key = KeyPair::generate()?;
    let rp_cert = rp_params.signed_by(&rp_key, &rp_ca, &rp_ca_key)?;

    let mut store = KeyStore::new();
    store.add_entry(
        "rp",
        KeyStoreEntry::PrivateKeyChain(PrivateKeyChain::new(
            rp_key.serialize_der(),
            b"legitimera-simulator-rp",
            [
                Certificate::from_der(rp_cert.der())?,
                Certificate::from_der(rp_ca.der())?,
            ],
        )),
    );
    let rp_pkcs12 = store.writer(RP_PKCS12_PASSWORD).write()?;

    Ok(TestPki {
        server_ca_pem: server_ca.pem(),
        server_ca_der: server_ca.der().to_vec(),
        server_chain: vec![server_cert.der().clone(), server_ca.der().clone()],
        server_key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
        rp_ca_pem: rp_ca.pem(),
        rp_ca_der: rp_ca.der().to_vec(),
        rp_cert_der: rp_cert.der().to_vec(),
        rp_cert_pem: rp_cert.pem(),
        rp_key_pem: rp_key.serialize_pem(),
        rp_pkcs12,
    })
}

fn name(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    name.push(DnType::OrganizationName, "Legitimera test PKI");
    name
}

fn ca_params(common_name: &str, now: OffsetDateTime) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = name(common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = now - Duration::hours(1);
    params.not_after = now + CERTIFICATE_VALIDITY;
    params
}

fn leaf_validity(params: &mut CertificateParams, now: OffsetDateTime) {
    params.not_before = now - Duration::hours(1);
    params.not_after = now + CERTIFICATE_VALIDITY;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
}
