//! The app's error type. What reaches the UI is `{code, message}`: a stable machine code the UI
//! maps to a localized, actionable sentence, and an English message for logs only.

use serde::Serialize;

pub type Result<T, E = AppError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// No answer from the backend: network down, server stopped, DNS, timeout.
    #[error("the service cannot be reached")]
    BackendUnreachable(#[source] reqwest::Error),
    /// The backend answered, but not as a working Legitimera backend does.
    #[error("the service answered with an error ({status})")]
    BackendUnavailable { status: u16 },
    /// The backend answered with one of its own `{code, message}` errors.
    #[error("the service refused the request: {code}")]
    Backend { code: String, status: u16 },
    #[error("invalid backend address: {0}")]
    InvalidBackendUrl(String),
}

impl AppError {
    /// Every code `code()` can return apart from the backend's own (those are in
    /// `legitimera_protocol::codes::ALL`): each needs a message in both UI catalogs.
    pub const CODES: &[&'static str] = &[
        "backend_unreachable",
        "backend_unavailable",
        "invalid_backend_url",
    ];

    pub fn code(&self) -> &str {
        match self {
            AppError::BackendUnreachable(_) => "backend_unreachable",
            AppError::BackendUnavailable { .. } => "backend_unavailable",
            AppError::Backend { code, .. } => code,
            AppError::InvalidBackendUrl(_) => "invalid_backend_url",
        }
    }
}

/// The shape the UI receives for every failed command.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct UiError {
    pub code: String,
    pub message: String,
}

impl From<&AppError> for UiError {
    fn from(error: &AppError) -> Self {
        UiError {
            code: error.code().to_owned(),
            message: error.to_string(),
        }
    }
}

impl Serialize for AppError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        UiError::from(self).serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_reach_the_ui_as_code_and_message() {
        let error = AppError::BackendUnavailable { status: 503 };
        let json = serde_json::to_value(&error).unwrap();
        assert_eq!(json["code"], "backend_unavailable");
        assert!(json["message"].as_str().unwrap().contains("503"));
        assert_eq!(json.as_object().unwrap().len(), 2);
    }
}
