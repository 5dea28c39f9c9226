//! The commands the webview may call (each granted in capabilities/main.json). Thin: validate,
//! delegate, return `{code, message}` on failure. When the server says the session is gone, the
//! UI hears `session-ended` whichever command found out.

use legitimera_protocol::ErrorCode;
use legitimera_protocol::{
    CasesAnswer, Challenge, DevicesAnswer, Email, OutboxMessage, SecretString, SessionStatus,
};
use serde::Serialize;
use tauri::{AppHandle, Emitter, State};

use crate::account::{LoginOutcome, Started};
use crate::api::{CodeStep, Flow};
use crate::connectivity::BackendStatus;
use crate::error::{AppError, Result};
use crate::lifecycle;
use crate::locale::Language;
use crate::settings::{Method, Mode, Settings};
use crate::{events, AppState};

#[derive(Debug, Serialize)]
pub struct AppInfo {
    version: &'static str,
    /// The language to start in: the user's choice, else the OS locale's.
    language: Language,
    backend_url: String,
}

#[tauri::command]
pub fn app_info(state: State<'_, AppState>) -> AppInfo {
    AppInfo {
        version: env!("CARGO_PKG_VERSION"),
        language: state
            .device
            .settings()
            .language
            .unwrap_or_else(Language::from_os),
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
    /// `session_expired`, `unauthorized`, `idle_timeout` or `absolute_timeout`.
    pub code: ErrorCode,
}

/// Tells the UI when `result` says the server ended the session (the token is already gone).
pub(crate) fn watch_session<T>(app: &AppHandle, result: Result<T>) -> Result<T> {
    if let Err(error) = &result {
        if error.ends_session() {
            let wiping = app.clone();
            tauri::async_runtime::spawn(async move {
                lifecycle::wipe_after_session(&wiping).await;
            });
            let _ = app.emit(events::SESSION_ENDED, SessionEnded { code: error.code() });
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

/// On a personal computer, the device's trusted token goes along (and is forgotten when the
/// server no longer takes it), and the address is remembered after the login.
#[tauri::command(rename_all = "snake_case")]
pub async fn login_password(
    state: State<'_, AppState>,
    email: String,
    password: SecretString,
) -> Result<LoginOutcome> {
    let email = Email::parse(&email)?;
    let device_token = state.device.token_for(&email);
    let outcome = state
        .account
        .login_password(&email, password, device_token)
        .await?;
    match &outcome {
        LoginOutcome::Session { .. } => state.device.logged_in(&email)?,
        LoginOutcome::SmsCode {
            device_refused: true,
            ..
        } => {
            tracing::info!("the server no longer trusts this device");
            state.device.untrust(&email)?;
        }
        LoginOutcome::SmsCode { .. } => {}
    }
    Ok(outcome)
}

/// `trust_device`: "Lita på den här enheten i 30 dagar" (honoured on a personal computer only).
#[tauri::command(rename_all = "snake_case")]
pub async fn login_sms(
    state: State<'_, AppState>,
    challenge_id: String,
    code: SecretString,
    trust_device: Option<bool>,
) -> Result<SessionStatus> {
    let personal = state.device.settings().mode == Mode::Personal;
    let trust_as = (personal && trust_device == Some(true)).then(device_label);
    let login = state
        .account
        .login_sms(&challenge_id, &code, trust_as)
        .await?;
    if let Some((email, token)) = &login.trusted {
        state.device.trust(email, token)?;
        state.device.logged_in(email)?;
    } else if let Some(email) = login.session.email.as_deref() {
        if let Ok(email) = Email::parse(email) {
            state.device.logged_in(&email)?;
        }
    }
    Ok(login.session)
}

/// What this device is called in the account's list of trusted devices.
fn device_label() -> String {
    let os = match std::env::consts::OS {
        "linux" => "Linux",
        "macos" => "macOS",
        "windows" => "Windows",
        other => other,
    };
    format!("Legitimera, {os}")
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
pub async fn logout(app: AppHandle, state: State<'_, AppState>) -> Result<()> {
    let result = state.account.logout().await;
    lifecycle::wipe_after_session(&app).await;
    result
}

/// The settings as the UI shows them (the keyring's entry names stay in Rust).
#[derive(Debug, Serialize)]
pub struct SettingsView {
    language: Option<Language>,
    preferred_method: Option<Method>,
    mode: Mode,
    remembered_email: Option<String>,
    /// This computer holds a trusted-device token.
    trusted: bool,
}

impl From<Settings> for SettingsView {
    fn from(settings: Settings) -> Self {
        SettingsView {
            language: settings.language,
            preferred_method: settings.preferred_method,
            mode: settings.mode,
            remembered_email: settings.remembered_email,
            trusted: !settings.keyring_entries.is_empty(),
        }
    }
}

#[tauri::command(rename_all = "snake_case")]
pub fn settings_get(state: State<'_, AppState>) -> SettingsView {
    state.device.settings().into()
}

/// Changes the given settings (absent ones stay). Leaving personal mode forgets the address
/// and this device's trust, here and on the server.
#[tauri::command(rename_all = "snake_case")]
pub async fn settings_set(
    state: State<'_, AppState>,
    language: Option<Language>,
    preferred_method: Option<Method>,
    mode: Option<Mode>,
) -> Result<SettingsView> {
    let (settings, forgotten) = state.device.choose(|settings| {
        if let Some(language) = language {
            settings.language = Some(language);
        }
        if let Some(method) = preferred_method {
            settings.preferred_method = Some(method);
        }
        if let Some(mode) = mode {
            settings.mode = mode;
        }
    })?;
    if let Some(language) = language {
        if let Ok(mut current) = state.language.lock() {
            *current = language;
        }
    }
    tell_server_to_forget(&state, forgotten).await;
    Ok(settings.into())
}

/// What "Glöm den här enheten" did.
#[derive(Debug, Serialize)]
pub struct Forgotten {
    /// Trusted-device tokens removed from the keyring.
    tokens: usize,
    /// Whether the server heard of each (if not, Min sida on another device can remove it).
    server_told: bool,
}

/// "Glöm den här enheten": the remembered address and the trusted-device tokens go from this
/// computer, and the server stops trusting the tokens.
#[tauri::command(rename_all = "snake_case")]
pub async fn forget_device(state: State<'_, AppState>) -> Result<Forgotten> {
    let tokens = state.device.forget()?;
    let count = tokens.len();
    let server_told = tell_server_to_forget(&state, tokens).await;
    Ok(Forgotten {
        tokens: count,
        server_told,
    })
}

async fn tell_server_to_forget(state: &AppState, tokens: Vec<SecretString>) -> bool {
    let mut all = true;
    for token in tokens {
        if let Err(error) = state.api.forget_device(&token).await {
            tracing::warn!(
                code = %error.code(),
                "the server did not hear that a device was forgotten"
            );
            all = false;
        }
    }
    all
}

/// Min sida: the account's trusted devices.
#[tauri::command(rename_all = "snake_case")]
pub async fn devices(app: AppHandle, state: State<'_, AppState>) -> Result<DevicesAnswer> {
    let result = state.account.devices().await;
    watch_session(&app, result)
}

/// Min sida: stop trusting a device. When it is this one, its token leaves the keyring too.
#[tauri::command(rename_all = "snake_case")]
pub async fn remove_device(
    app: AppHandle,
    state: State<'_, AppState>,
    id: String,
    current: bool,
) -> Result<()> {
    let result = state.account.remove_device(&id).await;
    let result = watch_session(&app, result);
    if result.is_ok() && current {
        if let Ok(status) = state.account.session().await {
            if let Some(email) = status.email.as_deref().and_then(|e| Email::parse(e).ok()) {
                state.device.untrust(&email)?;
            }
        }
    }
    result
}

/// The demo backend's outbox (e-mails and SMS it "sent"); `not_found` on a real backend.
#[tauri::command(rename_all = "snake_case")]
pub async fn demo_outbox(state: State<'_, AppState>) -> Result<Vec<OutboxMessage>> {
    match *state.backend_status.borrow() {
        BackendStatus::Reachable { demo: true } => {}
        _ => {
            return Err(AppError::Backend {
                code: ErrorCode::NotFound,
                status: 404,
                tries_left: None,
                retry_after: None,
                id: None,
            })
        }
    }
    state.api.demo_outbox().await
}
