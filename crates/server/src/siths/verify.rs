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

use legitimera_protocol::SithsAlgorithm;

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
