//! The JSON types the app and the server exchange: the one source of truth for the wire format.
//! Pure data, (de)serialisation and input parsing only; no I/O, no business rules.

pub mod accounts;
pub mod bankid;
pub mod cases;
pub mod error_code;
pub mod fields;
pub mod outbox;
pub mod siths;

use serde::{Deserialize, Serialize};

pub use accounts::*;
pub use bankid::*;
pub use cases::*;
pub use error_code::{ErrorCode, Origin};
pub use fields::{Email, FieldError, OneTimeCode, Password, PhoneNumber, SecretString};
pub use outbox::*;
pub use siths::*;

/// The path prefix of every API route.
pub const API_PREFIX: &str = "/api/v1";

/// Every error the server answers: a stable machine code the app maps to a localized sentence,
/// and an English message for logs and developers (never shown to users as is). Some codes
/// carry one more field; absent fields are left out of the JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
    /// `wrong_code`: how many more wrong codes this step accepts (0 = the next try is refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tries_left: Option<u32>,
    /// `rate_limited`, `resend_too_soon`: seconds until a new try can succeed (also sent as
    /// the `Retry-After` header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// `email_unavailable`, `sms_unavailable`: the registration, login or phone change that was
    /// kept although its code could not be sent; `resend` to it later instead of starting over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `bankid_already_in_progress`, `bankid_unavailable`: BankID's recommended user message
    /// (`RFA4`, `RFA5`), for an app that shows BankID's own wording.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rfa: Option<String>,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorBody {
            code,
            message: message.into(),
            tries_left: None,
            retry_after: None,
            id: None,
            rfa: None,
        }
    }
}

/// `GET /api/v1/health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// `"ok"` when the server and its database answer.
    pub status: String,
    /// The server's version (the crate version).
    pub version: String,
    /// Whether the server runs in demo mode (seeded data, demo outbox).
    pub demo: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_wire_shape_is_code_and_message() {
        let body = ErrorBody::new(ErrorCode::NotFound, "No such route");
        let json = serde_json::to_value(&body).unwrap_or_default();
        assert_eq!(
            json,
            serde_json::json!({"code": "not_found", "message": "No such route"})
        );
    }

    #[test]
    fn error_body_extra_fields_appear_only_when_set() {
        let body = ErrorBody {
            tries_left: Some(3),
            ..ErrorBody::new(ErrorCode::WrongCode, "wrong code")
        };
        let json = serde_json::to_value(&body).unwrap_or_default();
        assert_eq!(json["tries_left"], 3);
        assert!(json.get("retry_after").is_none());
        let old: ErrorBody = serde_json::from_str(r#"{"code":"x","message":"y"}"#)
            .unwrap_or_else(|e| panic!("a body without extras must parse: {e}"));
        assert_eq!(old.tries_left, None);
    }

    #[test]
    fn health_ignores_unknown_fields_from_newer_servers() {
        let health: Health = serde_json::from_str(
            r#"{"status":"ok","version":"9.9.9","demo":false,"region":"eu-north"}"#,
        )
        .unwrap_or_else(|e| panic!("newer server's health must parse: {e}"));
        assert_eq!(health.status, "ok");
    }
}
