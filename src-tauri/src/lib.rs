//! The Legitimera desktop app: Tauri around `legitimera_client`. This crate starts the
//! process (logging, the wipe at start, the window, the client's background loops), turns
//! commands into client calls and client events into `emit`, and ends the process. It holds
//! no rules: those are in `legitimera_client`, where they are unit-tested.

mod commands;
mod diagnose;
mod host;
mod lifecycle;
mod start;
mod startup;
pub mod update;

use std::sync::Arc;

use legitimera_client::device::Device;
use legitimera_client::keyring::OsKeyring;
use legitimera_client::session_timer::SystemClock;
use legitimera_client::wipe::{self, SessionMarker};
use legitimera_client::{logging, settings, Client, Parts};
use tauri::Manager;

use crate::host::{Host, StoreFile};
use crate::start::Start;

include!("command_names.rs");

/// Set by tauri-driver for the app it launches in end-to-end tests.
const WEBVIEW_AUTOMATION_ENV: &str = "TAURI_WEBVIEW_AUTOMATION";

pub fn run() {
    startup::begin();
    let args: Vec<String> = std::env::args().collect();
    if let Some(code) = start::answer_without_window(&args) {
        std::process::exit(code);
    }
    keep_gl_caches_off_disk();
    let start = start::configure(&args);
    startup::mark("configured");
    // zbus (the single-instance plugin's D-Bus name, claimed while the app is built) uses tokio
    // when a runtime is current, else async-io, whose `blocking` pool (1.7) keeps an idle
    // thread that wakes twice a second for ever: the app's idle cost.
    let runtime = tauri::async_runtime::handle();
    let entered = runtime.inner().enter();
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
        // Driven from Rust only (`update`); the webview is granted none of its commands.
        .plugin(tauri_plugin_updater::Builder::new().build())
        .setup(move |app| setup(app, start))
        .invoke_handler(tauri::generate_handler![
            commands::ui_ready,
            commands::about,
            commands::backend_status,
            commands::retry_backend,
            commands::register,
            commands::submit_code,
            commands::resend_code,
            commands::login_password,
            commands::login_email_code,
            commands::login_sms,
            commands::login_resend,
            commands::start_phone_change,
            commands::start_password_reset,
            commands::finish_password_reset,
            commands::change_password,
            commands::session_info,
            commands::cases,
            commands::user_activity,
            commands::keep_session,
            commands::set_language,
            commands::logout,
            // Demo-only commands: debug builds only (the release app has no test machinery).
            #[cfg(debug_assertions)]
            commands::demo_outbox,
            commands::settings_get,
            commands::settings_set,
            commands::forget_device,
            commands::devices,
            commands::remove_device,
            commands::bankid_start,
            commands::bankid_cancel,
            #[cfg(debug_assertions)]
            commands::demo_bankid_app,
            commands::siths_card_state,
            commands::siths_login,
            commands::siths_landing,
            commands::diagnostics_run,
            commands::diagnostics_report,
            commands::diagnostics_copy,
            commands::update_status,
            commands::update_install,
        ])
        .on_window_event(on_window_event)
        .build(tauri::generate_context!());
    drop(entered);
    match app {
        Ok(app) => app.run(on_run_event),
        Err(error) => {
            eprintln!("legitimera: {error}");
            std::process::exit(1);
        }
    }
}

/// Logging, the wipe of whatever a crashed run left (before the window exists), the window,
/// the client and its loops.
fn setup(app: &mut tauri::App, start: Start) -> Result<(), Box<dyn std::error::Error>> {
    startup::mark("setup");
    if let Some(guard) = logging::init(&app.path().app_log_dir()?) {
        app.manage(guard);
    }
    startup::mark("logging");
    let Start {
        api,
        policy,
        startup,
        updater,
    } = start;
    for error in &startup.policy_errors {
        tracing::warn!(key = error.key, message = error.message, "machine policy");
    }
    let update_plan = update::plan(app.handle(), &policy, &updater);
    let places = lifecycle::places(app.handle())?;
    let store = {
        use tauri_plugin_store::StoreExt;
        app.store(places.config.join(settings::FILE))?
    };
    let device = Device::governed(Arc::new(StoreFile(store)), Arc::new(OsKeyring), policy);
    startup::mark("settings");
    wipe::at_start(&places, &device);
    startup::mark("wiped");
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        backend = api.base().as_str(),
        "starting"
    );
    let host = Arc::new(Host(app.handle().clone()));
    let updates = update::updates(app.handle(), update_plan, updater.pubkey, host.clone());
    let client = Client::new(Parts {
        api,
        clock: Arc::new(SystemClock),
        device,
        marker: SessionMarker::new(places.marker()),
        events: host.clone(),
        desktop: host,
        startup,
    });
    create_main_window(app, &client.boot().script())?;
    startup::mark("window_created");
    let (background, updater) = (Arc::clone(&client), Arc::clone(&updates));
    tauri::async_runtime::spawn(async move {
        startup::first_view().await;
        tokio::spawn(Arc::clone(&background).watch_backend());
        tokio::spawn(background.run_session_clock());
        updater.run().await;
    });
    app.manage(updates);
    lifecycle::exit_on_signals(app.handle());
    app.manage(client);
    startup::mark("setup_done");
    Ok(())
}

/// Creates the main window from tauri.conf.json (where it is `incognito: true`).
///
/// Under WebDriver automation in debug builds only, the window is not incognito: wry builds incognito WebKitGTK
/// webviews on a fresh ephemeral context that never allows automation, so tauri-driver could
/// not drive it ("failed to create a new browsing context"). The wipe, not incognito mode, is
/// what guarantees nothing is left behind, and the residue tests check exactly that.
fn create_main_window(app: &tauri::App, boot: &str) -> tauri::Result<()> {
    let mut config = app
        .config()
        .app
        .windows
        .iter()
        .find(|window| window.label == "main")
        .cloned()
        .unwrap_or_default();
    // Release builds stay incognito whatever the environment says.
    if cfg!(debug_assertions) && std::env::var(WEBVIEW_AUTOMATION_ENV).as_deref() == Ok("true") {
        tracing::warn!("webview automation is on: the main window is not incognito");
        config.incognito = false;
    }
    let window = tauri::WebviewWindowBuilder::from_config(app.handle(), &config)?
        .initialization_script(boot)
        .build()?;
    render_without_compositing(&window);
    Ok(())
}

/// Closing the window ends the app, after its closing work.
fn on_window_event(window: &tauri::Window, event: &tauri::WindowEvent) {
    match event {
        tauri::WindowEvent::CloseRequested { api, .. }
            if window.label() == "main" && lifecycle::begin_closing(window.app_handle()) =>
        {
            api.prevent_close();
        }
        tauri::WindowEvent::Destroyed if window.label() == "main" => {
            lifecycle::window_destroyed(window.app_handle());
        }
        _ => {}
    }
}

fn on_run_event(app: &tauri::AppHandle, event: tauri::RunEvent) {
    match event {
        tauri::RunEvent::ExitRequested { api, .. } if lifecycle::begin_closing(app) => {
            api.prevent_exit();
        }
        // The webview is gone: its files can go too.
        tauri::RunEvent::Exit => lifecycle::exited(app),
        _ => {}
    }
}

/// WebKitGTK's accelerated compositing off (unless the user set `WEBKIT_DISABLE_COMPOSITING_MODE`
/// themselves): for static forms on GPU-less computers layers only cost, 198 vs 106 MB PSS in
/// the web process (`cargo xtask bench app`). On the webview's settings, not through that
/// variable, which held the first navigation back ~0.5 s in about half of all starts.
fn render_without_compositing(window: &tauri::WebviewWindow) {
    #[cfg(target_os = "linux")]
    if std::env::var_os("WEBKIT_DISABLE_COMPOSITING_MODE").is_none() {
        let applied = window.with_webview(|webview| {
            use webkit2gtk::{SettingsExt, WebViewExt};
            if let Some(settings) = webview.inner().settings() {
                settings.set_hardware_acceleration_policy(
                    webkit2gtk::HardwareAccelerationPolicy::Never,
                );
            }
        });
        if let Err(error) = applied {
            tracing::warn!(%error, "compositing could not be turned off");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = window;
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
