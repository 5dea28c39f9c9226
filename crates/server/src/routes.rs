//! The HTTP surface: routes under `/api/v1`, the demo outbox and the demo BankID app (demo
//! mode only), request tracing
//! without personal data, and JSON errors for everything, including unknown routes.

use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::routing::{delete, get, post};
use axum::{middleware, Json, Router};
use legitimera_protocol::{Health, OutboxMessage};

use crate::error::{ApiError, Result};
use crate::{
    bankid, cases, devices, http_limits, login, password_reset, phone_change, registration,
    sessions, siths, test_logins, AppState,
};

pub fn router(state: AppState) -> Router {
    // The API's routes with their whole paths, not a router nested under the prefix: a nested
    // router strips the prefix off every request's URI (a new URI) and matches twice, ~3 % of
    // a session check's time under load (`cargo xtask bench load`).
    let api = |path: &str| format!("{}{path}", legitimera_protocol::API_PREFIX);
    let mut router = Router::new()
        .route(&api("/health"), get(health))
        .route(&api("/ready"), get(ready))
        .route(&api("/registrations"), post(registration::start))
        .route(
            &api("/registrations/{id}/email-code"),
            post(registration::email_code),
        )
        .route(
            &api("/registrations/{id}/sms-code"),
            post(registration::sms_code),
        )
        .route(
            &api("/registrations/{id}/resend"),
            post(registration::resend),
        )
        .route(&api("/login/password"), post(login::password))
        .route(&api("/login/sms"), post(login::sms))
        .route(&api("/login/email-code"), post(login::email_code))
        .route(&api("/login/resend"), post(login::resend))
        .route(&api("/phone-changes"), post(phone_change::start))
        .route(
            &api("/phone-changes/{id}/email-code"),
            post(phone_change::email_code),
        )
        .route(
            &api("/phone-changes/{id}/sms-code"),
            post(phone_change::sms_code),
        )
        .route(
            &api("/phone-changes/{id}/resend"),
            post(phone_change::resend),
        )
        .route(
            &api("/session"),
            get(sessions::status).delete(sessions::logout),
        )
        .route(&api("/session/activity"), post(sessions::activity))
        .route(&api("/session/password"), post(password_reset::change))
        .route(&api("/password-resets"), post(password_reset::start))
        .route(
            &api("/password-resets/{id}/email-code"),
            post(password_reset::email_code),
        )
        .route(
            &api("/password-resets/{id}/sms-code"),
            post(password_reset::sms_code),
        )
        .route(
            &api("/password-resets/{id}/password"),
            post(password_reset::password),
        )
        .route(
            &api("/password-resets/{id}/resend"),
            post(password_reset::resend),
        )
        .route(&api("/cases"), get(cases::list))
        .route(&api("/devices"), get(devices::list))
        .route(&api("/devices/forget"), post(devices::forget))
        .route(&api("/devices/{id}"), delete(devices::remove))
        .route(&api("/bankid/orders"), post(bankid::create))
        .route(
            &api("/bankid/orders/{id}"),
            get(bankid::status).delete(bankid::cancel),
        )
        .route(&api("/siths/challenges"), post(siths::create_challenge))
        .route(&api("/siths/sessions"), post(siths::log_in))
        .route(&api("/siths/check"), post(siths::check))
        .route(&api("/siths/landing"), get(siths::landing))
        .route(&api("/siths/test-logins"), post(test_logins::test_login))
        .method_not_allowed_fallback(method_not_allowed);
    // Demo routes keep axum's own 405, which `http_limits::gate` gives the API's shape.
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
            http_limits::gate,
        ))
        .layer(DefaultBodyLimit::max(http.max_body_bytes))
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
