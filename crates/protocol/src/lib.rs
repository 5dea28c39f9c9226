//! The JSON types the app and the server exchange: the one source of truth for the wire format.
//! Pure data, (de)serialisation and input parsing only; no I/O, no business rules.

pub mod accounts;
pub mod bankid;
pub mod cases;
pub mod fields;
pub mod outbox;
pub mod siths;

use serde::{Deserialize, Serialize};

pub use accounts::*;
pub use bankid::*;
pub use cases::*;
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
    pub code: String,
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
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        ErrorBody {
            code: code.into(),
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

/// Stable error codes shared by server and app. Every one is in [`codes::ALL`]; the app has a
/// localized sentence for each.
pub mod codes {
    pub const NOT_FOUND: &str = "not_found";
    pub const BAD_REQUEST: &str = "bad_request";
    pub const INTERNAL: &str = "internal";
    pub const DATABASE_UNAVAILABLE: &str = "database_unavailable";
    /// The e-mail address is not a valid address.
    pub const INVALID_EMAIL: &str = "invalid_email";
    /// The phone number is not a valid number (E.164 or Swedish national).
    pub const INVALID_PHONE: &str = "invalid_phone";
    /// The code is not six digits (no try was used).
    pub const INVALID_CODE: &str = "invalid_code";
    /// The password is shorter than 8 characters.
    pub const WEAK_PASSWORD: &str = "weak_password";
    /// The password is on the list of common passwords.
    pub const COMMON_PASSWORD: &str = "common_password";
    /// The code is wrong; `tries_left` says how many more tries this step accepts.
    pub const WRONG_CODE: &str = "wrong_code";
    /// The code is older than 10 minutes: ask for a new one (`resend`).
    pub const CODE_EXPIRED: &str = "code_expired";
    /// Too many wrong codes (or resends) for this step: start over.
    pub const TOO_MANY_ATTEMPTS: &str = "too_many_attempts";
    /// A new code was asked for too soon; `retry_after` says when.
    pub const RESEND_TOO_SOON: &str = "resend_too_soon";
    /// Too many login attempts for this account or from this address; `retry_after` says when.
    pub const RATE_LIMITED: &str = "rate_limited";
    /// Unknown e-mail or wrong password (deliberately not saying which).
    pub const INVALID_CREDENTIALS: &str = "invalid_credentials";
    /// The session ended by the idle or absolute limit: log in again.
    pub const SESSION_EXPIRED: &str = "session_expired";
    /// No session, an unknown token, or one that was logged out.
    pub const UNAUTHORIZED: &str = "unauthorized";
    /// The registration, login or phone change is unknown, finished or too old: start over.
    pub const UNKNOWN_CHALLENGE: &str = "unknown_challenge";
    /// The step answered does not match where the registration or phone change is (e.g. an
    /// e-mail code after it was already verified).
    pub const WRONG_STEP: &str = "wrong_step";
    /// The e-mail could not be sent (mail server unreachable); `id` can be resent later.
    pub const EMAIL_UNAVAILABLE: &str = "email_unavailable";
    /// The SMS could not be sent (gateway unreachable); `id` can be resent later.
    pub const SMS_UNAVAILABLE: &str = "sms_unavailable";
    /// The new phone number is the one already on the account.
    pub const SAME_PHONE: &str = "same_phone";
    /// BankID already has an identification in progress for this person (RFA4): finish or
    /// cancel it in the BankID app, then try again.
    pub const BANKID_ALREADY_IN_PROGRESS: &str = "bankid_already_in_progress";
    /// BankID cannot be reached or refused the request, or BankID login is not set up on this
    /// server (RFA5): try again later.
    pub const BANKID_UNAVAILABLE: &str = "bankid_unavailable";
    /// The SITHS challenge is unknown, already used or older than 2 minutes: ask for a new one.
    pub const SITHS_UNKNOWN_CHALLENGE: &str = "siths_unknown_challenge";
    /// The card's certificate is not from a trusted SITHS issuer (or names no HSA-id).
    pub const SITHS_UNTRUSTED_CERTIFICATE: &str = "siths_untrusted_certificate";
    /// The card's certificate (or one above it) has expired: the card must be renewed.
    pub const SITHS_CERTIFICATE_EXPIRED: &str = "siths_certificate_expired";
    /// The card's certificate is not valid yet.
    pub const SITHS_CERTIFICATE_NOT_YET_VALID: &str = "siths_certificate_not_yet_valid";
    /// The certificate is not an authentication certificate (e.g. the signing one was sent).
    pub const SITHS_WRONG_KEY_USAGE: &str = "siths_wrong_key_usage";
    /// The signature does not match the challenge and the certificate.
    pub const SITHS_BAD_SIGNATURE: &str = "siths_bad_signature";
    /// SITHS login is not set up on this server (no trust anchors).
    pub const SITHS_UNAVAILABLE: &str = "siths_unavailable";

    /// Every code above, for exhaustiveness checks (e.g. every code has a translation).
    pub const ALL: &[&str] = &[
        NOT_FOUND,
        BAD_REQUEST,
        INTERNAL,
        DATABASE_UNAVAILABLE,
        INVALID_EMAIL,
        INVALID_PHONE,
        INVALID_CODE,
        WEAK_PASSWORD,
        COMMON_PASSWORD,
        WRONG_CODE,
        CODE_EXPIRED,
        TOO_MANY_ATTEMPTS,
        RESEND_TOO_SOON,
        RATE_LIMITED,
        INVALID_CREDENTIALS,
        SESSION_EXPIRED,
        UNAUTHORIZED,
        UNKNOWN_CHALLENGE,
        WRONG_STEP,
        EMAIL_UNAVAILABLE,
        SMS_UNAVAILABLE,
        SAME_PHONE,
        BANKID_ALREADY_IN_PROGRESS,
        BANKID_UNAVAILABLE,
        SITHS_UNKNOWN_CHALLENGE,
        SITHS_UNTRUSTED_CERTIFICATE,
        SITHS_CERTIFICATE_EXPIRED,
        SITHS_CERTIFICATE_NOT_YET_VALID,
        SITHS_WRONG_KEY_USAGE,
        SITHS_BAD_SIGNATURE,
        SITHS_UNAVAILABLE,
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_wire_shape_is_code_and_message() {
        let body = ErrorBody::new(codes::NOT_FOUND, "No such route");
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
            ..ErrorBody::new(codes::WRONG_CODE, "wrong code")
        };
        let json = serde_json::to_value(&body).unwrap_or_default();
        assert_eq!(json["tries_left"], 3);
        assert!(json.get("retry_after").is_none());
        let old: ErrorBody = serde_json::from_str(r#"{"code":"x","message":"y"}"#)
            .unwrap_or_else(|e| panic!("a body without extras must parse: {e}"));
        assert_eq!(old.tries_left, None);
    }

    #[test]
    fn every_code_is_listed_once_in_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for code in codes::ALL {
            assert!(seen.insert(code), "{code} listed twice");
            assert!(
                code.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{code}"
            );
        }
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
