//! The HTTP surface: routes under `/api/v1`, the demo outbox and the demo BankID app (demo
//! mode only), request tracing
//! without personal data, and JSON errors for everything, including unknown routes.

use std::time::Duration;

use axum::extract::{DefaultBodyLimit, MatchedPath, State};
use axum::http::Request;
use axum::routing::{delete, get, post};
use axum::{middleware, Json, Router};
use legitimera_protocol::{Health, OutboxMessage};
use tower_http::trace::TraceLayer;

use crate::error::{ApiError, Result};
use crate::{
    bankid, cases, devices, http_limits, login, password_reset, phone_change, registration,
    sessions, siths, AppState,
};

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/registrations", post(registration::start))
        .route(
            "/registrations/{id}/email-code",
            post(registration::email_code),
        )
        .route("/registrations/{id}/sms-code", post(registration::sms_code))
        .route("/registrations/{id}/resend", post(registration::resend))
        .route("/login/password", post(login::password))
        .route("/login/sms", post(login::sms))
        .route("/login/email-code", post(login::email_code))
        .route("/login/resend", post(login::resend))
        .route("/phone-changes", post(phone_change::start))
        .route(
            "/phone-changes/{id}/email-code",
            post(phone_change::email_code),
        )
        .route("/phone-changes/{id}/sms-code", post(phone_change::sms_code))
        .route("/phone-changes/{id}/resend", post(phone_change::resend))
        .route("/session", get(sessions::status).delete(sessions::logout))
        .route("/session/activity", post(sessions::activity))
        .route("/session/password", post(password_reset::change))
        .route("/password-resets", post(password_reset::start))
        .route(
            "/password-resets/{id}/email-code",
            post(password_reset::email_code),
        )
        .route(
            "/password-resets/{id}/sms-code",
            post(password_reset::sms_code),
        )
        .route(
            "/password-resets/{id}/password",
            post(password_reset::password),
        )
        .route("/password-resets/{id}/resend", post(password_reset::resend))
        .route("/cases", get(cases::list))
        .route("/devices", get(devices::list))
        .route("/devices/forget", post(devices::forget))
        .route("/devices/{id}", delete(devices::remove))
        .route("/bankid/orders", post(bankid::create))
        .route(
            "/bankid/orders/{id}",
            get(bankid::status).delete(bankid::cancel),
        )
        .route("/siths/challenges", post(siths::create_challenge))
        .route("/siths/sessions", post(siths::log_in))
        .route("/siths/landing", get(siths::landing))
        .method_not_allowed_fallback(method_not_allowed);
    let mut router = Router::new().nest(legitimera_protocol::API_PREFIX, api);
    if state.outbox().is_some() {
        router = router.route("/demo/outbox", get(outbox));
    }
    #[cfg(feature = "demo")]
    if let Some(app) = state.demo_bankid_app() {
        // The simulator's test BankID app: POST /demo/bankid/sign and /demo/bankid/cancel.
        router = router.nest_service("/demo/bankid", app.router());
    }
    let http = state.http_limits();
    router
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            http_limits::Gate::new(&http),
            http_limits::limit,
        ))
        .layer(DefaultBodyLimit::max(http.max_body_bytes))
        .layer(middleware::from_fn(http_limits::json_errors))
        .layer(
            // Only the method and the route pattern: a path or query may carry personal data.
            TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                let route = request
                    .extensions()
                    .get::<MatchedPath>()
                    .map(|p| p.as_str().to_owned())
                    .unwrap_or_else(|| "(unmatched)".to_owned());
                tracing::info_span!("request", method = %request.method(), route)
            }),
        )
        .with_state(state)
}

async fn health(State(state): State<AppState>) -> Result<Json<Health>> {
    state
        .store()
        .ping()
        .await
        .map_err(ApiError::DatabaseUnavailable)?;
    Ok(Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        demo: state.demo(),
    }))
}

/// How long readiness waits for the database before answering that it is not ready.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /api/v1/ready`: whether this instance should get traffic (its database answers, in
/// time). For a load balancer's check; `health` is for people and monitoring.
async fn ready(State(state): State<AppState>) -> Result<Json<serde_json::Value>> {
    match tokio::time::timeout(READY_TIMEOUT, state.store().ping()).await {
        Ok(Ok(())) => Ok(Json(serde_json::json!({"status": "ready"}))),
        Ok(Err(error)) => Err(ApiError::DatabaseUnavailable(error)),
        Err(_) => Err(ApiError::DatabaseUnavailable(sqlx::Error::PoolTimedOut)),
    }
}

/// `GET /demo/outbox`: mounted only when the server delivers to the demo outbox.
async fn outbox(State(state): State<AppState>) -> Result<Json<Vec<OutboxMessage>>> {
    let outbox = state.outbox().ok_or(ApiError::NotFound)?;
    Ok(Json(outbox.messages().await?))
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
