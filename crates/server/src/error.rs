//! The server's error type and its HTTP form: every failure leaves as `{code, message}` with a
//! fitting status. Messages here are English for developers; the app localizes by `code`.
//! Never put personal data in a message: it is logged and sent.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use legitimera_protocol::{codes, ErrorBody};

pub type Result<T, E = ApiError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    #[error("no such resource")]
    NotFound,
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("the database is unavailable")]
    DatabaseUnavailable(#[source] sqlx::Error),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::DatabaseUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::NotFound => codes::NOT_FOUND,
            ApiError::BadRequest(_) => codes::BAD_REQUEST,
            ApiError::DatabaseUnavailable(_) => codes::DATABASE_UNAVAILABLE,
            ApiError::Internal(_) => codes::INTERNAL,
        }
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

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            // The source chain may name tables or files, never personal data.
            tracing::error!(code = self.code(), error = ?self, "request failed");
        }
        let body = ErrorBody::new(self.code(), self.to_string());
        (status, Json(body)).into_response()
    }
}
