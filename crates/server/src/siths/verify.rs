//! The pure part of a SITHS login: is this certificate chain, at this moment, an authentication
//! certificate from a trusted SITHS issuer, and did its key sign exactly this challenge? Chain
//! building, validity and signatures are rustls-webpki's (with ring); only Key Usage and the
//! subject's names are read here, with x509-parser. No I/O, no clock, no logging.

use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};
use webpki::{EndEntityCert, KeyUsage};
use x509_parser::oid_registry::{
    OID_X509_COMMON_NAME, OID_X509_GIVEN_NAME, OID_X509_ORGANIZATION_NAME, OID_X509_SERIALNUMBER,
    OID_X509_SURNAME,
};
use x509_parser::prelude::{FromDer as _, X509Certificate, X509Name};

use legitimera_protocol::{ErrorCode, SithsAlgorithm};

/// At most this many certificates in a chain (leaf + intermediates): SITHS has one
/// intermediate; this leaves room without letting a client make the server build long paths.
pub const MAX_CHAIN: usize = 4;

/// The CA certificates a card's chain must end in: the SITHS CAs in production, the virtual
/// card's test CA in the demo and tests.
#[derive(Debug, Default)]
pub struct TrustAnchors {
    anchors: Vec<TrustAnchor<'static>>,
}

impl TrustAnchors {
    /// Every certificate in every PEM file; a file without one is an error (a wrong path should
    /// not silently turn SITHS login off).
    pub fn from_pem_files(paths: &[std::path::PathBuf]) -> anyhow::Result<Self> {
        let mut ders = Vec::new();
        for path in paths {
            let before = ders.len();
            for certificate in CertificateDer::pem_file_iter(path)
                .map_err(|e| anyhow::anyhow!("SITHS trust anchor {}: {e}", path.display()))?
            {
                ders.push(
                    certificate.map_err(|e| {
                        anyhow::anyhow!("SITHS trust anchor {}: {e}", path.display())
                    })?,
                );
            }
            if ders.len() == before {
                anyhow::bail!(
                    "SITHS trust anchor {}: no certificate in it",
                    path.display()
                );
            }
        }
        Self::from_der(ders)
    }

    pub fn from_der(
        certificates: impl IntoIterator<Item = CertificateDer<'static>>,
    ) -> anyhow::Result<Self> {
        let mut anchors = Vec::new();
        for certificate in certificates {
            let anchor = webpki::anchor_from_trusted_cert(&certificate)
                .map_err(|e| anyhow::anyhow!("SITHS trust anchor does not parse: {e}"))?;
            anchors.push(anchor.to_owned());
        }
        Ok(TrustAnchors { anchors })
    }

    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }

    pub fn len(&self) -> usize {
        self.anchors.len()
    }
}

/// Why a signed challenge was refused. Carries nothing from the certificate: it is logged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("the certificate chain is malformed or does not lead to a trusted SITHS CA ({0})")]
    Untrusted(String),
    #[error("a certificate in the chain has expired")]
    Expired,
    #[error("a certificate in the chain is not valid yet")]
    NotYetValid,
    #[error("not an authentication certificate ({0})")]
    WrongKeyUsage(&'static str),
    #[error("the signature does not match the challenge and the certificate")]
    BadSignature,
}

impl From<Rejection> for crate::error::ApiError {
    fn from(rejection: Rejection) -> Self {
        let code = match &rejection {
            Rejection::Untrusted(_) => ErrorCode::SithsUntrustedCertificate,
            Rejection::Expired => ErrorCode::SithsCertificateExpired,
            Rejection::NotYetValid => ErrorCode::SithsCertificateNotYetValid,
            Rejection::WrongKeyUsage(_) => ErrorCode::SithsWrongKeyUsage,
            Rejection::BadSignature => ErrorCode::SithsBadSignature,
        };
        crate::error::ApiError::SithsRefused {
            code,
            reason: rejection.to_string(),
        }
    }
}

/// The staff member an accepted certificate names. `Debug` leaves the personal data out.
#[derive(Clone, PartialEq, Eq)]
pub struct Staff {
    pub name: String,
    pub hsa_id: String,
    pub organisation: Option<String>,
}

impl std::fmt::Debug for Staff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Staff([redacted])")
    }
}

/// Accepts `signature` over `challenge` when, in this order: the chain (leaf first) leads to
/// one of `anchors` for client authentication at `now` (validity of every certificate, CA
/// constraints, an Extended Key Usage if present must allow client auth); the leaf's Key Usage
/// has digitalSignature and not nonRepudiation (the authentication certificate, not the
/// signing one); the signature verifies with the leaf's key; the subject has an HSA-id.
pub fn verify(
    anchors: &TrustAnchors,
    chain: &[Vec<u8>],
    algorithm: SithsAlgorithm,
    challenge: &[u8],
    signature: &[u8],
    now: UnixTime,
) -> Result<Staff, Rejection> {
    let (leaf, intermediates) = chain
        .split_first()
        .ok_or_else(|| Rejection::Untrusted("no certificate".into()))?;
    if chain.len() > MAX_CHAIN {
        return Err(Rejection::Untrusted(format!(
            "more than {MAX_CHAIN} certificates"
        )));
    }
    let leaf_der = CertificateDer::from(leaf.as_slice());
    let intermediates: Vec<CertificateDer<'_>> = intermediates
        .iter()
        .map(|der| CertificateDer::from(der.as_slice()))
        .collect();
    let end_entity = EndEntityCert::try_from(&leaf_der).map_err(chain_rejection)?;
    end_entity
        .verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &anchors.anchors,
            &intermediates,
            now,
            KeyUsage::client_auth(),
            None,
            None,
        )
        .map_err(chain_rejection)?;

    let (_, certificate) = X509Certificate::from_der(leaf)
        .map_err(|_| Rejection::Untrusted("the leaf does not parse".into()))?;
    match certificate.key_usage() {
        Ok(Some(usage)) if usage.value.non_repudiation() => {
            return Err(Rejection::WrongKeyUsage(
                "nonRepudiation: a signing certificate",
            ))
        }
        Ok(Some(usage)) if usage.value.digital_signature() => {}
        Ok(_) => return Err(Rejection::WrongKeyUsage("no digitalSignature")),
        Err(_) => return Err(Rejection::Untrusted("malformed Key Usage".into())),
    }

    let signature_algorithm = match algorithm {
        SithsAlgorithm::RsaPkcs1Sha256 => webpki::ring::RSA_PKCS1_2048_8192_SHA256,
        SithsAlgorithm::EcdsaP256Sha256 => webpki::ring::ECDSA_P256_SHA256,
    };
    end_entity
        .verify_signature(signature_algorithm, challenge, signature)
        .map_err(|_| Rejection::BadSignature)?;

    staff_of(&certificate)
}

/// Maps webpki's verdict to what the user can act on; everything that is not about time or
/// usage means "not from an issuer we trust".
fn chain_rejection(error: webpki::Error) -> Rejection {
    match error {
        webpki::Error::CertExpired { .. } => Rejection::Expired,
        webpki::Error::CertNotValidYet { .. } => Rejection::NotYetValid,
        webpki::Error::RequiredEkuNotFoundContext(_) => {
            Rejection::WrongKeyUsage("Extended Key Usage without client authentication")
        }
        other => Rejection::Untrusted(format!("{other:?}")),
    }
}

fn staff_of(certificate: &X509Certificate<'_>) -> Result<Staff, Rejection> {
    let subject = certificate.subject();
    let hsa_id = first(subject, &OID_X509_SERIALNUMBER)
        .filter(|serial| is_hsa_id(serial))
        .ok_or_else(|| Rejection::Untrusted("no HSA-id in the subject".into()))?;
    let name = match first(subject, &OID_X509_COMMON_NAME) {
        Some(common_name) => common_name,
        None => [
            first(subject, &OID_X509_GIVEN_NAME),
            first(subject, &OID_X509_SURNAME),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" "),
    };
    Ok(Staff {
        name,
        hsa_id,
        organisation: first(subject, &OID_X509_ORGANIZATION_NAME),
    })
}

fn first(name: &X509Name<'_>, oid: &x509_parser::der_parser::Oid<'_>) -> Option<String> {
    name.iter_by_oid(oid)
        .next()
        .and_then(|attribute| attribute.as_str().ok())
        .map(str::to_owned)
}

/// `SE` + the issuing organisation's ten-digit number + `-` + 1–31 letters and digits: the
/// same rule as `legitimera_card::HsaId` (the server does not link the PC/SC crate).
fn is_hsa_id(text: &str) -> bool {
    let Some((organisation, local)) = text.split_once('-') else {
        return false;
    };
    let Some(digits) = organisation.strip_prefix("SE") else {
        return false;
    };
    digits.len() == 10
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (1..=31).contains(&local.len())
        && local.bytes().all(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{
        BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue,
        ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
    };
    use ring::rand::SystemRandom;
    use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};

    const HSA_ID: &str = "SE2321000016-abc1";

    struct Ca {
        key: KeyPair,
        certificate: rcgen::Certificate,
    }

    fn name(common_name: &str) -> DistinguishedName {
        let mut name = DistinguishedName::new();
        name.push(DnType::CountryName, "SE");
        name.push(DnType::CommonName, common_name);
        name
    }

    fn ca_params(common_name: &str) -> CertificateParams {
        let mut params = CertificateParams::default();
        params.distinguished_name = name(common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params
    }

    /// A root, and an issuing CA under it: the SITHS shape.
    fn root_and_issuing() -> (Ca, Ca) {
        let root_key = KeyPair::generate().unwrap();
        let root = ca_params("SITHS Root CA v2 TEST")
            .self_signed(&root_key)
            .unwrap();
        let issuing_key = KeyPair::generate().unwrap();
        let issuing = ca_params("SITHS e-id Person HSA-id 3 CA v1 TEST")
            .signed_by(&issuing_key, &root, &root_key)
            .unwrap();
        (
            Ca {
                key: root_key,
                certificate: root,
            },
            Ca {
                key: issuing_key,
                certificate: issuing,
            },
        )
    }

    /// A staff authentication certificate from `issuer`, changed by `adjust`; its key.
    fn leaf(issuer: &Ca, adjust: impl FnOnce(&mut CertificateParams)) -> (Vec<u8>, KeyPair) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::default();
        let mut subject = name("Anna Testsson");
        subject.push(DnType::OrganizationName, "Region Testland");
        subject.push(
            DnType::CustomDnType(vec![2, 5, 4, 5]),
            DnValue::PrintableString(HSA_ID.try_into().unwrap()),
        );
        params.distinguished_name = subject;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        adjust(&mut params);
        let certificate = params
            .signed_by(&key, &issuer.certificate, &issuer.key)
            .unwrap();
        (certificate.der().to_vec(), key)
    }

    fn sign(key: &KeyPair, challenge: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        let signer =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &key.serialize_der(), &rng)
                .unwrap();
        signer.sign(&rng, challenge).unwrap().as_ref().to_vec()
    }

    fn anchors(ca: &Ca) -> TrustAnchors {
        TrustAnchors::from_der([ca.certificate.der().clone()]).unwrap()
    }

    fn check(anchors: &TrustAnchors, chain: &[Vec<u8>], key: &KeyPair) -> Result<Staff, Rejection> {
        let challenge = [7u8; 32];
        verify(
            anchors,
            chain,
            SithsAlgorithm::EcdsaP256Sha256,
            &challenge,
            &sign(key, &challenge),
            UnixTime::now(),
        )
    }

    #[test]
    fn a_chain_through_the_issuing_ca_is_trusted_from_the_root() {
        let (root, issuing) = root_and_issuing();
        let (leaf, key) = leaf(&issuing, |_| {});
        let chain = [leaf, issuing.certificate.der().to_vec()];
        let staff = check(&anchors(&root), &chain, &key).unwrap();
        assert_eq!(staff.name, "Anna Testsson");
        assert_eq!(staff.hsa_id, HSA_ID);
        assert_eq!(staff.organisation.as_deref(), Some("Region Testland"));
        // Trusting the issuing CA itself works too.
        assert!(check(&anchors(&issuing), &chain[..1], &key).is_ok());
    }

    #[test]
    fn without_the_issuing_ca_the_root_alone_is_not_enough() {
        let (root, issuing) = root_and_issuing();
        let (leaf, key) = leaf(&issuing, |_| {});
        assert!(matches!(
            check(&anchors(&root), &[leaf], &key),
            Err(Rejection::Untrusted(_))
        ));
    }

    #[test]
    fn an_extended_key_usage_without_client_auth_is_the_wrong_usage() {
        let (root, issuing) = root_and_issuing();
        let (leaf, key) = leaf(&issuing, |params| {
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::EmailProtection];
        });
        let chain = [leaf, issuing.certificate.der().to_vec()];
        assert!(matches!(
            check(&anchors(&root), &chain, &key),
            Err(Rejection::WrongKeyUsage(_))
        ));
    }

    #[test]
    fn a_certificate_without_key_usage_or_with_both_bits_is_refused() {
        let (root, issuing) = root_and_issuing();
        for usages in [
            vec![],
            vec![
                KeyUsagePurpose::DigitalSignature,
                KeyUsagePurpose::ContentCommitment,
            ],
        ] {
            let (leaf, key) = leaf(&issuing, |params| params.key_usages = usages);
            let chain = [leaf, issuing.certificate.der().to_vec()];
            assert!(matches!(
                check(&anchors(&root), &chain, &key),
                Err(Rejection::WrongKeyUsage(_))
            ));
        }
    }

    #[test]
    fn a_certificate_without_an_hsa_id_is_not_a_staff_certificate() {
        let (root, issuing) = root_and_issuing();
        let (leaf, key) = leaf(&issuing, |params| {
            params.distinguished_name = name("Anna Testsson");
            params.distinguished_name.push(
                DnType::CustomDnType(vec![2, 5, 4, 5]),
                DnValue::PrintableString("197001011234".try_into().unwrap()),
            );
        });
        let chain = [leaf, issuing.certificate.der().to_vec()];
        assert!(matches!(
            check(&anchors(&root), &chain, &key),
            Err(Rejection::Untrusted(_))
        ));
    }

    #[test]
    fn validity_is_judged_at_the_time_given() {
        let (root, issuing) = root_and_issuing();
        let now = time::OffsetDateTime::now_utc();
        let (leaf, key) = leaf(&issuing, |params| {
            params.not_before = now - time::Duration::days(1);
            params.not_after = now + time::Duration::days(1);
        });
        let chain = [leaf, issuing.certificate.der().to_vec()];
        let challenge = [1u8; 32];
        let signature = sign(&key, &challenge);
        let at = |offset: time::Duration| {
            let seconds = (now + offset).unix_timestamp().unsigned_abs();
            verify(
                &anchors(&root),
                &chain,
                SithsAlgorithm::EcdsaP256Sha256,
                &challenge,
                &signature,
                UnixTime::since_unix_epoch(std::time::Duration::from_secs(seconds)),
            )
        };
        assert!(at(time::Duration::ZERO).is_ok());
        assert_eq!(at(time::Duration::days(2)), Err(Rejection::Expired));
        assert_eq!(at(-time::Duration::days(2)), Err(Rejection::NotYetValid));
    }

    #[test]
    fn more_than_four_certificates_are_refused_before_any_work() {
        let (root, issuing) = root_and_issuing();
        let (leaf, key) = leaf(&issuing, |_| {});
        let issuing = issuing.certificate.der().to_vec();
        let chain = [
            leaf,
            issuing.clone(),
            issuing.clone(),
            issuing.clone(),
            issuing,
        ];
        assert!(matches!(
            check(&anchors(&root), &chain, &key),
            Err(Rejection::Untrusted(_))
        ));
    }

    #[test]
    fn hsa_ids_are_recognised() {
        assert!(is_hsa_id("SE2321000016-abc1"));
        assert!(
            !is_hsa_id("197001011234"),
            "a personnummer is not an HSA-id"
        );
        assert!(!is_hsa_id("SE232100001-abc1"));
        assert!(!is_hsa_id("SE2321000016-"));
        assert!(!is_hsa_id("SE2321000016-a b"));
    }

    #[test]
    fn an_empty_chain_is_untrusted() {
        let verdict = verify(
            &TrustAnchors::default(),
            &[],
            SithsAlgorithm::EcdsaP256Sha256,
            b"challenge",
            b"signature",
            UnixTime::now(),
        );
        assert!(matches!(verdict, Err(Rejection::Untrusted(_))));
    }
}
