//! Everything that can go wrong talking to BankID, and the user message (RFA code) each failure
//! maps to. Messages are English for developers and logs; they never carry a personnummer, a
//! secret or a response body.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::rfa::RfaCode;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// BankID answered with its error body `{errorCode, details}`.
    #[error("BankID refused the request (HTTP {status}, {code}): {details}")]
    Rp {
        status: u16,
        code: ErrorCode,
        details: String,
    },
    /// HTTP 429: too many requests; the `RateLimit-Reset`/`Retry-After` header when present.
    #[error("BankID is rate limiting this RP")]
    RateLimited { retry_after: Option<Duration> },
    /// An answer that is not BankID's JSON: typically an HTML page from a proxy or load
    /// balancer, or a success status with a body that does not parse.
    #[error("unexpected answer from the BankID endpoint (HTTP {status}, {content_type})")]
    UnexpectedResponse { status: u16, content_type: String },
    /// The TLS handshake or session failed: the server's certificate is not from the configured
    /// BankID CA, or the server refused our client certificate.
    #[error("TLS with the BankID endpoint failed: {0}")]
    Tls(#[source] rustls::Error),
    /// No answer in time.
    #[error("the BankID endpoint did not answer in time")]
    Timeout(#[source] reqwest::Error),
    /// No connection (DNS, refused, reset) or another transport failure.
    #[error("could not talk to the BankID endpoint")]
    Transport(#[source] reqwest::Error),
    /// The RP identity or the server CA could not be loaded.
    #[error("BankID client configuration: {0}")]
    Config(#[from] ConfigError),
}

impl Error {
    /// The recommended user message for this failure.
    pub fn rfa(&self) -> RfaCode {
        match self {
            Error::Rp { code, .. } => code.rfa(),
            _ => RfaCode::Rfa5,
        }
    }

    /// Whether a caller may retry once without telling the user (`maintenance` only, as
    /// BankID advises; everything else is shown, and never retried automatically).
    pub fn may_retry_quietly(&self) -> bool {
        matches!(
            self,
            Error::Rp {
                code: ErrorCode::Maintenance,
                ..
            }
        )
    }
}

/// Why the RP identity (PKCS#12 or PEM) or the server CA could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("the PKCS#12 file could not be opened (wrong password or not PKCS#12)")]
    Pkcs12(#[source] p12_keystore::error::Error),
    #[error("the PKCS#12 file holds no private key with its certificate")]
    Pkcs12NoKey,
    #[error("no certificate found in the PEM data")]
    NoCertificate,
    #[error("no private key found in the PEM data")]
    NoPrivateKey,
    #[error("PEM data could not be read")]
    Pem(#[source] rustls::pki_types::pem::Error),
    #[error("the key or certificate was refused: {0}")]
    Tls(#[source] rustls::Error),
    #[error("the base URL must be https and able to take a path: {0}")]
    BaseUrl(String),
    #[error("the HTTP client could not be built")]
    Http(#[source] reqwest::Error),
}

/// BankID's `errorCode`; codes this version does not know are kept as [`ErrorCode::Unknown`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    AlreadyInProgress,
    InvalidParameters,
    Unauthorized,
    NotFound,
    MethodNotAllowed,
    RequestTimeout,
    UnsupportedMediaType,
    InternalError,
    Maintenance,
    Unknown(String),
}

impl ErrorCode {
    pub fn as_str(&self) -> &str {
        match self {
            ErrorCode::AlreadyInProgress => "alreadyInProgress",
            ErrorCode::InvalidParameters => "invalidParameters",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::NotFound => "notFound",
            ErrorCode::MethodNotAllowed => "methodNotAllowed",
            ErrorCode::RequestTimeout => "requestTimeout",
            ErrorCode::UnsupportedMediaType => "unsupportedMediaType",
            ErrorCode::InternalError => "internalError",
            ErrorCode::Maintenance => "maintenance",
            ErrorCode::Unknown(code) => code,
        }
    }

    pub fn parse(code: &str) -> ErrorCode {
        match code {
            "alreadyInProgress" => ErrorCode::AlreadyInProgress,
            "invalidParameters" => ErrorCode::InvalidParameters,
            "unauthorized" => ErrorCode::Unauthorized,
            "notFound" => ErrorCode::NotFound,
            "methodNotAllowed" => ErrorCode::MethodNotAllowed,
            "requestTimeout" => ErrorCode::RequestTimeout,
            "unsupportedMediaType" => ErrorCode::UnsupportedMediaType,
            "internalError" => ErrorCode::InternalError,
            "maintenance" => ErrorCode::Maintenance,
            other => ErrorCode::Unknown(other.to_owned()),
        }
    }

    /// The user message the reference table gives: RFA4 for `alreadyInProgress`, RFA5 for the
    /// internal and temporary errors, RFA22 ("unknown error") for codes we do not know.
    pub fn rfa(&self) -> RfaCode {
        match self {
            ErrorCode::AlreadyInProgress => RfaCode::Rfa4,
            ErrorCode::InvalidParameters
            | ErrorCode::Unauthorized
            | ErrorCode::NotFound
            | ErrorCode::MethodNotAllowed
            | ErrorCode::RequestTimeout
            | ErrorCode::UnsupportedMediaType
            | ErrorCode::InternalError
            | ErrorCode::Maintenance => RfaCode::Rfa5,
            ErrorCode::Unknown(_) => RfaCode::Rfa22,
        }
    }

    /// The HTTP status BankID answers with this code (the simulator uses it).
    pub fn http_status(&self) -> u16 {
        match self {
            ErrorCode::AlreadyInProgress | ErrorCode::InvalidParameters => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::RequestTimeout => 408,
            ErrorCode::UnsupportedMediaType => 415,
            ErrorCode::InternalError | ErrorCode::Unknown(_) => 500,
            ErrorCode::Maintenance => 503,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Ok(ErrorCode::parse(&code))
    }
}

/// BankID's error body. Unknown fields are ignored; a missing `details` is empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    pub error_code: ErrorCode,
    #[serde(default)]
    pub details: String,
}
