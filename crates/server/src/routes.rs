//! The HTTP surface: routes under `/api/v1`, the demo outbox and the demo BankID app (demo
//! mode only), request tracing
//! without personal data, and JSON errors for everything, including unknown routes.

use std::time::Duration;

use axum::extract::{DefaultBodyLimit, MatchedPath, Path, State};
use axum::http::Request;
use axum::routing::{delete, get, post};
use axum::{middleware, Json, Router};
use legitimera_protocol::{Health, OutboxMessage};
use tower_http::trace::TraceLayer;

use crate::error::{ApiError, Result};
use crate::{
    bankid, cases, devices, http_limits, login, password_reset, phone_change, registration,
    sessions, siths, test_logins, AppState,
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
        .route("/siths/check", post(siths::check))
        .route("/siths/landing", get(siths::landing))
        .route("/siths/test-logins", post(test_logins::test_login))
        .method_not_allowed_fallback(method_not_allowed);
    let mut router = Router::new().nest(legitimera_protocol::API_PREFIX, api);
    if state.outbox().is_some() {
        router = router.route("/demo/outbox", get(outbox));
    }
    if state.demo_crls().is_some() {
        router = router.route(
            "/demo/siths/crl/{name}",
            get(demo_crl).put(publish_demo_crl),
        );
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

/// The largest CRL the demo route keeps.
const MAX_DEMO_CRL_BYTES: usize = 1024 * 1024;

/// `PUT /demo/siths/crl/{name}` (demo mode only): a virtual card's test CA publishes its CRL,
/// which its certificates name as their distribution point. Whoever checks it checks its
/// signature, so the route need not trust the sender.
async fn publish_demo_crl(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> Result<axum::http::StatusCode> {
    let crls = state.demo_crls().ok_or(ApiError::NotFound)?;
    if body.is_empty() || body.len() > MAX_DEMO_CRL_BYTES {
        return Err(ApiError::BadRequest("a CRL of 1 byte to 1 MB".into()));
    }
    let mut crls = crls
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if crls.len() >= 100 && !crls.contains_key(&name) {
        return Err(ApiError::BadRequest("too many demo CRLs".into()));
    }
    crls.insert(name, body.to_vec());
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// `GET /demo/siths/crl/{name}` (demo mode only): a CRL published there.
async fn demo_crl(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<impl axum::response::IntoResponse> {
    let crls = state.demo_crls().ok_or(ApiError::NotFound)?;
    let crl = crls
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(&name)
        .cloned()
        .ok_or(ApiError::NotFound)?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/pkix-crl")],
        crl,
    ))
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
