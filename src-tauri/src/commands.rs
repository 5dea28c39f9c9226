//! The commands the webview may call (each granted in capabilities/main.json). Thin: validate,
//! delegate, return `{code, message}` on failure. When the server says the session is gone, the
//! UI hears `session-ended` whichever command found out.

use legitimera_protocol::{CasesAnswer, Challenge, OutboxMessage, SecretString, SessionStatus};
use serde::Serialize;
use tauri::{AppHandle, Emitter, State};

use crate::account::{LoginOutcome, Started};
use crate::api::{CodeStep, Flow};
use crate::connectivity::BackendStatus;
use crate::error::{AppError, Result};
use crate::locale::Language;
use crate::{events, AppState};

#[derive(Debug, Serialize)]
pub struct AppInfo {
    version: &'static str,
    /// The language to start in, from the OS locale.
    language: Language,
    backend_url: String,
}

#[tauri::command]
pub fn app_info(state: State<'_, AppState>) -> AppInfo {
    AppInfo {
        version: env!("CARGO_PKG_VERSION"),
        language: Language::from_os(),
        backend_url: state.api.base().as_str().to_owned(),
    }
}

#[tauri::command]
pub fn backend_status(state: State<'_, AppState>) -> BackendStatus {
    state.backend_status.borrow().clone()
}

/// "Försök igen": check the backend now instead of waiting for the next retry.
#[tauri::command]
pub fn retry_backend(state: State<'_, AppState>) {
    state.check_backend_now.notify_one();
}

/// Why a session ended, for the `session-ended` event.
#[derive(Debug, Clone, Serialize)]
pub struct SessionEnded {
    /// `session_expired`, `unauthorized` or `logged_out`.
    pub code: String,
}

/// Tells the UI when `result` says the server ended the session (the token is already gone).
pub(crate) fn watch_session<T>(app: &AppHandle, result: Result<T>) -> Result<T> {
    if let Err(error) = &result {
        if error.ends_session() {
            let _ = app.emit(
                events::SESSION_ENDED,
                SessionEnded {
                    code: error.code().to_owned(),
                },
            );
        }
    }
    result
}

#[tauri::command(rename_all = "snake_case")]
pub async fn register(
    state: State<'_, AppState>,
    email: String,
    password: SecretString,
    phone: Option<String>,
) -> Result<Started> {
    state
        .account
        .register(&email, password, phone.as_deref())
        .await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn submit_code(
    app: AppHandle,
    state: State<'_, AppState>,
    flow: Flow,
    id: String,
    step: CodeStep,
    code: SecretString,
) -> Result<Challenge> {
    let result = state.account.submit_code(flow, &id, step, &code).await;
    watch_session(&app, result)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn resend_code(
    app: AppHandle,
    state: State<'_, AppState>,
    flow: Flow,
    id: String,
) -> Result<Challenge> {
    let result = state.account.resend(flow, &id).await;
    watch_session(&app, result)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn login_password(
    state: State<'_, AppState>,
    email: String,
    password: SecretString,
) -> Result<LoginOutcome> {
    state.account.login_password(&email, password).await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn login_sms(
    state: State<'_, AppState>,
    challenge_id: String,
    code: SecretString,
) -> Result<SessionStatus> {
    state.account.login_sms(&challenge_id, &code).await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn login_resend(
    state: State<'_, AppState>,
    challenge_id: String,
) -> Result<LoginOutcome> {
    state.account.login_resend(&challenge_id).await
}

/// Logged in: only `phone`. Without a session: `email` and `password` too.
#[tauri::command(rename_all = "snake_case")]
pub async fn start_phone_change(
    app: AppHandle,
    state: State<'_, AppState>,
    phone: String,
    email: Option<String>,
    password: Option<SecretString>,
) -> Result<Started> {
    let credentials = match (email.as_deref(), password) {
        (Some(email), Some(password)) => Some((email, password)),
        _ => None,
    };
    let result = state.account.start_phone_change(&phone, credentials).await;
    watch_session(&app, result)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn session_info(app: AppHandle, state: State<'_, AppState>) -> Result<SessionStatus> {
    let result = state.account.session().await;
    watch_session(&app, result)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn cases(
    app: AppHandle,
    state: State<'_, AppState>,
    lang: String,
) -> Result<CasesAnswer> {
    let result = state.account.cases(&lang).await;
    watch_session(&app, result)
}

/// The user clicked a button or a link (not typing, not reading): activity for the idle limit.
#[tauri::command(rename_all = "snake_case")]
pub async fn user_activity(
    app: AppHandle,
    state: State<'_, AppState>,
) -> Result<Option<SessionStatus>> {
    let result = state.account.activity(false).await;
    watch_session(&app, result)
}

/// "Fortsätt vara inloggad" in the warning: activity the server hears of at once.
#[tauri::command(rename_all = "snake_case")]
pub async fn keep_session(
    app: AppHandle,
    state: State<'_, AppState>,
) -> Result<Option<SessionStatus>> {
    let result = state.account.activity(true).await;
    if result.is_ok() {
        let _ = app.emit(events::SESSION_ACTIVE, ());
    }
    watch_session(&app, result)
}

/// The UI's language, for what Rust says itself (desktop notifications).
#[tauri::command(rename_all = "snake_case")]
pub fn set_language(state: State<'_, AppState>, lang: Language) {
    if let Ok(mut language) = state.language.lock() {
        *language = lang;
    }
}

#[tauri::command(rename_all = "snake_case")]
pub async fn logout(state: State<'_, AppState>) -> Result<()> {
    state.account.logout().await
}

/// The demo backend's outbox (e-mails and SMS it "sent"); `not_found` on a real backend.
#[tauri::command(rename_all = "snake_case")]
pub async fn demo_outbox(state: State<'_, AppState>) -> Result<Vec<OutboxMessage>> {
    match *state.backend_status.borrow() {
        BackendStatus::Reachable { demo: true } => {}
        _ => {
            return Err(AppError::Backend {
                code: legitimera_protocol::codes::NOT_FOUND.to_owned(),
                status: 404,
                tries_left: None,
                retry_after: None,
                id: None,
            })
        }
    }
    state.api.demo_outbox().await
}
