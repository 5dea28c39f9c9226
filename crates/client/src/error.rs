//! The app's error type. What reaches the UI is `{code, message}` (plus `tries_left`,
//! `retry_after` or `id` when the backend gave them): a stable machine code the UI maps to a
//! localized, actionable sentence, and an English message for logs only.

use legitimera_protocol::{ErrorCode, FieldError};
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
    Backend {
        code: ErrorCode,
        status: u16,
        tries_left: Option<u32>,
        retry_after: Option<u64>,
        id: Option<String>,
    },
    /// What the user typed was refused before anything was sent.
    #[error("invalid input: {0}")]
    Field(#[from] FieldError),
    #[error("invalid backend address: {0}")]
    InvalidBackendUrl(String),
    /// A release build with no backend in policy and none built in.
    #[error("no backend address is configured")]
    NoBackendConfigured,
    /// The setting is locked by machine policy (the key, as policy names it).
    #[error("the setting {0} is managed by the organisation")]
    SettingLocked(&'static str),
    /// A call that needs a session while nobody is logged in.
    #[error("nobody is logged in")]
    NotLoggedIn,
    /// The settings file could not be written (disk full, no permission).
    #[error("the settings could not be saved: {0}")]
    SettingsNotSaved(String),
    /// The OS keyring is missing or locked, so this device cannot be trusted or forgotten.
    #[error("the keyring is not available: {0}")]
    KeyringUnavailable(String),
    /// The card reader, the card or its PIN said no (the card crate's codes: `no_reader`,
    /// `wrong_pin` with `tries_left`, `card_removed`, …).
    #[error("card: {0}")]
    Card(#[from] legitimera_card::Error),
    /// The card's certificate cannot log in now (expired, not yet valid, not the
    /// authentication one), seen before asking the server: its code is the server's.
    #[error("the card's certificate cannot be used: {0}")]
    Certificate(ErrorCode),
    /// The backend's SITHS challenge is not 32 bytes: the card signed nothing and no PIN was
    /// sent. Carries the length it had.
    #[error("the SITHS challenge is {0} bytes, not 32")]
    SithsBadChallenge(usize),
    /// Install was asked for with no update on offer.
    #[error("no update is on offer")]
    NoUpdate,
    /// An update is installed only with no session open and no login under way.
    #[error("an update is not installed while a session is open")]
    UpdateWhileSession,
    /// The update's signature did not verify: it was not installed.
    #[error("the update's signature did not verify: {0}")]
    UpdateNotTrusted(String),
    /// Downloading or installing the update failed.
    #[error("the update could not be installed: {0}")]
    UpdateFailed(String),
}

impl From<crate::device::DeviceError> for AppError {
    fn from(error: crate::device::DeviceError) -> Self {
        match error {
            crate::device::DeviceError::Store(reason) => AppError::SettingsNotSaved(reason),
            crate::device::DeviceError::Keyring(reason) => {
                AppError::KeyringUnavailable(reason.to_string())
            }
        }
    }
}

impl AppError {
    /// The backend's own `{code}` answer with its HTTP status and no extras.
    pub fn backend(code: ErrorCode, status: u16) -> Self {
        AppError::Backend {
            code,
            status,
            tries_left: None,
            retry_after: None,
            id: None,
        }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            AppError::BackendUnreachable(_) => ErrorCode::BackendUnreachable,
            AppError::BackendUnavailable { .. } => ErrorCode::BackendUnavailable,
            AppError::Backend { code, .. } => *code,
            AppError::Field(field) => field.code(),
            AppError::InvalidBackendUrl(_) => ErrorCode::InvalidBackendUrl,
            AppError::NoBackendConfigured => ErrorCode::BackendNotConfigured,
            AppError::SettingLocked(_) => ErrorCode::SettingLocked,
            AppError::NotLoggedIn => ErrorCode::Unauthorized,
            AppError::SettingsNotSaved(_) => ErrorCode::SettingsNotSaved,
            AppError::KeyringUnavailable(_) => ErrorCode::KeyringUnavailable,
            AppError::Card(card) => card.code(),
            AppError::Certificate(code) => *code,
            AppError::SithsBadChallenge(_) => ErrorCode::SithsBadChallenge,
            AppError::NoUpdate => ErrorCode::NoUpdate,
            AppError::UpdateWhileSession => ErrorCode::UpdateSessionOpen,
            AppError::UpdateNotTrusted(_) => ErrorCode::UpdateNotTrusted,
            AppError::UpdateFailed(_) => ErrorCode::UpdateFailed,
        }
    }

    /// Whether the server no longer knows the session: the app must forget it and wipe.
    pub fn ends_session(&self) -> bool {
        matches!(
            self.code(),
            ErrorCode::SessionExpired | ErrorCode::Unauthorized
        )
    }
}

/// The shape the UI receives for every failed command.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct UiError {
    pub code: ErrorCode,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tries_left: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

impl From<&AppError> for UiError {
    fn from(error: &AppError) -> Self {
        let (tries_left, retry_after, id) = match error {
            AppError::Backend {
                tries_left,
                retry_after,
                id,
                ..
            } => (*tries_left, *retry_after, id.clone()),
            AppError::Card(legitimera_card::Error::WrongPin { tries_left }) => {
                (Some(u32::from(*tries_left)), None, None)
            }
            _ => (None, None, None),
        };
        UiError {
            code: error.code(),
            message: error.to_string(),
            tries_left,
            retry_after,
            id,
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

    #[test]
    fn backend_extras_reach_the_ui_for_its_sentence() {
        let error = AppError::Backend {
            code: ErrorCode::WrongCode,
            status: 400,
            tries_left: Some(3),
            retry_after: None,
            id: None,
        };
        let json = serde_json::to_value(&error).unwrap();
        assert_eq!(json["code"], "wrong_code");
        assert_eq!(json["tries_left"], 3);
        assert!(json.get("retry_after").is_none());
    }

    #[test]
    fn a_wrong_pin_tells_the_ui_the_tries_left() {
        let error = AppError::from(legitimera_card::Error::WrongPin { tries_left: 2 });
        let json = serde_json::to_value(&error).unwrap();
        assert_eq!(json["code"], "wrong_pin");
        assert_eq!(json["tries_left"], 2);
        let blocked = serde_json::to_value(AppError::from(legitimera_card::Error::PinBlocked));
        assert!(blocked.unwrap().get("tries_left").is_none());
    }

    #[test]
    fn field_errors_use_the_servers_codes() {
        let error = AppError::from(FieldError::InvalidPhone);
        assert_eq!(error.code(), ErrorCode::InvalidPhone);
        assert!(!error.ends_session());
        assert!(AppError::NotLoggedIn.ends_session());
    }
}
