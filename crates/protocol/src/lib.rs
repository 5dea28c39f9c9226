//! The JSON types the app and the server exchange: the one source of truth for the wire format.
//! Pure data and (de)serialisation only; no I/O, no business rules.

use serde::{Deserialize, Serialize};

/// The path prefix of every API route.
pub const API_PREFIX: &str = "/api/v1";

/// Every error the server answers: a stable machine code the app maps to a localized sentence,
/// and an English message for logs and developers (never shown to users as is).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
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

/// Stable error codes shared by server and app.
pub mod codes {
    pub const NOT_FOUND: &str = "not_found";
    pub const BAD_REQUEST: &str = "bad_request";
    pub const INTERNAL: &str = "internal";
    pub const DATABASE_UNAVAILABLE: &str = "database_unavailable";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_wire_shape_is_code_and_message() {
        let body = ErrorBody {
            code: codes::NOT_FOUND.into(),
            message: "No such route".into(),
        };
        let json = serde_json::to_value(&body).unwrap_or_default();
        assert_eq!(
            json,
            serde_json::json!({"code": "not_found", "message": "No such route"})
        );
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
