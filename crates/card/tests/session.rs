//! `CardSession` against the virtual card in process (`Loopback`): PIV and PKCS#15 detection,
//! certificate reading, PIN status and VERIFY, and signatures checked against the certificate's
//! key. No pcscd needed (tests/pcscd has the same card over real PC/SC).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::sync::{Arc, OnceLock};

use legitimera_card::apdu::{Command, Response};
use legitimera_card::{
    signature, CardKind, CardSession, Error, KeyRole, Pin, PinStatus, Result, SignatureAlgorithm,
    Transport,
};
use legitimera_vcard::{CardKeys, CertificateTimes, Config, Identity, Loopback};
use p256::ecdsa::signature::Verifier;

fn p256_identity() -> Arc<Identity> {
    static IDENTITY: OnceLock<Arc<Identity>> = OnceLock::new();
    IDENTITY
        .get_or_init(|| {
            Arc::new(
                Identity::generate(CardKeys::generate_p256(), CertificateTimes::Valid).unwrap(),
            )
        })
        .clone()
}

fn rsa_identity() -> Arc<Identity> {
    static IDENTITY: OnceLock<Arc<Identity>> = OnceLock::new();
    IDENTITY
        .get_or_init(|| {
            Arc::new(
                Identity::generate(
                    CardKeys::generate_rsa2048().unwrap(),
                    CertificateTimes::Valid,
                )
                .unwrap(),
            )
        })
        .clone()
}

fn card(kind: CardKind, identity: Arc<Identity>, compress: bool) -> CardSession<Loopback> {
    let config = Config {
        kind,
        compress_certificates: compress,
        ..Config::default()
    };
    CardSession::open(Loopback::new(config, identity).unwrap()).unwrap()
}

fn verify_p256(certificate: &[u8], challenge: &[u8], der_signature: &[u8]) {
    use x509_parser::prelude::FromDer;
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(certificate).unwrap();
    let key =
        p256::ecdsa::VerifyingKey::from_sec1_bytes(&cert.public_key().subject_public_key.data)
            .unwrap();
    let signature = p256::ecdsa::Signature::from_der(der_signature).unwrap();
    key.verify(challenge, &signature).unwrap();
}

fn verify_rsa(certificate: &[u8], challenge: &[u8], signature: &[u8]) {
    use rsa::pkcs8::DecodePublicKey;
    use x509_parser::prelude::FromDer;
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(certificate).unwrap();
    let key = rsa::RsaPublicKey::from_public_key_der(cert.public_key().raw).unwrap();
    key.verify(
        rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
        &signature::sha256(challenge),
        signature,
    )
    .unwrap();
}

#[test]
fn piv_certificates_plain_and_compressed() {
    let identity = p256_identity();
    for compress in [false, true] {
        let mut session = card(CardKind::Piv, identity.clone(), compress);
        assert_eq!(session.kind(), CardKind::Piv);
        let certificates = session.certificates().unwrap();
        assert_eq!(certificates.len(), 2);
        assert_eq!(certificates[0].role, KeyRole::Authentication);
        assert_eq!(certificates[0].der, identity.certificates.authentication);
        assert_eq!(certificates[1].der, identity.certificates.signing);
    }
}

#[test]
fn long_certificate_arrives_through_get_response() {
    // An RSA-2048 certificate is longer than 256 bytes: the card answers 61xx.
    let identity = rsa_identity();
    let mut session = card(CardKind::Piv, identity.clone(), false);
    let before = session.apdu_count();
    let der = session.certificate(KeyRole::Authentication).unwrap();
    assert_eq!(der, identity.certificates.authentication);
    assert!(der.len() > 512);
    assert_eq!(
        session.apdu_count() - before,
        (der.len() as u32 + 12) / 256 + 1
    );
}

#[test]
fn pkcs15_certificates_by_key_usage() {
    let identity = p256_identity();
    let mut session = card(CardKind::Pkcs15, identity.clone(), false);
    assert_eq!(session.kind(), CardKind::Pkcs15);
    assert_eq!(
        session.certificate(KeyRole::Signing).unwrap(),
        identity.certificates.signing
    );
    assert_eq!(
        session.certificate(KeyRole::Authentication).unwrap(),
        identity.certificates.authentication
    );
}

#[test]
fn pkcs15_authentication_certificate_takes_no_extra_apdus() {
    // Showing a PKCS#15 card read EF.DIR and the signing certificate too: 17 APDUs for 11.
    let identity = p256_identity();
    let mut session = card(CardKind::Pkcs15, identity.clone(), false);
    let der = session.certificate(KeyRole::Authentication).unwrap();
    assert_eq!(der, identity.certificates.authentication);
    let reads = der.len().div_ceil(256) as u32;
    // SELECT PIV (absent), SELECT PKCS#15, ODF and CDF (SELECT + READ each), the file.
    assert_eq!(session.apdu_count(), 1 + 1 + 2 + 2 + 1 + reads);
    let before = session.apdu_count();
    assert_eq!(
        session.certificate(KeyRole::Signing).unwrap(),
        identity.certificates.signing
    );
    assert!(session.apdu_count() > before, "read only when asked for");
    let before = session.apdu_count();
    assert_eq!(session.certificates().unwrap().len(), 2);
    assert_eq!(session.apdu_count(), before, "both are cached now");
}

/// Answers `6C` + the right length to the first command, then passes on to the card;
/// keeps what it was sent.
struct WrongLeOnce {
    card: Loopback,
    sent: Vec<Vec<u8>>,
}

impl Transport for WrongLeOnce {
    fn transmit(&mut self, command: &Command) -> Result<Response> {
        self.sent.push(command.as_bytes().to_vec());
        let answer = self.card.transmit(command)?;
        if self.sent.len() == 1 {
            return Ok(Response {
                data: Vec::new(),
                sw: 0x6C00 | answer.data.len().min(255) as u16,
            });
        }
        Ok(answer)
    }
}

#[test]
fn wrong_le_is_answered_with_the_same_command_and_its_data() {
    // A 6Cxx retry dropped the command's data: a SELECT went out with no AID at all.
    let config = Config::default();
    let transport = WrongLeOnce {
        card: Loopback::new(config, p256_identity()).unwrap(),
        sent: Vec::new(),
    };
    let session = CardSession::open(transport).unwrap();
    assert_eq!(session.kind(), CardKind::Piv);
    let sent = session.into_transport().sent;
    let (first, retry) = (&sent[0], &sent[1]);
    assert_eq!(first[..first.len() - 1], retry[..retry.len() - 1]);
    assert_ne!(retry.last(), Some(&0));
}

#[test]
fn pin_status_wrong_pin_and_blocked() {
    for kind in [CardKind::Piv, CardKind::Pkcs15] {
        let mut session = card(kind, p256_identity(), false);
        let role = KeyRole::Authentication;
        assert_eq!(
            session.pin_status(role).unwrap(),
            PinStatus::TriesLeft { tries_left: 3 }
        );
        let wrong = Pin::parse("000000").unwrap();
        assert_eq!(
            session.verify(role, &wrong),
            Err(Error::WrongPin { tries_left: 2 })
        );
        assert_eq!(
            session.pin_status(role).unwrap(),
            PinStatus::TriesLeft { tries_left: 2 }
        );
        session
            .verify(role, &Pin::parse("123456").unwrap())
            .unwrap();
        assert_eq!(session.pin_status(role).unwrap(), PinStatus::Verified);
        assert_eq!(
            session.verify(role, &wrong),
            Err(Error::WrongPin { tries_left: 2 })
        );
        assert_eq!(
            session.verify(role, &wrong),
            Err(Error::WrongPin { tries_left: 1 })
        );
        assert!(session.pin_status(role).unwrap().is_last_try());
        assert_eq!(session.verify(role, &wrong), Err(Error::PinBlocked));
        assert_eq!(session.pin_status(role).unwrap(), PinStatus::Blocked);
        assert_eq!(
            session.sign(role, &Pin::parse("123456").unwrap(), b"x"),
            Err(Error::PinBlocked)
        );
    }
}

#[test]
fn sign_p256_on_piv_and_pkcs15() {
    let pin = Pin::parse("123456").unwrap();
    for kind in [CardKind::Piv, CardKind::Pkcs15] {
        let mut session = card(kind, p256_identity(), false);
        let signed = session
            .sign(KeyRole::Authentication, &pin, b"server nonce")
            .unwrap();
        assert_eq!(signed.algorithm, SignatureAlgorithm::EcdsaP256Sha256);
        verify_p256(&signed.certificate, b"server nonce", &signed.signature);
    }
}

#[test]
fn sign_rsa_on_piv_with_chaining_and_pkcs15() {
    let pin = Pin::parse("123456").unwrap();
    for kind in [CardKind::Piv, CardKind::Pkcs15] {
        let mut session = card(kind, rsa_identity(), false);
        let signed = session
            .sign(KeyRole::Signing, &pin, b"server nonce")
            .unwrap();
        assert_eq!(signed.algorithm, SignatureAlgorithm::RsaPkcs1Sha256);
        assert_eq!(signed.signature.len(), 256);
        assert_eq!(signed.certificate, rsa_identity().certificates.signing);
        verify_rsa(&signed.certificate, b"server nonce", &signed.signature);
    }
}

#[test]
fn wrong_pin_never_signs() {
    let mut session = card(CardKind::Piv, p256_identity(), false);
    let result = session.sign(
        KeyRole::Authentication,
        &Pin::parse("999999").unwrap(),
        b"x",
    );
    assert_eq!(result, Err(Error::WrongPin { tries_left: 2 }));
}
