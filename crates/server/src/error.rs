//! The server's error type and its HTTP form: every failure leaves as `{code, message}` (plus
//! `tries_left`, `retry_after` or `id` where they help) with a fitting status. Messages here are
//! English for developers; the app localizes by `code`. Never put personal data in a message:
//! it is logged and sent.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use legitimera_protocol::{ErrorBody, ErrorCode, FieldError};

pub type Result<T, E = ApiError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    #[error("no such resource")]
    NotFound,
    #[error("this method is not allowed here")]
    MethodNotAllowed,
    #[error("the request body is too large")]
    PayloadTooLarge,
    #[error("the request's address (path and query) is too long")]
    UriTooLong,
    #[error("the request's headers are too large")]
    HeadersTooLarge,
    #[error("the body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    #[error("the request took too long")]
    RequestTimeout,
    #[error("the server is busy; try again shortly")]
    Overloaded { retry_after: u64 },
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("{0}")]
    Field(FieldError),
    #[error("this password is too common; choose another")]
    CommonPassword,
    #[error("wrong code")]
    WrongCode { tries_left: u32 },
    #[error("the code has expired; ask for a new one")]
    CodeExpired,
    #[error("too many wrong codes or new codes; start over")]
    TooManyAttempts,
    #[error("a new code can be sent a little later")]
    ResendTooSoon { retry_after: u64 },
    #[error("too many attempts; try again later")]
    RateLimited { retry_after: u64 },
    #[error("wrong e-mail address or password")]
    InvalidCredentials,
    #[error("many wrong passwords were tried: enter the code sent to your e-mail")]
    EmailCodeRequired { id: String },
    #[error("the session has ended; log in again")]
    SessionExpired,
    #[error("not logged in")]
    Unauthorized,
    #[error("unknown, finished or expired; start over")]
    UnknownChallenge,
    #[error("this step is not the one expected now")]
    WrongStep,
    #[error("the e-mail could not be sent; try again later")]
    EmailUnavailable { id: String },
    #[error("the SMS could not be sent; try again later")]
    SmsUnavailable { id: String },
    #[error("this is already the account's phone number")]
    SamePhone,
    #[error("SMS cannot be sent to numbers in this country")]
    PhoneCountryNotAllowed,
    #[error("BankID already has an order in progress for this person")]
    BankIdAlreadyInProgress,
    #[error("BankID login is not available now")]
    BankIdUnavailable { rfa: legitimera_bankid::RfaCode },
    #[error("unknown or already used SITHS challenge; ask for a new one")]
    SithsUnknownChallenge,
    #[error("the SITHS challenge has expired; ask for a new one")]
    SithsChallengeExpired,
    /// A signed challenge refused; `siths` maps its rejection to the code (`From<Rejection>`
    /// lives there, so this module needs nothing from it).
    #[error("SITHS login refused: {reason}")]
    SithsRefused { code: ErrorCode, reason: String },
    #[error("SITHS login is not set up on this server (no trust anchors)")]
    SithsUnavailable,
    #[error("the database is unavailable")]
    DatabaseUnavailable(#[source] sqlx::Error),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::NotFound | ApiError::UnknownChallenge => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UriTooLong => StatusCode::URI_TOO_LONG,
            ApiError::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::Overloaded { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::BadRequest(_)
            | ApiError::Field(_)
            | ApiError::CommonPassword
            | ApiError::WrongCode { .. }
            | ApiError::SamePhone
            | ApiError::PhoneCountryNotAllowed => StatusCode::BAD_REQUEST,
            ApiError::CodeExpired => StatusCode::GONE,
            ApiError::TooManyAttempts
            | ApiError::ResendTooSoon { .. }
            | ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::InvalidCredentials
            | ApiError::EmailCodeRequired { .. }
            | ApiError::SessionExpired
            | ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::WrongStep | ApiError::BankIdAlreadyInProgress => StatusCode::CONFLICT,
            ApiError::SithsUnknownChallenge => StatusCode::NOT_FOUND,
            ApiError::SithsChallengeExpired => StatusCode::GONE,
            ApiError::SithsRefused {
                code: ErrorCode::SithsRevocationUnavailable,
                ..
            } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::SithsRefused { .. } => StatusCode::UNAUTHORIZED,
            ApiError::SithsUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::EmailUnavailable { .. }
            | ApiError::SmsUnavailable { .. }
            | ApiError::BankIdUnavailable { .. }
            | ApiError::DatabaseUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::NotFound => ErrorCode::NotFound,
            ApiError::MethodNotAllowed => ErrorCode::MethodNotAllowed,
            ApiError::PayloadTooLarge => ErrorCode::PayloadTooLarge,
            ApiError::UriTooLong => ErrorCode::UriTooLong,
            ApiError::HeadersTooLarge => ErrorCode::HeadersTooLarge,
            ApiError::UnsupportedMediaType => ErrorCode::UnsupportedMediaType,
            ApiError::RequestTimeout => ErrorCode::RequestTimeout,
            ApiError::Overloaded { .. } => ErrorCode::Overloaded,
            ApiError::BadRequest(_) => ErrorCode::BadRequest,
            ApiError::Field(field) => field.code(),
            ApiError::CommonPassword => ErrorCode::CommonPassword,
            ApiError::WrongCode { .. } => ErrorCode::WrongCode,
            ApiError::CodeExpired => ErrorCode::CodeExpired,
            ApiError::TooManyAttempts => ErrorCode::TooManyAttempts,
            ApiError::ResendTooSoon { .. } => ErrorCode::ResendTooSoon,
            ApiError::RateLimited { .. } => ErrorCode::RateLimited,
            ApiError::InvalidCredentials => ErrorCode::InvalidCredentials,
            ApiError::EmailCodeRequired { .. } => ErrorCode::EmailCodeRequired,
            ApiError::SessionExpired => ErrorCode::SessionExpired,
            ApiError::Unauthorized => ErrorCode::Unauthorized,
            ApiError::UnknownChallenge => ErrorCode::UnknownChallenge,
            ApiError::WrongStep => ErrorCode::WrongStep,
            ApiError::EmailUnavailable { .. } => ErrorCode::EmailUnavailable,
            ApiError::SmsUnavailable { .. } => ErrorCode::SmsUnavailable,
            ApiError::SamePhone => ErrorCode::SamePhone,
            ApiError::PhoneCountryNotAllowed => ErrorCode::PhoneCountryNotAllowed,
            ApiError::BankIdAlreadyInProgress => ErrorCode::BankidAlreadyInProgress,
            ApiError::BankIdUnavailable { .. } => ErrorCode::BankidUnavailable,
            ApiError::SithsUnknownChallenge | ApiError::SithsChallengeExpired => {
                ErrorCode::SithsUnknownChallenge
            }
            ApiError::SithsRefused { code, .. } => *code,
            ApiError::SithsUnavailable => ErrorCode::SithsUnavailable,
            ApiError::DatabaseUnavailable(_) => ErrorCode::DatabaseUnavailable,
            ApiError::Internal(_) => ErrorCode::Internal,
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::ResendTooSoon { retry_after }
            | ApiError::RateLimited { retry_after }
            | ApiError::Overloaded { retry_after } => Some(*retry_after),
            _ => None,
        }
    }
}

impl From<FieldError> for ApiError {
    fn from(error: FieldError) -> Self {
        ApiError::Field(error)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                ApiError::DatabaseUnavailable(error)
            }
            other => ApiError::Internal(other.into()),
        }
    }
}

impl From<crate::passwords::HashError> for ApiError {
    fn from(error: crate::passwords::HashError) -> Self {
        match error {
            crate::passwords::HashError::Busy => {
                tracing::warn!("overloaded: password hash queue full");
                ApiError::Overloaded { retry_after: 1 }
            }
            crate::passwords::HashError::Failed(error) => ApiError::Internal(error),
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(error: anyhow::Error) -> Self {
        ApiError::Internal(error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() && !matches!(self, ApiError::Overloaded { .. }) {
            // The source chain may name tables or files, never personal data.
            tracing::error!(code = self.code().as_str(), error = ?self, "request failed");
        }
        let retry_after = self.retry_after();
        let body = ErrorBody {
            tries_left: match &self {
                ApiError::WrongCode { tries_left } => Some(*tries_left),
                _ => None,
            },
            retry_after,
            id: match &self {
                ApiError::EmailUnavailable { id }
                | ApiError::SmsUnavailable { id }
                | ApiError::EmailCodeRequired { id } => Some(id.clone()),
                _ => None,
            },
            rfa: match &self {
                ApiError::BankIdAlreadyInProgress => Some("RFA4".to_owned()),
                ApiError::BankIdUnavailable { rfa } => Some(rfa.as_str().to_owned()),
                _ => None,
            },
            ..ErrorBody::new(self.code(), self.to_string())
        };
        let mut response = (status, Json(body)).into_response();
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limited_sends_retry_after_header_and_field() {
        let response = ApiError::RateLimited { retry_after: 42 }.into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            response.headers().get(header::RETRY_AFTER),
            Some(&HeaderValue::from(42u64))
        );
    }
}
