//! The pure part of a SITHS login: is this certificate chain, at this moment, an authentication
//! certificate from an accepted SITHS issuing CA (and policy), is it revoked according to the
//! CRLs given, and did its key sign exactly the login message? Chain building, validity,
//! revocation and signatures are rustls-webpki's (with ring); only Key Usage, the policies, the
//! distribution points and the subject's names are read here, with x509-parser. No I/O, no
//! clock, no logging: fetching CRLs is `revocation`'s.

use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};
use webpki::{
    CertRevocationList, EndEntityCert, KeyUsage, RevocationCheckDepth, RevocationOptionsBuilder,
    UnknownStatusPolicy,
};
use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
use x509_parser::oid_registry::{
    OID_X509_COMMON_NAME, OID_X509_GIVEN_NAME, OID_X509_ORGANIZATION_NAME, OID_X509_SERIALNUMBER,
    OID_X509_SURNAME,
};
use x509_parser::prelude::{FromDer as _, X509Certificate, X509Name};

use legitimera_protocol::{siths_login_message, ErrorCode, SithsAlgorithm, SITHS_CHALLENGE_LEN};

/// At most this many certificates in a chain (leaf + intermediates): SITHS has one
/// intermediate; this leaves room without letting a client make the server build long paths.
pub const MAX_CHAIN: usize = 4;

/// The CA certificates a card's chain must end in: the SITHS root in production, the virtual
/// card's test CA in the demo and tests.
#[derive(Debug, Default)]
pub struct TrustAnchors {
    anchors: Vec<TrustAnchor<'static>>,
    /// The anchors' subject key identifiers, by position (`None`: the certificate has none).
    keys: Vec<Option<Vec<u8>>>,
}

/// Every certificate in every PEM file; a file without one is an error (a wrong path should
/// not silently turn SITHS login, or one of its CAs, off).
fn pem_certificates(
    paths: &[std::path::PathBuf],
    what: &str,
) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let mut ders = Vec::new();
    for path in paths {
        let before = ders.len();
        for certificate in CertificateDer::pem_file_iter(path)
            .map_err(|e| anyhow::anyhow!("{what} {}: {e}", path.display()))?
        {
            ders.push(certificate.map_err(|e| anyhow::anyhow!("{what} {}: {e}", path.display()))?);
        }
        if ders.len() == before {
            anyhow::bail!("{what} {}: no certificate in it", path.display());
        }
    }
    Ok(ders)
}

impl TrustAnchors {
    pub fn from_pem_files(paths: &[std::path::PathBuf]) -> anyhow::Result<Self> {
        Self::from_der(pem_certificates(paths, "SITHS trust anchor")?)
    }

    pub fn from_der(
        certificates: impl IntoIterator<Item = CertificateDer<'static>>,
    ) -> anyhow::Result<Self> {
        let mut trust = TrustAnchors::default();
        for certificate in certificates {
            let anchor = webpki::anchor_from_trusted_cert(&certificate)
                .map_err(|e| anyhow::anyhow!("SITHS trust anchor does not parse: {e}"))?;
            trust.anchors.push(anchor.to_owned());
            trust.keys.push(subject_key_identifier(&certificate));
        }
        Ok(trust)
    }

    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }

    pub fn len(&self) -> usize {
        self.anchors.len()
    }

    /// The subject key identifier of the anchor `anchor` (one of ours, from a verified path).
    fn key_of(&self, anchor: &TrustAnchor<'_>) -> Option<&[u8]> {
        let position = self.anchors.iter().position(|ours| {
            ours.subject.as_ref() == anchor.subject.as_ref()
                && ours.subject_public_key_info.as_ref() == anchor.subject_public_key_info.as_ref()
        })?;
        self.keys.get(position)?.as_deref()
    }
}

/// The subject key identifier extension of a certificate, if it has one.
fn subject_key_identifier(der: &[u8]) -> Option<Vec<u8>> {
    let (_, certificate) = X509Certificate::from_der(der).ok()?;
    certificate
        .extensions()
        .iter()
        .find_map(|extension| match extension.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(key) => Some(key.0.to_vec()),
            _ => None,
        })
}

/// Which certificates under the trust anchors are staff: the issuing CAs that may have issued
/// the card's certificate (by subject key identifier) and, optionally, the certificate policies
/// one of which it must carry. Without issuing CAs, only certificates issued directly by a
/// trust anchor are accepted (configuring the SITHS root alone lets nobody in).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CertificatePolicy {
    /// Subject key identifiers of the accepted issuing CAs.
    pub issuing_cas: Vec<Vec<u8>>,
    /// Dotted OIDs; empty: any policy.
    pub policy_oids: Vec<String>,
}

impl CertificatePolicy {
    /// `issuing_cas` entries are a subject key identifier in hex (colons and spaces allowed) or
    /// the path of a PEM file whose certificates' subject key identifiers are taken.
    pub fn parse(issuing_cas: &[String], policy_oids: &[String]) -> anyhow::Result<Self> {
        let mut keys = Vec::new();
        for entry in issuing_cas {
            match parse_hex(entry) {
                Some(key) => keys.push(key),
                None => {
                    let path = std::path::PathBuf::from(entry);
                    for certificate in pem_certificates(&[path], "SITHS issuing CA")? {
                        keys.push(subject_key_identifier(&certificate).ok_or_else(|| {
                            anyhow::anyhow!(
                                "SITHS issuing CA {entry}: the certificate has no subject key identifier"
                            )
                        })?);
                    }
                }
            }
        }
        for oid in policy_oids {
            let valid = oid.split('.').count() >= 2
                && oid
                    .split('.')
                    .all(|arc| !arc.is_empty() && arc.bytes().all(|b| b.is_ascii_digit()));
            if !valid {
                anyhow::bail!("SITHS policy OID {oid:?} is not a dotted OID");
            }
        }
        Ok(CertificatePolicy {
            issuing_cas: keys,
            policy_oids: policy_oids.to_vec(),
        })
    }
}

/// `4A:6F:…`, `4a6f…` or `4a 6f …` as bytes; `None` when it is not hex (then it is a file).
fn parse_hex(text: &str) -> Option<Vec<u8>> {
    let digits: String = text.chars().filter(|c| !matches!(c, ':' | ' ')).collect();
    if digits.len() < 8 || digits.len() % 2 != 0 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).ok())
        .collect()
}

/// Why a certificate or a signed challenge was refused. Carries nothing from the certificate:
/// it is logged.
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
    #[error("the signature does not match the login message and the certificate")]
    BadSignature,
    #[error("a certificate in the chain is revoked")]
    Revoked,
    #[error("no fresh revocation answer ({0})")]
    RevocationUnavailable(String),
}

impl Rejection {
    pub fn code(&self) -> ErrorCode {
        match self {
            Rejection::Untrusted(_) => ErrorCode::SithsUntrustedCertificate,
            Rejection::Expired => ErrorCode::SithsCertificateExpired,
            Rejection::NotYetValid => ErrorCode::SithsCertificateNotYetValid,
            Rejection::WrongKeyUsage(_) => ErrorCode::SithsWrongKeyUsage,
            Rejection::BadSignature => ErrorCode::SithsBadSignature,
            Rejection::Revoked => ErrorCode::SithsCertificateRevoked,
            Rejection::RevocationUnavailable(_) => ErrorCode::SithsRevocationUnavailable,
        }
    }
}

impl From<Rejection> for crate::error::ApiError {
    fn from(rejection: Rejection) -> Self {
        crate::error::ApiError::SithsRefused {
            code: rejection.code(),
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

/// A chain that passed [`check_chain`]: who it names, and what revocation checking needs.
#[derive(Debug, Clone)]
pub struct CheckedChain {
    pub staff: Staff,
    /// The certificates of the verified path below the trust anchor, leaf first, each with the
    /// HTTP URLs of its CRL distribution points and its issuer's name (DER).
    pub revocable: Vec<Revocable>,
}

/// One certificate whose revocation must be checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocable {
    pub distribution_points: Vec<String>,
    pub issuer: Vec<u8>,
}

/// Accepts `chain` (leaf first) when, in this order: it leads to one of `anchors` for client
/// authentication at `now` (validity of every certificate, CA constraints, an Extended Key
/// Usage if present must allow client auth); the leaf's issuer is one of `policy`'s issuing
/// CAs and the leaf carries one of its policies; the leaf's Key Usage has digitalSignature and
/// not nonRepudiation (the authentication certificate, not the signing one); the subject has an
/// HSA-id. Revocation is [`check_revocation`]'s.
pub fn check_chain(
    anchors: &TrustAnchors,
    policy: &CertificatePolicy,
    chain: &[Vec<u8>],
    now: UnixTime,
) -> Result<CheckedChain, Rejection> {
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
    let path = end_entity
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
    let mut path_ders: Vec<Vec<u8>> = vec![leaf.clone()];
    path_ders.extend(
        path.intermediate_certificates()
            .map(|certificate| certificate.der().to_vec()),
    );
    let issuer_key = match path_ders.get(1) {
        Some(issuer) => subject_key_identifier(issuer),
        None => anchors.key_of(path.anchor()).map(<[u8]>::to_vec),
    };

    let (_, certificate) = X509Certificate::from_der(leaf)
        .map_err(|_| Rejection::Untrusted("the leaf does not parse".into()))?;
    let issued_by_accepted_ca = if policy.issuing_cas.is_empty() {
        path_ders.len() == 1
    } else {
        issuer_key.is_some_and(|key| policy.issuing_cas.contains(&key))
    };
    if !issued_by_accepted_ca {
        return Err(Rejection::Untrusted(
            "not from an accepted issuing CA".into(),
        ));
    }
    if !policy.policy_oids.is_empty() && !carries_policy(&certificate, &policy.policy_oids) {
        return Err(Rejection::Untrusted(
            "no accepted certificate policy".into(),
        ));
    }
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
    let staff = staff_of(&certificate)?;
    let mut revocable = Vec::with_capacity(path_ders.len());
    for der in &path_ders {
        let (_, parsed) = X509Certificate::from_der(der)
            .map_err(|_| Rejection::Untrusted("a certificate does not parse".into()))?;
        revocable.push(Revocable {
            distribution_points: distribution_points(&parsed),
            issuer: parsed.issuer().as_raw().to_vec(),
        });
    }
    Ok(CheckedChain { staff, revocable })
}

/// Whether the certificate names one of `oids` in its certificate policies.
fn carries_policy(certificate: &X509Certificate<'_>, oids: &[String]) -> bool {
    certificate
        .extensions()
        .iter()
        .any(|extension| match extension.parsed_extension() {
            ParsedExtension::CertificatePolicies(policies) => policies.iter().any(|policy| {
                oids.iter()
                    .any(|oid| policy.policy_id.to_id_string() == *oid)
            }),
            _ => false,
        })
}

/// The http(s) URLs of a certificate's CRL distribution points (LDAP ones are skipped: the
/// server fetches over HTTP only).
fn distribution_points(certificate: &X509Certificate<'_>) -> Vec<String> {
    let mut urls = Vec::new();
    for extension in certificate.extensions() {
        let ParsedExtension::CRLDistributionPoints(points) = extension.parsed_extension() else {
            continue;
        };
        for point in points.iter() {
            let Some(DistributionPointName::FullName(names)) = &point.distribution_point else {
                continue;
            };
            for name in names {
                if let GeneralName::URI(uri) = name {
                    if uri.starts_with("http://") || uri.starts_with("https://") {
                        urls.push((*uri).to_owned());
                    }
                }
            }
        }
    }
    urls
}

/// Checks every certificate of `chain` below the trust anchor against `crls` (which the caller
/// fetched for [`CheckedChain::revocable`]): a certificate on its issuer's CRL is `Revoked`; one
/// without an authoritative CRL, or whose CRL is past its nextUpdate or badly signed, has no
/// fresh answer (`RevocationUnavailable`). The CRLs' signatures are checked here, by webpki,
/// against the issuer's key on the verified path.
pub fn check_revocation(
    anchors: &TrustAnchors,
    chain: &[Vec<u8>],
    crls: &[&CertRevocationList<'_>],
    now: UnixTime,
) -> Result<(), Rejection> {
    let (leaf, intermediates) = chain
        .split_first()
        .ok_or_else(|| Rejection::Untrusted("no certificate".into()))?;
    let leaf_der = CertificateDer::from(leaf.as_slice());
    let intermediates: Vec<CertificateDer<'_>> = intermediates
        .iter()
        .map(|der| CertificateDer::from(der.as_slice()))
        .collect();
    let end_entity = EndEntityCert::try_from(&leaf_der).map_err(chain_rejection)?;
    let Ok(builder) = RevocationOptionsBuilder::new(crls) else {
        return Err(Rejection::RevocationUnavailable("no CRL".into()));
    };
    let options = builder
        .with_depth(RevocationCheckDepth::Chain)
        .with_status_policy(UnknownStatusPolicy::Deny)
        .with_expiration_policy(webpki::ExpirationPolicy::Enforce)
        .build();
    end_entity
        .verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &anchors.anchors,
            &intermediates,
            now,
            KeyUsage::client_auth(),
            Some(options),
            None,
        )
        .map(drop)
        .map_err(|error| match error {
            webpki::Error::CertRevoked => Rejection::Revoked,
            webpki::Error::UnknownRevocationStatus => {
                Rejection::RevocationUnavailable("no CRL from the certificate's issuer".into())
            }
            webpki::Error::CrlExpired { .. } => {
                Rejection::RevocationUnavailable("the CRL is past its nextUpdate".into())
            }
            other => Rejection::RevocationUnavailable(format!("{other:?}")),
        })
}

/// Accepts `signature` over the login message for `origin` and `challenge`
/// ([`siths_login_message`]) with the key of `leaf` (a certificate [`check_chain`] accepted).
pub fn check_signature(
    leaf: &[u8],
    algorithm: SithsAlgorithm,
    origin: &str,
    challenge: &[u8; SITHS_CHALLENGE_LEN],
    signature: &[u8],
) -> Result<(), Rejection> {
    let leaf_der = CertificateDer::from(leaf);
    let end_entity = EndEntityCert::try_from(&leaf_der).map_err(chain_rejection)?;
    let signature_algorithm = match algorithm {
        SithsAlgorithm::RsaPkcs1Sha256 => webpki::ring::RSA_PKCS1_2048_8192_SHA256,
        SithsAlgorithm::EcdsaP256Sha256 => webpki::ring::ECDSA_P256_SHA256,
    };
    end_entity
        .verify_signature(
            signature_algorithm,
            &siths_login_message(origin, challenge),
            signature,
        )
        .map_err(|_| Rejection::BadSignature)
}

/// [`check_chain`] then [`check_signature`]: everything but revocation, for the fuzzer and
/// the unit tests.
#[allow(clippy::too_many_arguments)]
pub fn verify(
    anchors: &TrustAnchors,
    policy: &CertificatePolicy,
    chain: &[Vec<u8>],
    algorithm: SithsAlgorithm,
    origin: &str,
    challenge: &[u8; SITHS_CHALLENGE_LEN],
    signature: &[u8],
    now: UnixTime,
) -> Result<Staff, Rejection> {
    let checked = check_chain(anchors, policy, chain, now)?;
    let leaf = chain
        .first()
        .ok_or_else(|| Rejection::Untrusted("no certificate".into()))?;
    check_signature(leaf, algorithm, origin, challenge, signature)?;
    Ok(checked.staff)
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

    const ORIGIN: &str = "http://127.0.0.1:8787";

    /// A policy accepting every CA of `chain` and `anchors` as an issuing CA.
    fn accepting_all(anchors: &TrustAnchors, chain: &[Vec<u8>]) -> CertificatePolicy {
        let mut issuing_cas: Vec<Vec<u8>> = chain
            .iter()
            .skip(1)
            .filter_map(|der| subject_key_identifier(der))
            .collect();
        issuing_cas.extend(anchors.keys.iter().flatten().cloned());
        CertificatePolicy {
            issuing_cas,
            policy_oids: Vec::new(),
        }
    }

    fn check(anchors: &TrustAnchors, chain: &[Vec<u8>], key: &KeyPair) -> Result<Staff, Rejection> {
        let challenge = [7u8; 32];
        verify(
            anchors,
            &accepting_all(anchors, chain),
            chain,
            SithsAlgorithm::EcdsaP256Sha256,
            ORIGIN,
            &challenge,
            &sign(key, &siths_login_message(ORIGIN, &challenge)),
            UnixTime::now(),
        )
    }

    #[test]
    fn only_the_login_message_for_this_origin_verifies() {
        let (root, issuing) = root_and_issuing();
        let (leaf, key) = leaf(&issuing, |_| {});
        let chain = [leaf, issuing.certificate.der().to_vec()];
        let challenge = [9u8; 32];
        let with = |signed: &[u8]| {
            verify(
                &anchors(&root),
                &accepting_all(&anchors(&root), &chain),
                &chain,
                SithsAlgorithm::EcdsaP256Sha256,
                ORIGIN,
                &challenge,
                &sign(&key, signed),
                UnixTime::now(),
            )
        };
        assert!(with(&siths_login_message(ORIGIN, &challenge)).is_ok());
        // The bare challenge: what the card signed before the message had a context.
        assert_eq!(with(&challenge), Err(Rejection::BadSignature));
        // Another backend's origin: a signature a hostile backend relays.
        assert_eq!(
            with(&siths_login_message("http://127.0.0.1:8788", &challenge)),
            Err(Rejection::BadSignature)
        );
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
        let signature = sign(&key, &siths_login_message(ORIGIN, &challenge));
        let at = |offset: time::Duration| {
            let seconds = (now + offset).unix_timestamp().unsigned_abs();
            verify(
                &anchors(&root),
                &accepting_all(&anchors(&root), &chain),
                &chain,
                SithsAlgorithm::EcdsaP256Sha256,
                ORIGIN,
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

    fn ski(ca: &Ca) -> Vec<u8> {
        subject_key_identifier(ca.certificate.der()).unwrap()
    }

    #[test]
    fn only_the_configured_issuing_cas_make_staff() {
        // A function-certificate CA under the same root: trusted by the root, not staff.
        let (root, person) = root_and_issuing();
        let function_key = KeyPair::generate().unwrap();
        let function = Ca {
            certificate: ca_params("SITHS e-id Function CA v1 TEST")
                .signed_by(&function_key, &root.certificate, &root.key)
                .unwrap(),
            key: function_key,
        };
        let only_person = CertificatePolicy {
            issuing_cas: vec![ski(&person)],
            policy_oids: Vec::new(),
        };
        let (person_leaf, _) = leaf(&person, |_| {});
        let (function_leaf, _) = leaf(&function, |_| {});
        let from = |leaf: &Vec<u8>, ca: &Ca, policy: &CertificatePolicy| {
            check_chain(
                &anchors(&root),
                policy,
                &[leaf.clone(), ca.certificate.der().to_vec()],
                UnixTime::now(),
            )
            .map(|checked| checked.staff.hsa_id)
        };
        assert_eq!(from(&person_leaf, &person, &only_person).unwrap(), HSA_ID);
        assert!(matches!(
            from(&function_leaf, &function, &only_person),
            Err(Rejection::Untrusted(_))
        ));
        // Without issuing CAs, only what an anchor issued itself: the root alone lets nobody in.
        assert!(matches!(
            from(&person_leaf, &person, &CertificatePolicy::default()),
            Err(Rejection::Untrusted(_))
        ));
        assert!(check_chain(
            &anchors(&person),
            &CertificatePolicy::default(),
            &[person_leaf],
            UnixTime::now()
        )
        .is_ok());
    }

    #[test]
    fn a_required_policy_must_be_in_the_certificate() {
        let (root, issuing) = root_and_issuing();
        // certificatePolicies { policyIdentifier 1.2.3.4.5 }
        let policies = rcgen::CustomExtension::from_oid_content(
            &[2, 5, 29, 32],
            vec![0x30, 0x08, 0x30, 0x06, 0x06, 0x04, 0x2A, 0x03, 0x04, 0x05],
        );
        let (with_policy, _) = leaf(&issuing, |params| {
            params.custom_extensions = vec![policies];
        });
        let (without, _) = leaf(&issuing, |_| {});
        let policy = |oid: &str| CertificatePolicy {
            issuing_cas: vec![ski(&issuing)],
            policy_oids: vec![oid.to_owned()],
        };
        let checked = |leaf: &Vec<u8>, policy: &CertificatePolicy| {
            check_chain(
                &anchors(&root),
                policy,
                &[leaf.clone(), issuing.certificate.der().to_vec()],
                UnixTime::now(),
            )
        };
        assert!(checked(&with_policy, &policy("1.2.3.4.5")).is_ok());
        assert!(matches!(
            checked(&with_policy, &policy("1.2.3.4.6")),
            Err(Rejection::Untrusted(_))
        ));
        assert!(matches!(
            checked(&without, &policy("1.2.3.4.5")),
            Err(Rejection::Untrusted(_))
        ));
    }

    #[test]
    fn issuing_cas_are_read_as_hex_or_from_a_file() {
        let (_, issuing) = root_and_issuing();
        let hex: Vec<String> = ski(&issuing).iter().map(|b| format!("{b:02X}")).collect();
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut file, issuing.certificate.pem().as_bytes()).unwrap();
        let policy = CertificatePolicy::parse(
            &[hex.join(":"), file.path().display().to_string()],
            &["1.2.752.129.2.1.2.1".into()],
        )
        .unwrap();
        assert_eq!(policy.issuing_cas, vec![ski(&issuing), ski(&issuing)]);
        assert!(CertificatePolicy::parse(&["/no/such/ca.pem".into()], &[]).is_err());
        assert!(CertificatePolicy::parse(&[], &["not an oid".into()]).is_err());
    }

    /// A CRL from `ca` listing `serials`, from `this_update` to `next_update` (offsets from now).
    fn crl_of(
        ca: &Ca,
        serials: &[&[u8]],
        this_update: time::Duration,
        next_update: time::Duration,
    ) -> Vec<u8> {
        let now = time::OffsetDateTime::now_utc();
        rcgen::CertificateRevocationListParams {
            this_update: now + this_update,
            next_update: now + next_update,
            crl_number: rcgen::SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: serials
                .iter()
                .map(|serial| rcgen::RevokedCertParams {
                    serial_number: rcgen::SerialNumber::from_slice(serial),
                    revocation_time: now,
                    reason_code: None,
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        }
        .signed_by(&ca.certificate, &ca.key)
        .unwrap()
        .der()
        .to_vec()
    }

    #[test]
    fn revocation_is_judged_for_every_certificate_below_the_anchor() {
        let (root, issuing) = root_and_issuing();
        let serial = [0x11u8; 8];
        let (leaf, _) = leaf(&issuing, |params| {
            params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
        });
        let chain = [leaf, issuing.certificate.der().to_vec()];
        let hour = time::Duration::hours(1);
        let parse = |der: &Vec<u8>| {
            CertRevocationList::from(webpki::OwnedCertRevocationList::from_der(der).unwrap())
        };
        let verdict = |crls: &[&Vec<u8>]| {
            let parsed: Vec<CertRevocationList<'_>> = crls.iter().map(|der| parse(der)).collect();
            let refs: Vec<&CertRevocationList<'_>> = parsed.iter().collect();
            check_revocation(&anchors(&root), &chain, &refs, UnixTime::now())
        };
        let root_crl = crl_of(&root, &[], -hour, hour);
        let issuing_crl = crl_of(&issuing, &[], -hour, hour);
        assert_eq!(verdict(&[&issuing_crl, &root_crl]), Ok(()));
        let revoking = crl_of(&issuing, &[&serial], -hour, hour);
        assert_eq!(verdict(&[&revoking, &root_crl]), Err(Rejection::Revoked));
        // The issuing CA itself revoked by the root: the leaf falls with it.
        let (_, issuing_serial) = {
            let (_, parsed) = X509Certificate::from_der(issuing.certificate.der()).unwrap();
            ((), parsed.raw_serial().to_vec())
        };
        let revoking_issuer = crl_of(&root, &[&issuing_serial], -hour, hour);
        assert_eq!(
            verdict(&[&issuing_crl, &revoking_issuer]),
            Err(Rejection::Revoked)
        );
        // No list for the issuing CA, a stale one, one signed by another key: no answer.
        assert!(matches!(
            verdict(&[&issuing_crl]),
            Err(Rejection::RevocationUnavailable(_))
        ));
        let stale = crl_of(&issuing, &[], -2 * hour, -hour);
        assert!(matches!(
            verdict(&[&stale, &root_crl]),
            Err(Rejection::RevocationUnavailable(_))
        ));
        // Same name as the issuing CA, another key.
        let impostor_key = KeyPair::generate().unwrap();
        let impostor = Ca {
            certificate: ca_params("SITHS e-id Person HSA-id 3 CA v1 TEST")
                .self_signed(&impostor_key)
                .unwrap(),
            key: impostor_key,
        };
        let forged = crl_of(&impostor, &[], -hour, hour);
        assert!(matches!(
            verdict(&[&forged, &root_crl]),
            Err(Rejection::RevocationUnavailable(_))
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
            &CertificatePolicy::default(),
            &[],
            SithsAlgorithm::EcdsaP256Sha256,
            ORIGIN,
            &[0; 32],
            b"signature",
            UnixTime::now(),
        );
        assert!(matches!(verdict, Err(Rejection::Untrusted(_))));
    }
}
