//! The app as one object: every command the UI can give is a method here, and every rule
//! about what follows from it lives here too — what a personal computer remembers and trusts,
//! what is wiped when a session ends and how the user hears of it, when the session clock
//! warns and ends, what closing the app does. The Tauri crate only parses arguments, calls a
//! method and maps the result; `Events` and `Desktop` are how this talks back.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use legitimera_card::Pin;
use legitimera_protocol::{
    BankIdMode, CasesAnswer, Challenge, DevicesAnswer, Email, ErrorCode, OutboxMessage,
    SecretString, SessionStatus, StaffLanding,
};
use serde::Serialize;
use tokio::sync::{watch, Notify};

use crate::account::{Account, CodeSent, Ended, LoginOutcome, Phase};
use crate::api::{ApiClient, CodeFlow, CodeStep};
use crate::bankid::{BankId, BankIdView, DemoAction, OrderStarted};
use crate::config::BackendSource;
use crate::connectivity::{BackendStatus, Reachability};
use crate::device::Device;
use crate::error::{AppError, Result};
use crate::events::{Desktop, Events, SessionEnded, SessionWarning};
use crate::locale::Language;
use crate::policy::{PolicyError, PolicyReport};
use crate::session_timer::{Clock, Limit, TimerState};
use crate::settings::{Method, Mode, SettingsView};
use crate::siths::{CardView, Siths};
use crate::wipe::{self, Places, SessionMarker};

/// How long closing waits for the BankID cancel, the logout and the clearing, together.
pub const CLOSING_BOUND: Duration = Duration::from_secs(4);
/// How long closing waits for the server to hear that the open BankID order is cancelled.
const CANCEL_ON_EXIT: Duration = Duration::from_secs(2);

/// Whether a backend that says it is a demo one is treated as one (its outbox shown, BankID
/// answered by its test app). Only debug builds: a release build has no demo commands and
/// always opens the real BankID app.
const DEMO_ALLOWED: bool = cfg!(debug_assertions);

/// The session clock never looks again sooner than this (an ended session is wiped first).
const CLOCK_MIN_STEP: Duration = Duration::from_millis(100);

/// What the client is made of; the host builds the parts that touch the OS.
#[allow(missing_debug_implementations)] // trait objects of the host's
pub struct Parts {
    pub api: ApiClient,
    pub clock: Arc<dyn Clock>,
    pub device: Device,
    /// Written at login, removed after the wipe (crash safety).
    pub marker: SessionMarker,
    pub events: Arc<dyn Events>,
    pub desktop: Arc<dyn Desktop>,
    pub startup: Startup,
}

/// What start-up found out that the client reports ("Om Legitimera", `--policy-report`).
#[derive(Debug, Clone, Default)]
pub struct Startup {
    /// What was wrong with the machine policy (the device holds the policy itself).
    pub policy_errors: Vec<PolicyError>,
    /// Where the backend address came from; `None` when there is none.
    pub backend_source: Option<BackendSource>,
    /// Why there is no usable backend (`backend_not_configured`): the app then never asks one,
    /// and the first screen says so.
    pub backend_error: Option<ErrorCode>,
}

/// "Om Legitimera": version, backend, the policies in force and where each came from, errors.
#[derive(Debug, Serialize)]
pub struct About {
    pub version: &'static str,
    pub backend_url: Option<String>,
    pub backend_source: Option<BackendSource>,
    pub report: PolicyReport,
    /// Where each key set by policy came from (a file, the registry key, the profile).
    pub origins: std::collections::BTreeMap<&'static str, String>,
}

pub struct Client {
    api: ApiClient,
    account: Account,
    device: Device,
    bankid: BankId,
    siths: Siths,
    marker: SessionMarker,
    events: Arc<dyn Events>,
    desktop: Arc<dyn Desktop>,
    /// The UI's language, for what Rust shows itself (notifications).
    language: Mutex<Language>,
    backend: watch::Sender<BackendStatus>,
    check_backend_now: Notify,
    /// The session clock warned and no activity has come since.
    warned: AtomicBool,
    startup: Startup,
    diagnostics: crate::diagnostics::Runs,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Serialize)]
pub struct AppInfo {
    pub version: &'static str,
    /// The language to start in: the user's choice, else the OS locale's.
    pub language: Language,
    pub backend_url: String,
    /// The operating system (`linux`, `windows`, `macos`): the page picks its UI font by it.
    pub os: &'static str,
    /// Whether this build has the demo tools (debug builds: the demo outbox). The release app
    /// has none, so its page does not ask for them.
    pub demo_tools: bool,
}

/// What the window needs for its first view, handed to it before its page loads (so the first
/// paint is already translated and offers only the methods policy allows): no round trip to
/// Rust stands between the page and its first view.
#[derive(Debug, Serialize)]
pub struct Boot {
    pub info: AppInfo,
    pub settings: SettingsView,
}

/// The first view's catalogs, built in (the same files the page fetches on a language switch).
const CATALOG_SV: &str = include_str!("../../../ui/i18n/sv.json");
const CATALOG_EN: &str = include_str!("../../../ui/i18n/en.json");

impl Boot {
    /// `window.__LEGITIMERA_BOOT__`, for the window to run before the page's own scripts: this
    /// boot and the catalog of the language to start in, so the page renders its first view
    /// translated at once (ui/js/main.js) instead of asking Rust and fetching the catalog first.
    /// Each part is JSON in a string literal: `JSON.parse` reads it faster than an object literal.
    pub fn script(&self) -> String {
        let catalog = match self.info.language {
            Language::Sv => CATALOG_SV,
            Language::En => CATALOG_EN,
        };
        let literal = |json: &str| serde_json::to_string(json).unwrap_or_else(|_| "'{}'".into());
        let boot = literal(&serde_json::to_string(self).unwrap_or_else(|_| "{}".into()));
        let catalog = literal(catalog);
        format!(
            "Object.defineProperty(window, '__LEGITIMERA_BOOT__', {{ value: Object.freeze({{ ...JSON.parse({boot}), catalog: JSON.parse({catalog}) }}) }});"
        )
    }
}

/// What "Glöm den här enheten" did.
#[derive(Debug, Serialize)]
pub struct Forgotten {
    /// Trusted-device tokens removed from the keyring.
    pub tokens: usize,
    /// Whether the server heard of each (if not, Min sida on another device can remove it).
    pub server_told: bool,
}

/// The settings a user may change (absent ones stay).
#[derive(Debug, Default, Clone, Copy)]
pub struct SettingsChange {
    pub language: Option<Language>,
    pub preferred_method: Option<Method>,
    pub mode: Option<Mode>,
}

/// What this device is called in the account's list of trusted devices.
pub fn device_label() -> String {
    let os = match std::env::consts::OS {
        "linux" => "Linux",
        "macos" => "macOS",
        "windows" => "Windows",
        other => other,
    };
    format!("Legitimera, {os}")
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Client {
    pub fn new(parts: Parts) -> Arc<Self> {
        let Parts {
            api,
            clock,
            device,
            marker,
            events,
            desktop,
            startup,
        } = parts;
        let language = device.settings().language.unwrap_or_else(Language::from_os);
        let idle_limit = device.policy().idle_limit();
        Arc::new(Client {
            account: Account::new(api.clone(), clock, marker.clone()).with_idle_limit(idle_limit),
            bankid: BankId::new(api.clone()),
            siths: Siths::new(api.clone()),
            api,
            device,
            marker,
            events,
            desktop,
            language: Mutex::new(language),
            backend: watch::channel(BackendStatus::Checking).0,
            check_backend_now: Notify::new(),
            warned: AtomicBool::new(false),
            startup,
            diagnostics: crate::diagnostics::Runs::default(),
        })
    }

    pub fn phase(&self) -> Phase {
        self.account.phase()
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    pub fn app_info(&self) -> AppInfo {
        AppInfo {
            version: env!("CARGO_PKG_VERSION"),
            language: self
                .device
                .settings()
                .language
                .unwrap_or_else(Language::from_os),
            backend_url: self.api.base().as_str().to_owned(),
            os: std::env::consts::OS,
            demo_tools: DEMO_ALLOWED,
        }
    }

    /// The start-up info and the settings, for the window's first view.
    pub fn boot(&self) -> Boot {
        Boot {
            info: self.app_info(),
            settings: self.settings(),
        }
    }

    /// The settings in force with where each came from, and what was wrong with the policy.
    pub fn policy_report(&self) -> PolicyReport {
        let backend = self
            .startup
            .backend_source
            .map(|source| (self.api.base(), source));
        self.device
            .policy()
            .report(&self.startup.policy_errors, &self.device.stored(), backend)
    }

    pub fn about(&self) -> About {
        let configured = self.startup.backend_error.is_none();
        About {
            version: env!("CARGO_PKG_VERSION"),
            backend_url: configured.then(|| self.api.base().as_str().to_owned()),
            backend_source: self.startup.backend_source,
            report: self.policy_report(),
            origins: self.device.policy().origins.clone(),
        }
    }

    // ---- the backend's reachability ------------------------------------------------------------

    pub fn backend_status(&self) -> BackendStatus {
        self.backend.borrow().clone()
    }

    /// "Försök igen": check the backend now instead of waiting for the next retry.
    pub fn retry_backend(&self) {
        self.check_backend_now.notify_one();
    }

    /// Checks the backend once, tells the UI when its status changed; answers when to check
    /// again.
    pub async fn check_backend(&self, reachability: &mut Reachability) -> Duration {
        if let Some(code) = self.startup.backend_error {
            let next = BackendStatus::Unreachable {
                code,
                retry_in_ms: 0,
            };
            if self.backend.send_replace(next.clone()) != next {
                self.events.backend_status(&next);
            }
            // Nothing to retry: only a new installation or policy can give it an address.
            return Duration::from_secs(24 * 60 * 60);
        }
        let outcome = self.api.health().await;
        if let Err(error) = &outcome {
            tracing::warn!(code = %error.code(), error = %error, "backend check failed");
        }
        let (next, delay) =
            reachability.record(outcome.as_ref().map(|health| health.demo && DEMO_ALLOWED));
        let changed = self.backend.send_if_modified(|current| {
            let changed = *current != next;
            *current = next.clone();
            changed
        });
        if changed {
            self.events.backend_status(&next);
        }
        delay
    }

    /// Checks the backend for as long as the app runs: at start, on schedule (less often while
    /// someone is logged in and it is reachable), and at once when the user asks.
    pub async fn watch_backend(self: Arc<Self>) {
        let mut reachability = Reachability::default();
        loop {
            let mut delay = self.check_backend(&mut reachability).await;
            let reachable = matches!(*self.backend.borrow(), BackendStatus::Reachable { .. });
            if reachable && self.account.tick().is_some() {
                delay = crate::connectivity::HEALTHY_INTERVAL_LOGGED_IN;
            }
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = self.check_backend_now.notified() => {}
            }
        }
    }

    fn demo_backend(&self) -> bool {
        matches!(
            *self.backend.borrow(),
            BackendStatus::Reachable { demo: true }
        )
    }

    /// Whether the backend is a demo one, asking it when its status is not known yet (a start
    /// right after launch must not open the real BankID app for a demo order, nor the other
    /// way round).
    async fn demo_backend_now(&self) -> bool {
        let known = match *self.backend.borrow() {
            BackendStatus::Reachable { demo } => Some(demo),
            _ => None,
        };
        match known {
            Some(demo) => demo,
            None => self
                .api
                .health()
                .await
                .is_ok_and(|health| health.demo && DEMO_ALLOWED),
        }
    }

    // ---- the session clock ---------------------------------------------------------------------

    /// One look at the session clock: warns (and, when the window is not in front, the
    /// desktop once per warning), takes back a warning after activity, and ends a session
    /// whose limit is reached — on the server, then the wipe, then the UI is told.
    pub async fn check_session_clock(&self) {
        match self.account.tick() {
            None | Some(TimerState::Active) => {
                if self.warned.swap(false, Ordering::SeqCst) {
                    self.events.session_active();
                }
            }
            Some(TimerState::Warning { left }) => {
                let seconds_left = left.as_secs_f64().ceil() as u64;
                self.events.session_warning(SessionWarning { seconds_left });
                if !self.warned.swap(true, Ordering::SeqCst) && !self.desktop.window_in_front() {
                    let (summary, body) =
                        crate::notify::session_warning_text(self.language(), seconds_left);
                    self.desktop.notify(summary, &body);
                }
            }
            Some(TimerState::Ended(limit)) => {
                self.warned.store(false, Ordering::SeqCst);
                self.account.expire(limit).await;
                self.wipe_after_session().await;
                let code = match limit {
                    Limit::Idle => ErrorCode::IdleTimeout,
                    Limit::Absolute => ErrorCode::AbsoluteTimeout,
                };
                self.events.session_ended(SessionEnded { code });
            }
        }
    }

    /// Returns once someone is logged in (at once if someone is).
    pub async fn until_logged_in(&self) {
        self.account.logged_in().await;
    }

    /// Looks at the session clock whenever its state may change by time alone (the warning,
    /// each second of the warning's countdown, the end) while someone is logged in, for as
    /// long as the app runs, and sleeps in between: an idle app wakes for nothing. While nobody
    /// is logged in, it sleeps until someone logs in. The sleep counts time in suspend too
    /// (`wake`: a computer that slept past the limit ends the session as it wakes), and ends
    /// early at no cost: activity only moves the deadlines later, so waking at an old one just
    /// sleeps again until the new one.
    pub async fn run_session_clock(self: Arc<Self>) {
        loop {
            self.check_session_clock().await;
            match self.account.next_clock_change() {
                None => self.until_logged_in().await,
                Some(wait) => crate::wake::after(wait.max(CLOCK_MIN_STEP)).await,
            }
        }
    }

    pub fn language(&self) -> Language {
        *lock(&self.language)
    }

    /// The UI's language, for what Rust says itself (desktop notifications).
    pub fn set_language(&self, language: Language) {
        *lock(&self.language) = language;
    }

    // ---- accounts ------------------------------------------------------------------------------

    /// Passes a session call's result on; when the server ended the session, the wipe runs and
    /// the UI hears `session-ended`, whichever call found out.
    async fn end_if_server_ended<T>(&self, result: Result<T, Ended>) -> Result<T> {
        match result {
            Ok(value) => Ok(value),
            Err(Ended::No(error)) => Err(error),
            Err(Ended::Yes(error)) => {
                self.wipe_after_session().await;
                self.events
                    .session_ended(SessionEnded { code: error.code() });
                Err(error)
            }
        }
    }

    pub async fn register(
        &self,
        email: &str,
        password: SecretString,
        phone: Option<&str>,
    ) -> Result<CodeSent> {
        self.account.register(email, password, phone).await
    }

    pub async fn submit_code(
        &self,
        flow: CodeFlow,
        id: &str,
        step: CodeStep,
        code: &SecretString,
    ) -> Result<Challenge> {
        let result = self.account.submit_code(flow, id, step, code).await;
        self.end_if_server_ended(result).await
    }

    pub async fn resend_code(&self, flow: CodeFlow, id: &str) -> Result<Challenge> {
        let result = self.account.resend(flow, id).await;
        self.end_if_server_ended(result).await
    }

    /// On a personal computer, the device's trusted token goes along (and is forgotten when the
    /// server no longer takes it), and the address is remembered after the login.
    pub async fn login_password(
        &self,
        email: &str,
        password: SecretString,
    ) -> Result<LoginOutcome> {
        let email = Email::parse(email)?;
        let device_token = self.device.token_for(&email);
        let outcome = self
            .account
            .login_password(&email, password, device_token)
            .await?;
        match &outcome {
            LoginOutcome::Session { .. } => self.device.logged_in(&email)?,
            LoginOutcome::SmsCode {
                device_refused: true,
                ..
            } => {
                tracing::info!("the server no longer trusts this device");
                self.device.untrust(&email)?;
            }
            LoginOutcome::SmsCode { .. } | LoginOutcome::EmailCode { .. } => {}
        }
        Ok(outcome)
    }

    /// After many wrong passwords: the code from the account's e-mail. Then a session, or the
    /// SMS code with two-step verification (no trusted device stands in for it here).
    pub async fn login_email_code(
        &self,
        challenge_id: &str,
        code: &SecretString,
    ) -> Result<LoginOutcome> {
        let outcome = self.account.login_email_code(challenge_id, code).await?;
        if let LoginOutcome::Session { session } = &outcome {
            if let Some(email) = session.email.as_deref().and_then(|e| Email::parse(e).ok()) {
                self.device.logged_in(&email)?;
            }
        }
        Ok(outcome)
    }

    /// `trust_device`: "Lita på den här enheten i 30 dagar", honoured on a personal computer
    /// only: a shared one never asks the server for a token.
    pub async fn login_sms(
        &self,
        challenge_id: &str,
        code: &SecretString,
        trust_device: bool,
    ) -> Result<SessionStatus> {
        let personal = self.device.settings().mode == Mode::Personal;
        let trust_as = (personal && trust_device).then(device_label);
        let login = self.account.login_sms(challenge_id, code, trust_as).await?;
        let email = login.email.or_else(|| {
            login
                .session
                .email
                .as_deref()
                .and_then(|e| Email::parse(e).ok())
        });
        if let Some(email) = &email {
            if let Some(token) = &login.device_token {
                self.device.trust(email, token)?;
            }
            self.device.logged_in(email)?;
        }
        Ok(login.session)
    }

    pub async fn login_resend(&self, challenge_id: &str) -> Result<LoginOutcome> {
        self.account.login_resend(challenge_id).await
    }

    /// Logged in: only `phone`. Without a session: `email` and `password` too.
    pub async fn start_phone_change(
        &self,
        phone: &str,
        credentials: Option<(&str, SecretString)>,
    ) -> Result<CodeSent> {
        let result = self.account.start_phone_change(phone, credentials).await;
        self.end_if_server_ended(result).await
    }

    /// "Glömt lösenordet?": a code goes to the address (if it has an account).
    pub async fn start_password_reset(&self, email: &str) -> Result<CodeSent> {
        self.account.start_password_reset(email).await
    }

    /// The new password, once the reset's codes are answered (`submit_code` with
    /// `CodeFlow::PasswordReset`). Every session of the account ends on the server.
    pub async fn finish_password_reset(
        &self,
        id: &str,
        password: SecretString,
    ) -> Result<Challenge> {
        self.account.finish_password_reset(id, password).await
    }

    /// "Byt lösenord": the account's other sessions end; this one goes on.
    pub async fn change_password(&self, current: SecretString, new: SecretString) -> Result<()> {
        let result = self.account.change_password(current, new).await;
        self.end_if_server_ended(result).await
    }

    pub async fn session_info(&self) -> Result<SessionStatus> {
        let result = self.account.session().await;
        self.end_if_server_ended(result).await
    }

    pub async fn cases(&self, lang: &str) -> Result<CasesAnswer> {
        let result = self.account.cases(lang).await;
        self.end_if_server_ended(result).await
    }

    /// The user clicked a button or a link (not typing, not reading): activity for the idle
    /// limit, told to the server at most once a minute.
    pub async fn user_activity(&self) -> Result<Option<SessionStatus>> {
        let result = self.account.activity(false).await;
        self.end_if_server_ended(result).await
    }

    /// "Fortsätt vara inloggad" in the warning: activity the server hears of at once.
    pub async fn keep_session(&self) -> Result<Option<SessionStatus>> {
        let result = self.account.activity(true).await;
        if result.is_ok() {
            self.warned.store(false, Ordering::SeqCst);
            self.events.session_active();
        }
        self.end_if_server_ended(result).await
    }

    /// Ends the session on the server and wipes, even when the server cannot be reached (its
    /// idle limit ends the session there).
    pub async fn logout(&self) -> Result<()> {
        let result = self.account.logout().await;
        self.wipe_after_session().await;
        result
    }

    /// The demo backend's outbox (e-mails and SMS it "sent"); `not_found` on a real backend.
    pub async fn demo_outbox(&self) -> Result<Vec<OutboxMessage>> {
        if !self.demo_backend() {
            return Err(AppError::backend(ErrorCode::NotFound, 404));
        }
        self.api.demo_outbox().await
    }

    // ---- settings and trusted devices ----------------------------------------------------------

    pub fn settings(&self) -> SettingsView {
        SettingsView::new(self.device.settings(), self.device.policy())
    }

    /// Changes the given settings. Leaving personal mode forgets the address and this device's
    /// trust, here and on the server. A setting machine policy locks is refused
    /// (`setting_locked`) unless the change keeps its value; so is a method policy does not
    /// allow.
    pub async fn change_settings(&self, change: SettingsChange) -> Result<SettingsView> {
        let policy = self.device.policy();
        let now = self.device.settings();
        if policy.language_locked() && change.language.is_some_and(|l| Some(l) != now.language) {
            return Err(AppError::SettingLocked("Language"));
        }
        if let Some(method) = change.preferred_method {
            let locked = policy.preferred_method_locked() && Some(method) != now.preferred_method;
            if locked || !policy.allows(method) {
                return Err(AppError::SettingLocked("PreferredMethod"));
            }
        }
        if policy.mode_locked() && change.mode.is_some_and(|m| m != now.mode) {
            return Err(AppError::SettingLocked("ComputerMode"));
        }
        // What is left of a locked setting is its own value: nothing to store.
        let change = SettingsChange {
            language: change.language.filter(|_| !policy.language_locked()),
            preferred_method: change
                .preferred_method
                .filter(|_| !policy.preferred_method_locked()),
            mode: change.mode.filter(|_| !policy.mode_locked()),
        };
        let (settings, forgotten) = self.device.choose(|settings| {
            if let Some(language) = change.language {
                settings.language = Some(language);
            }
            if let Some(method) = change.preferred_method {
                settings.preferred_method = Some(method);
            }
            if let Some(mode) = change.mode {
                settings.mode = mode;
            }
        })?;
        if let Some(language) = change.language {
            self.set_language(language);
        }
        self.tell_server_to_forget(forgotten).await;
        Ok(SettingsView::new(settings, policy))
    }

    /// "Glöm den här enheten": the remembered address and the trusted-device tokens go from
    /// this computer, and the server stops trusting the tokens.
    pub async fn forget_device(&self) -> Result<Forgotten> {
        let tokens = self.device.forget()?;
        let count = tokens.len();
        let server_told = self.tell_server_to_forget(tokens).await;
        Ok(Forgotten {
            tokens: count,
            server_told,
        })
    }

    async fn tell_server_to_forget(&self, tokens: Vec<SecretString>) -> bool {
        let mut all = true;
        for token in tokens {
            if let Err(error) = self.api.forget_device(&token).await {
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
    pub async fn devices(&self) -> Result<DevicesAnswer> {
        let result = self.account.devices().await;
        self.end_if_server_ended(result).await
    }

    /// Min sida: stop trusting a device. When it is this one (`current`), its token leaves the
    /// keyring too.
    pub async fn remove_device(&self, id: &str, current: bool) -> Result<()> {
        let result = self.account.remove_device(id).await;
        self.end_if_server_ended(result).await?;
        if current {
            // The address is the session's; should asking fail, the token stays until the
            // server refuses it at the next login, which deletes it then.
            let status = self.account.session().await;
            if let Ok(status) = self.end_if_server_ended(status).await {
                if let Some(email) = status.email.as_deref().and_then(|e| Email::parse(e).ok()) {
                    self.device.untrust(&email)?;
                }
            }
        }
        Ok(())
    }

    // ---- BankID --------------------------------------------------------------------------------

    /// Starts a BankID login in `mode` and answers its first state; later states come as
    /// `bankid-status`. On this device the OS opens the BankID app, except with a demo
    /// backend, whose test app the UI offers instead.
    pub async fn bankid_start(self: &Arc<Self>, mode: BankIdMode) -> Result<BankIdView> {
        let OrderStarted { attempt, order } = self.bankid.start(mode).await?;
        let first = BankIdView::of(attempt, &order);
        if mode == BankIdMode::ThisDevice && !self.demo_backend_now().await {
            let opened = match self.bankid.open_launch_url(attempt) {
                Some(url) => self.desktop.open_url(url).await,
                None => {
                    tracing::warn!("the BankID order has no usable autostart token");
                    false
                }
            };
            if !opened {
                self.bankid.cancel(Some(attempt)).await;
                return Ok(BankIdView::failed(attempt, mode, "RFA17A"));
            }
        }
        let client = Arc::clone(self);
        let follower = tokio::spawn(async move { client.follow_bankid(attempt, order).await });
        self.bankid.set_follower(attempt, follower.abort_handle());
        Ok(first)
    }

    async fn follow_bankid(&self, attempt: u64, order: legitimera_protocol::BankIdOrder) {
        let mode = order.mode;
        let events = &self.events;
        let Some(token) = self
            .bankid
            .follow(attempt, order, |view| events.bankid_status(&view))
            .await
        else {
            return;
        };
        match self.account.begin(token).await {
            Ok(session) => events.bankid_status(&BankIdView::logged_in(attempt, mode, session)),
            Err(error) => {
                tracing::warn!(
                    code = %error.code(),
                    "the BankID session could not be started"
                );
                events.bankid_status(&BankIdView::failed(attempt, mode, "RFA5"));
            }
        }
    }

    /// The user cancelled or left the view. `attempt`: only that one (a newer start is kept).
    pub async fn bankid_cancel(&self, attempt: Option<u64>) {
        self.bankid.cancel(attempt).await;
    }

    /// Demo backends only: the simulator's test BankID app signs or cancels the open order, as
    /// the user's own BankID app would.
    pub async fn demo_bankid_app(&self, action: DemoAction) -> Result<()> {
        if !self.demo_backend() {
            return Err(AppError::backend(ErrorCode::NotFound, 404));
        }
        self.bankid.demo_app(action).await
    }

    // ---- SITHS ---------------------------------------------------------------------------------

    /// What the SITHS view shows now; from here on every change comes as `card-changed`.
    pub async fn siths_card_state(&self) -> CardView {
        let events = Arc::clone(&self.events);
        self.siths
            .watch(move |view| events.card_changed(&view))
            .await
    }

    /// Logs in with the card and `pin`. The PIN is parsed (and zeroized) here; a refused one is
    /// never sent again by the app.
    pub async fn siths_login(&self, pin: &SecretString) -> Result<SessionStatus> {
        let pin = Pin::parse(pin.expose())?;
        let result = self.siths.login(&self.account, pin).await;
        if let Err(error) = &result {
            tracing::info!(code = %error.code(), "SITHS login failed");
        }
        result
    }

    /// The staff landing page of the SITHS session, in `lang`.
    pub async fn siths_landing(&self, lang: &str) -> Result<StaffLanding> {
        let result = self.account.staff_landing(lang).await;
        self.end_if_server_ended(result).await
    }

    // ---- "Problem med inloggningen?" -----------------------------------------------------------

    /// Runs the troubleshooting checks, telling the UI of each (`diagnostics-progress`), with a
    /// test login when `pin` is given. One run at a time; the report is kept for copying.
    pub async fn run_diagnostics(
        &self,
        pin: Option<&SecretString>,
    ) -> Result<crate::diagnostics::DiagnosticsView> {
        let pin = pin.map(|typed| Pin::parse(typed.expose())).transpose()?;
        let _one_at_a_time = self.diagnostics.running.lock().await;
        let language = *lock(&self.language);
        let policy = self.device.policy();
        let api = self
            .startup
            .backend_error
            .is_none()
            .then(|| self.api.clone());
        let options = crate::diagnostics::Options::for_this_machine(
            language,
            api,
            policy.diagnostics_hosts.as_deref(),
        );
        let events = Arc::clone(&self.events);
        let report = crate::diagnostics::run(&options, pin, move |progress| {
            events.diagnostics_progress(&progress);
        })
        .await;
        tracing::info!(failed = report.exit_code() == 1, "diagnostics run");
        self.diagnostics.finished(report.clone());
        Ok(crate::diagnostics::DiagnosticsView {
            report,
            contact_centre: policy.contact_centre.clone(),
        })
    }

    /// The last run's plain-text report; the holder's name and HSA-id only when asked.
    pub fn diagnostics_report(&self, include_identity: bool) -> Option<String> {
        let language = *lock(&self.language);
        self.diagnostics
            .last()
            .map(|report| report.to_text(language, include_identity))
    }

    /// "Kopiera rapport": the report onto the clipboard. Answers the text when the host could
    /// not copy it (the UI copies it then); the wipe clears the clipboard if it still holds it.
    pub async fn copy_diagnostics_report(&self, include_identity: bool) -> Option<String> {
        let text = self.diagnostics_report(include_identity)?;
        self.diagnostics.copied(text.clone());
        if self.desktop.write_clipboard(text.clone()).await {
            None
        } else {
            Some(text)
        }
    }

    // ---- the wipe and closing ------------------------------------------------------------------

    /// A session ended (logout, expiry, or the server ended it): the webview forgets everything
    /// it held, nothing personal stays in the settings or keyring on a shared computer, and the
    /// marker goes.
    pub async fn wipe_after_session(&self) {
        if let Some(copied) = self.diagnostics.take_for_wipe() {
            self.desktop.clear_clipboard_if(copied).await;
        }
        self.desktop.clear_webview_data().await;
        self.device.wipe_if_shared();
        if let Err(error) = self.marker.clear() {
            tracing::warn!(%error, "could not remove the session marker");
        }
    }

    /// The closing work, within `CLOSING_BOUND`: the open BankID order cancelled, the session
    /// ended on the server, the wipe. The host exits afterwards.
    pub async fn close(&self) {
        let work = async {
            let _ = tokio::time::timeout(CANCEL_ON_EXIT, self.bankid.cancel(None)).await;
            if let Err(error) = self.account.logout().await {
                tracing::warn!(
                    code = %error.code(),
                    "closing: the logout did not reach the server"
                );
            }
            self.wipe_after_session().await;
        };
        if tokio::time::timeout(CLOSING_BOUND, work).await.is_err() {
            tracing::warn!("closing took too long: exiting without waiting further");
        }
    }

    /// The window went without the closing work: at least the open order is cancelled.
    pub async fn cancel_bankid_on_exit(&self) {
        let _ = tokio::time::timeout(CANCEL_ON_EXIT, self.bankid.cancel(None)).await;
    }

    /// The event loop ended and the webview is gone: its files can go too.
    pub fn wipe_at_exit(&self, places: &Places) {
        self.device.wipe_if_shared();
        wipe::remove_files_then_marker(places, &self.marker);
        tracing::info!("exited, wiped");
    }
}
