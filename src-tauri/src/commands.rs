//! The commands the webview may call (each granted in capabilities/main.json, listed in
//! command_names.rs). Each parses its arguments, calls the client and hands back its answer or
//! `{code, message}`; the rules are in `legitimera_client`.

use std::sync::Arc;

use legitimera_client::bankid::BankIdView;
#[cfg(debug_assertions)]
use legitimera_client::bankid::DemoAction;
use legitimera_client::connectivity::BackendStatus;
use legitimera_client::diagnostics::DiagnosticsView;
use legitimera_client::locale::Language;
use legitimera_client::settings::{Method, Mode, SettingsView};
use legitimera_client::siths::CardView;
use legitimera_client::{
    About, Client, CodeFlow, CodeSent, CodeStep, Forgotten, LoginOutcome, Result, SettingsChange,
    UpdateView, Updates,
};
#[cfg(debug_assertions)]
use legitimera_protocol::OutboxMessage;
use legitimera_protocol::{
    BankIdMode, CasesAnswer, Challenge, DevicesAnswer, SecretString, SessionStatus, StaffLanding,
};
use tauri::State;

type App<'a> = State<'a, Arc<Client>>;

/// The first view can be operated: the webview's part of the start-up timeline.
#[tauri::command]
pub fn ui_ready(timeline: crate::startup::UiMarks) {
    crate::startup::ui_ready(timeline);
}

/// "Om Legitimera": version, backend, the policies in force and their errors.
#[tauri::command]
pub fn about(client: App<'_>) -> About {
    client.about()
}

#[tauri::command]
pub fn backend_status(client: App<'_>) -> BackendStatus {
    client.backend_status()
}

#[tauri::command]
pub fn retry_backend(client: App<'_>) {
    client.retry_backend();
}

#[tauri::command(rename_all = "snake_case")]
pub async fn register(
    client: App<'_>,
    email: String,
    password: SecretString,
    phone: Option<String>,
) -> Result<CodeSent> {
    client.register(&email, password, phone.as_deref()).await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn submit_code(
    client: App<'_>,
    flow: CodeFlow,
    id: String,
    step: CodeStep,
    code: SecretString,
) -> Result<Challenge> {
    client.submit_code(flow, &id, step, &code).await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn resend_code(client: App<'_>, flow: CodeFlow, id: String) -> Result<Challenge> {
    client.resend_code(flow, &id).await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn login_password(
    client: App<'_>,
    email: String,
    password: SecretString,
) -> Result<LoginOutcome> {
    client.login_password(&email, password).await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn login_email_code(
    client: App<'_>,
    challenge_id: String,
    code: SecretString,
) -> Result<LoginOutcome> {
    client.login_email_code(&challenge_id, &code).await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn login_sms(
    client: App<'_>,
    challenge_id: String,
    code: SecretString,
    trust_device: Option<bool>,
) -> Result<SessionStatus> {
    client
        .login_sms(&challenge_id, &code, trust_device == Some(true))
        .await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn login_resend(client: App<'_>, challenge_id: String) -> Result<LoginOutcome> {
    client.login_resend(&challenge_id).await
}

/// Logged in: only `phone`. Without a session: `email` and `password` too.
#[tauri::command(rename_all = "snake_case")]
pub async fn start_phone_change(
    client: App<'_>,
    phone: String,
    email: Option<String>,
    password: Option<SecretString>,
) -> Result<CodeSent> {
    let credentials = email.as_deref().zip(password);
    client.start_phone_change(&phone, credentials).await
}

/// "Glömt lösenordet?": a code to the address; then `submit_code` with flow `password_reset`.
#[tauri::command(rename_all = "snake_case")]
pub async fn start_password_reset(client: App<'_>, email: String) -> Result<CodeSent> {
    client.start_password_reset(&email).await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn finish_password_reset(
    client: App<'_>,
    id: String,
    password: SecretString,
) -> Result<Challenge> {
    client.finish_password_reset(&id, password).await
}

/// "Byt lösenord" on Min sida.
#[tauri::command(rename_all = "snake_case")]
pub async fn change_password(
    client: App<'_>,
    current: SecretString,
    new: SecretString,
) -> Result<()> {
    client.change_password(current, new).await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn session_info(client: App<'_>) -> Result<SessionStatus> {
    client.session_info().await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn cases(client: App<'_>, lang: String) -> Result<CasesAnswer> {
    client.cases(&lang).await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn user_activity(client: App<'_>) -> Result<Option<SessionStatus>> {
    client.user_activity().await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn keep_session(client: App<'_>) -> Result<Option<SessionStatus>> {
    client.keep_session().await
}

#[tauri::command(rename_all = "snake_case")]
pub fn set_language(client: App<'_>, lang: Language) {
    client.set_language(lang);
}

#[tauri::command(rename_all = "snake_case")]
pub async fn logout(client: App<'_>) -> Result<()> {
    client.logout().await
}

/// Debug builds only, like every demo-only command.
#[cfg(debug_assertions)]
#[tauri::command(rename_all = "snake_case")]
pub async fn demo_outbox(client: App<'_>) -> Result<Vec<OutboxMessage>> {
    client.demo_outbox().await
}

#[tauri::command(rename_all = "snake_case")]
pub fn settings_get(client: App<'_>) -> SettingsView {
    client.settings()
}

#[tauri::command(rename_all = "snake_case")]
pub async fn settings_set(
    client: App<'_>,
    language: Option<Language>,
    preferred_method: Option<Method>,
    mode: Option<Mode>,
) -> Result<SettingsView> {
    let change = SettingsChange {
        language,
        preferred_method,
        mode,
    };
    client.change_settings(change).await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn forget_device(client: App<'_>) -> Result<Forgotten> {
    client.forget_device().await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn devices(client: App<'_>) -> Result<DevicesAnswer> {
    client.devices().await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn remove_device(client: App<'_>, id: String, current: bool) -> Result<()> {
    client.remove_device(&id, current).await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn bankid_start(client: App<'_>, mode: BankIdMode) -> Result<BankIdView> {
    client.inner().bankid_start(mode).await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn bankid_cancel(client: App<'_>, attempt: Option<u64>) -> Result<()> {
    client.bankid_cancel(attempt).await;
    Ok(())
}

#[cfg(debug_assertions)]
#[tauri::command(rename_all = "snake_case")]
pub async fn demo_bankid_app(client: App<'_>, action: DemoAction) -> Result<()> {
    client.demo_bankid_app(action).await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn siths_card_state(client: App<'_>) -> Result<CardView> {
    Ok(client.siths_card_state().await)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn siths_login(client: App<'_>, pin: SecretString) -> Result<SessionStatus> {
    client.siths_login(&pin).await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn siths_landing(client: App<'_>, lang: String) -> Result<StaffLanding> {
    client.siths_landing(&lang).await
}

/// "Problem med inloggningen?": the checks, with a test login when the PIN is given.
#[tauri::command(rename_all = "snake_case")]
pub async fn diagnostics_run(
    client: App<'_>,
    pin: Option<SecretString>,
) -> Result<DiagnosticsView> {
    client.run_diagnostics(pin.as_ref()).await
}

/// The last run's plain-text report (name and HSA-id only when `include_identity`).
#[tauri::command(rename_all = "snake_case")]
pub fn diagnostics_report(client: App<'_>, include_identity: bool) -> Option<String> {
    client.diagnostics_report(include_identity)
}

/// "Kopiera rapport": `null` when copied, else the text for the UI to copy itself.
#[tauri::command(rename_all = "snake_case")]
pub async fn diagnostics_copy(client: App<'_>, include_identity: bool) -> Result<Option<String>> {
    Ok(client.copy_diagnostics_report(include_identity).await)
}

/// The update on offer, if any ("En ny version finns").
#[tauri::command(rename_all = "snake_case")]
pub fn update_status(updates: State<'_, Arc<Updates>>) -> UpdateView {
    updates.view()
}

/// The user said yes: installed only with no session open (the client's rule).
#[tauri::command(rename_all = "snake_case")]
pub async fn update_install(
    client: App<'_>,
    updates: State<'_, Arc<Updates>>,
) -> Result<UpdateView> {
    updates.install(client.phase()).await
}
