//! The Legitimera desktop app: wires Tauri to the modules that do the work. Nothing here knows
//! about HTTP or timers; those modules know nothing about Tauri.

mod account;
mod api;
mod bankid;
mod bankid_commands;
mod commands;
pub mod config;
mod connectivity;
mod device;
pub mod error;
mod lifecycle;
pub mod locale;
mod logging;
mod notify;
pub mod session_timer;
pub mod settings;
mod siths;
mod siths_commands;
mod timeouts;
mod trusted;
pub mod wipe;

use std::sync::Arc;

use tauri::{Emitter, Manager};
use tokio::sync::{watch, Notify};

use crate::account::Account;
use crate::api::ApiClient;
use crate::config::{BackendUrl, BACKEND_URL_ENV};
use crate::connectivity::BackendStatus;

/// Events the UI listens to, named after what the user sees.
pub mod events {
    pub const BACKEND_STATUS: &str = "backend-status";
    /// The server ended the session (idle or absolute limit, or it no longer knows the token).
    pub const SESSION_ENDED: &str = "session-ended";
    /// The idle limit is near: `{seconds_left}`, every second until activity or the end.
    pub const SESSION_WARNING: &str = "session-warning";
    /// Activity after a warning: the warning can go.
    pub const SESSION_ACTIVE: &str = "session-active";
    /// A BankID login moved on: its message, QR code, or the session it ended in.
    pub const BANKID_STATUS: &str = "bankid-status";
    /// A reader or card came or went, or a card was read: what the SITHS view shows now.
    pub const CARD_CHANGED: &str = "card-changed";
}

include!("command_names.rs");

#[derive(Debug)]
pub struct AppState {
    api: ApiClient,
    account: Arc<Account>,
    /// The UI's language, for what Rust shows itself (notifications).
    language: std::sync::Mutex<locale::Language>,
    backend_status: watch::Receiver<BackendStatus>,
    check_backend_now: Arc<Notify>,
    /// What this computer remembers: settings, and trusted-device tokens.
    device: device::Device,
    /// Written at login, removed after the wipe (crash safety).
    marker: wipe::SessionMarker,
}

/// Set by tauri-driver for the app it launches in end-to-end tests.
const WEBVIEW_AUTOMATION_ENV: &str = "TAURI_WEBVIEW_AUTOMATION";

/// Creates the main window from tauri.conf.json (where it is `incognito: true`).
///
/// Under WebDriver automation only, the window is not incognito: wry builds incognito WebKitGTK
/// webviews on a fresh ephemeral context that never allows automation, so tauri-driver could
/// not drive it ("failed to create a new browsing context"). The wipe, not incognito mode, is
/// what guarantees nothing is left behind, and the residue tests check exactly that.
fn create_main_window(app: &tauri::App) -> tauri::Result<()> {
    let mut config = app
        .config()
        .app
        .windows
        .iter()
        .find(|window| window.label == "main")
        .cloned()
        .unwrap_or_default();
    if std::env::var(WEBVIEW_AUTOMATION_ENV).as_deref() == Ok("true") {
        tracing::warn!("webview automation is on: the main window is not incognito");
        config.incognito = false;
    }
    tauri::WebviewWindowBuilder::from_config(app.handle(), &config)?.build()?;
    Ok(())
}

/// Mesa, the GL driver WebKitGTK renders with on Linux, keeps a shader cache in the user's
/// cache directory (`~/.cache/mesa_shader_cache`), outside the app's own directories: the
/// residue test found its files after a session. Off for this process and the webview's, unless
/// the user chose otherwise. Called first, before any thread exists.
fn keep_gl_caches_off_disk() {
    #[cfg(target_os = "linux")]
    for (variable, value) in [
        ("MESA_SHADER_CACHE_DISABLE", "true"),
        // Mesa before 20.3 reads this name.
        ("MESA_GLSL_CACHE_DISABLE", "true"),
    ] {
        if std::env::var_os(variable).is_none()
            && std::env::var_os("MESA_SHADER_CACHE_DIR").is_none()
        {
            std::env::set_var(variable, value);
        }
    }
}

pub fn run() {
    keep_gl_caches_off_disk();
    let backend = match BackendUrl::from_args_and_env(
        std::env::args(),
        std::env::var(BACKEND_URL_ENV).ok(),
    ) {
        Ok(url) => url,
        Err(error) => {
            eprintln!("legitimera: {error}");
            std::process::exit(2);
        }
    };
    let api = match ApiClient::new(backend) {
        Ok(api) => api,
        Err(error) => {
            eprintln!("legitimera: {error}");
            std::process::exit(1);
        }
    };

    let app = tauri::Builder::default()
        // First, so a second launch hands over before anything else starts.
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            if let Some(window) = app.get_webview_window("main") {
                let _ = window.unminimize();
                let _ = window.show();
                let _ = window.set_focus();
            }
        }))
        .plugin(tauri_plugin_store::Builder::default().build())
        .setup(move |app| {
            let log_dir = app.path().app_log_dir()?;
            if let Some(guard) = logging::init(&log_dir) {
                app.manage(guard);
            }
            // Before the window exists: whatever a crashed or killed run left goes first.
            let places = lifecycle::places(app.handle())?;
            let store = {
                use tauri_plugin_store::StoreExt;
                app.store(places.config.join(settings::FILE))?
            };
            let device = device::Device::new(store, Arc::new(trusted::OsKeyring));
            lifecycle::wipe_at_start(&places, &device);
            let marker = wipe::SessionMarker::new(places.marker());
            create_main_window(app)?;
            tracing::info!(
                version = env!("CARGO_PKG_VERSION"),
                backend = api.base().as_str(),
                "starting"
            );

            let (status_tx, status_rx) = watch::channel(BackendStatus::Checking);
            let check_now = Arc::new(Notify::new());
            tauri::async_runtime::spawn(connectivity::watch(
                api.clone(),
                status_tx,
                check_now.clone(),
            ));
            let handle = app.handle().clone();
            let mut changes = status_rx.clone();
            tauri::async_runtime::spawn(async move {
                while changes.changed().await.is_ok() {
                    let status = changes.borrow_and_update().clone();
                    let _ = handle.emit(events::BACKEND_STATUS, status);
                }
            });
            let account = Arc::new(Account::new(
                api.clone(),
                Arc::new(session_timer::SystemClock),
                marker.clone(),
            ));
            tauri::async_runtime::spawn(timeouts::watch(app.handle().clone(), account.clone()));
            app.manage(bankid::BankId::new(api.clone()));
            bankid_commands::cancel_on_termination(app.handle());
            app.manage(siths::Siths::new(api.clone()));
            app.manage(AppState {
                account,
                language: std::sync::Mutex::new(locale::Language::from_os()),
                api: api.clone(),
                backend_status: status_rx,
                check_backend_now: check_now,
                device,
                marker,
            });
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::app_info,
            commands::backend_status,
            commands::retry_backend,
            commands::register,
            commands::submit_code,
            commands::resend_code,
            commands::login_password,
            commands::login_sms,
            commands::login_resend,
            commands::start_phone_change,
            commands::session_info,
            commands::cases,
            commands::user_activity,
            commands::keep_session,
            commands::set_language,
            commands::logout,
            commands::demo_outbox,
            commands::settings_get,
            commands::settings_set,
            commands::forget_device,
            commands::devices,
            commands::remove_device,
            bankid_commands::bankid_start,
            bankid_commands::bankid_cancel,
            bankid_commands::demo_bankid_app,
            siths_commands::siths_card_state,
            siths_commands::siths_login,
            siths_commands::siths_landing,
        ])
        // Closing the window ends the app, after its closing work: the open BankID order
        // cancelled, the session ended on the server, the webview's data cleared.
        .on_window_event(|window, event| match event {
            // begin_closing starts the closing work and says whether to wait for it.
            tauri::WindowEvent::CloseRequested { api, .. }
                if window.label() == "main" && lifecycle::begin_closing(window.app_handle()) =>
            {
                api.prevent_close();
            }
            tauri::WindowEvent::Destroyed if window.label() == "main" => {
                bankid_commands::cancel_on_exit(window.app_handle());
            }
            _ => {}
        })
        .build(tauri::generate_context!());
    let app = match app {
        Ok(app) => app,
        Err(error) => {
            eprintln!("legitimera: {error}");
            std::process::exit(1);
        }
    };
    app.run(|app, event| match event {
        tauri::RunEvent::ExitRequested { api, .. } if lifecycle::begin_closing(app) => {
            api.prevent_exit();
        }
        // The webview is gone: its files can go too.
        tauri::RunEvent::Exit => lifecycle::wipe_at_exit(app),
        _ => {}
    });
}
