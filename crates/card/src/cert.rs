//! Certificate inspection for the UI and early, clear errors: who holds the card, which
//! organisation, which issuer, whether the certificate is valid at a given `now`, and whether
//! it is the authentication or the signing certificate. It decides nothing about trust: the
//! server verifies the chain.

use serde::Serialize;
use time::OffsetDateTime;
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_PKCS1_RSAENCRYPTION, OID_X509_COMMON_NAME,
    OID_X509_GIVEN_NAME, OID_X509_ORGANIZATION_NAME, OID_X509_SERIALNUMBER, OID_X509_SURNAME,
};
use x509_parser::prelude::{FromDer, X509Certificate, X509Name};

use crate::error::{Error, Result};
use crate::piv::KeyRole;

/// Within this many days of expiry the UI warns.
pub const EXPIRY_WARNING_DAYS: i64 = 30;

/// What the certificate is for, by Key Usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyUsage {
    /// digitalSignature without nonRepudiation: logging in.
    Authentication,
    /// nonRepudiation (contentCommitment): signing documents.
    Signing,
    /// Neither, or no Key Usage extension.
    Other,
}

impl KeyUsage {
    pub fn role(self) -> Option<KeyRole> {
        match self {
            KeyUsage::Authentication => Some(KeyRole::Authentication),
            KeyUsage::Signing => Some(KeyRole::Signing),
            KeyUsage::Other => None,
        }
    }
}

/// The certificate's key, which decides how the card signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "type")]
#[non_exhaustive]
pub enum KeyKind {
    Rsa { bits: u32 },
    EcP256,
    Unsupported,
}

/// Validity at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum Validity {
    NotYetValid,
    Valid,
    /// Valid, but expires within [`EXPIRY_WARNING_DAYS`] (0 = today).
    ExpiresSoon {
        days: i64,
    },
    Expired,
}

/// What the UI and `card-info` show about a certificate. `Debug` leaves out the personal data.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct CertificateInfo {
    /// CN, or given name and surname when there is no CN.
    pub holder: String,
    /// The subject serialNumber (2.5.4.5) when it is an HSA-id (SITHS HSA-id certificates;
    /// on personnummer certificates it is not, and stays out).
    pub hsa_id: Option<HsaId>,
    pub organisation: Option<String>,
    /// The issuer's CN, e.g. "SITHS e-id Person HSA-id 3 CA v1".
    pub issuer: String,
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    pub key_usage: KeyUsage,
    pub key: KeyKind,
}

impl std::fmt::Debug for CertificateInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateInfo")
            .field("holder", &"[redacted]")
            .field("issuer", &self.issuer)
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .field("key_usage", &self.key_usage)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl CertificateInfo {
    /// Reads a DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Self> {
        let (_, cert) = X509Certificate::from_der(der)
            .map_err(|e| Error::card(format!("certificate does not parse: {e}")))?;
        let subject = cert.subject();
        let holder = match first(subject, &OID_X509_COMMON_NAME) {
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
        let key_usage = match cert.key_usage() {
            Ok(Some(extension)) if extension.value.non_repudiation() => KeyUsage::Signing,
            Ok(Some(extension)) if extension.value.digital_signature() => KeyUsage::Authentication,
            Ok(_) => KeyUsage::Other,
            Err(e) => return Err(Error::card(format!("key usage: {e}"))),
        };
        Ok(CertificateInfo {
            holder,
            hsa_id: first(subject, &OID_X509_SERIALNUMBER).and_then(|serial| HsaId::parse(&serial)),
            organisation: first(subject, &OID_X509_ORGANIZATION_NAME),
            issuer: first(cert.issuer(), &OID_X509_COMMON_NAME).unwrap_or_default(),
            not_before: cert.validity().not_before.to_datetime(),
            not_after: cert.validity().not_after.to_datetime(),
            key_usage,
            key: key_kind(&cert),
        })
    }

    /// Validity at `now` (passed in, so tests and the UI's clock agree).
    pub fn validity_at(&self, now: OffsetDateTime) -> Validity {
        if now < self.not_before {
            Validity::NotYetValid
        } else if now > self.not_after {
            Validity::Expired
        } else {
            let days = (self.not_after - now).whole_days();
            if days < EXPIRY_WARNING_DAYS {
                Validity::ExpiresSoon { days }
            } else {
                Validity::Valid
            }
        }
    }
}

/// An HSA-id: `SE`, the ten-digit organisation number of the issuing organisation, `-`, and
/// a local part of letters and digits (e.g. `SE2321000016-abc1`). Personal data: `Debug`
/// redacts it; `Display` and serialisation show it (for the holder's own screen).
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct HsaId(String);

impl HsaId {
    pub fn parse(text: &str) -> Option<Self> {
        let (organisation, local) = text.split_once('-')?;
        let digits = organisation.strip_prefix("SE")?;
        let valid = digits.len() == 10
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (1..=31).contains(&local.len())
            && local.bytes().all(|b| b.is_ascii_alphanumeric());
        valid.then(|| HsaId(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for HsaId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::fmt::Debug for HsaId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HsaId([redacted])")
    }
}

/// The key kind of a DER certificate.
pub fn key_kind_of(der: &[u8]) -> Result<KeyKind> {
    let (_, cert) = X509Certificate::from_der(der)
        .map_err(|e| Error::card(format!("certificate does not parse: {e}")))?;
    Ok(key_kind(&cert))
}

fn key_kind(cert: &X509Certificate<'_>) -> KeyKind {
    let spki = cert.public_key();
    let algorithm = &spki.algorithm;
    if algorithm.algorithm == OID_PKCS1_RSAENCRYPTION {
        match spki.parsed() {
            Ok(key) => KeyKind::Rsa {
                bits: u32::try_from(key.key_size()).unwrap_or(0),
            },
            Err(_) => KeyKind::Unsupported,
        }
    } else if algorithm.algorithm == OID_KEY_TYPE_EC_PUBLIC_KEY
        && algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.as_oid().ok())
            .is_some_and(|curve| curve == OID_EC_P256)
    {
        KeyKind::EcP256
    } else {
        KeyKind::Unsupported
    }
}

fn first(name: &X509Name<'_>, oid: &x509_parser::der_parser::Oid<'_>) -> Option<String> {
    name.iter_by_oid(oid)
        .next()
        .and_then(|attribute| attribute.as_str().ok())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hsa_id_shape() {
        assert!(HsaId::parse("SE2321000016-abc1").is_some());
        assert!(HsaId::parse("SE2321000016-1234").is_some());
        for not_hsa in [
            "197001011234",
            "SE232100001-1",
            "SE2321000016-",
            "SE2321000016-a b",
            "SE2321000016",
        ] {
            assert!(HsaId::parse(not_hsa).is_none(), "{not_hsa}");
        }
        assert_eq!(
            format!("{:?}", HsaId::parse("SE2321000016-1").unwrap()),
            "HsaId([redacted])"
        );
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(CertificateInfo::from_der(&[0x30, 0x03, 0x02, 0x01, 0x05]).is_err());
    }
}
