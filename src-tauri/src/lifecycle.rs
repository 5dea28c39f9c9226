//! The process's life: the wipe at start (before the window exists) and at exit (after the
//! webview is gone), one closing path for the window's close button, `app.exit` and the
//! signals a desktop or `kill` sends. What closing does is `Client::close`; this module says
//! when.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use legitimera_client::wipe::Places;
use legitimera_client::Client;
use tauri::{AppHandle, Manager, Runtime};

/// Set once closing has begun, so the second exit request (ours) goes through.
static CLOSING: AtomicBool = AtomicBool::new(false);

/// The app's own directories, where Tauri puts them on this OS.
pub fn places<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<Places> {
    let path = app.path();
    Ok(Places {
        config: path.app_config_dir()?,
        data: path.app_data_dir()?,
        local_data: path.app_local_data_dir()?,
        cache: path.app_cache_dir()?,
        logs: path.app_log_dir()?,
    })
}

/// The window is closing or the app was asked to exit: answers `true` when the caller must
/// wait (this starts the closing work, which ends the app itself), `false` to let it go on.
pub fn begin_closing(app: &AppHandle) -> bool {
    if CLOSING.swap(true, Ordering::SeqCst) {
        return false;
    }
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        if let Some(client) = app.try_state::<Arc<Client>>() {
            client.close().await;
        }
        app.exit(0);
    });
    true
}

/// The window went without the closing work (it normally runs first): at least the open
/// BankID order is cancelled.
pub fn window_destroyed(app: &AppHandle) {
    if let Some(client) = app.try_state::<Arc<Client>>() {
        tauri::async_runtime::block_on(client.cancel_bankid_on_exit());
    }
}

/// The event loop ends: the webview is gone, so its files can go.
pub fn exited(app: &AppHandle) {
    let (Ok(places), Some(client)) = (places(app), app.try_state::<Arc<Client>>()) else {
        return;
    };
    client.wipe_at_exit(&places);
}

/// Terminated by a signal (the desktop session ends, WebDriver closes the window, `kill`): the
/// window events never come, so the app is asked to exit, which runs the closing work as
/// closing the window does.
#[cfg(unix)]
pub fn exit_on_signals(app: &AppHandle) {
    use tokio::signal::unix::{signal, SignalKind};
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let (Ok(mut term), Ok(mut hangup), Ok(mut interrupt)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
            signal(SignalKind::interrupt()),
        ) else {
            tracing::warn!("no signal handlers: a signal ends the app without its closing work");
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = hangup.recv() => {}
            _ = interrupt.recv() => {}
        }
        tracing::info!("terminated by a signal");
        app.exit(0);
    });
}

#[cfg(not(unix))]
pub fn exit_on_signals(_app: &AppHandle) {}
