//! When the wipe runs: at start (before the window exists), when a session ends (logout,
//! expiry, the server ending it), and when the app closes (window closed, `app.exit`, a
//! signal). Closing waits for the server to hear the logout and for the webview's data to be
//! cleared, within a bound, before the window goes; the files go once the webview is gone.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tauri::{AppHandle, Manager, Runtime};

use crate::wipe::{Places, SessionMarker};
use crate::AppState;

/// How long closing waits for the logout and the clearing, together.
const CLOSING_BOUND: Duration = Duration::from_secs(4);

/// How long clearing the webview's data may take before the app goes on without it.
const CLEARING_BOUND: Duration = Duration::from_secs(3);

/// Set once closing has begun, so the second exit request (ours) goes through.
static CLOSING: AtomicBool = AtomicBool::new(false);

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

/// At start, before the window exists: whatever the last run left goes. A marker means that
/// run ended with a session open and no wipe (a crash, `kill -9`, power loss).
pub fn wipe_at_start(places: &Places, device: &crate::device::Device) {
    let marker = SessionMarker::new(places.marker());
    let unclean = marker.is_set();
    if unclean {
        tracing::warn!("the last run ended with a session open: wiping what it left");
    }
    device.wipe_if_shared();
    finish_files(places, &marker);
    if unclean {
        tracing::info!("the last run's leftovers are wiped");
    }
}

fn finish_files(places: &Places, marker: &SessionMarker) {
    let outcome = places.remove_files();
    for (path, error) in &outcome.failed {
        tracing::warn!(path = %path.display(), %error, "could not remove a leftover");
    }
    if outcome.failed.is_empty() {
        if let Err(error) = marker.clear() {
            tracing::warn!(%error, "could not remove the session marker");
        }
    }
    tracing::debug!(removed = outcome.removed, "files wiped");
}

/// A session ended (logout, expiry, or the server ended it): the webview forgets everything it
/// held and nothing personal stays in the settings or keyring on a shared computer.
pub async fn wipe_after_session(app: &AppHandle) {
    clear_browsing_data(app).await;
    let state = app.state::<AppState>();
    state.device.wipe_if_shared();
    if let Err(error) = state.marker.clear() {
        tracing::warn!(%error, "could not remove the session marker");
    }
}

/// The window is closing or the app was asked to exit: answers `true` when the caller must
/// wait (this starts the closing work, which ends the app itself), `false` to let it go on.
pub fn begin_closing(app: &AppHandle) -> bool {
    if CLOSING.swap(true, Ordering::SeqCst) {
        return false;
    }
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let work = async {
            crate::bankid_commands::cancel_open_order(&app).await;
            let state = app.state::<AppState>();
            if let Err(error) = state.account.logout().await {
                tracing::warn!(
                    code = %error.code(),
                    "closing: the logout did not reach the server"
                );
            }
            wipe_after_session(&app).await;
        };
        if tokio::time::timeout(CLOSING_BOUND, work).await.is_err() {
            tracing::warn!("closing took too long: exiting without waiting further");
        }
        app.exit(0);
    });
    true
}

/// The event loop ends: the webview is gone, so its files can go.
pub fn wipe_at_exit(app: &AppHandle) {
    let Ok(places) = places(app) else {
        return;
    };
    let state = app.state::<AppState>();
    state.device.wipe_if_shared();
    finish_files(&places, &state.marker);
    tracing::info!("exited, wiped");
}

/// Clears every kind of data the webview holds, and waits until WebKit says it is done.
#[cfg(target_os = "linux")]
async fn clear_browsing_data(app: &AppHandle) {
    use webkit2gtk::{WebViewExt, WebsiteDataManagerExtManual};
    let Some(window) = app.get_webview_window("main") else {
        return;
    };
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let asked = window.with_webview(move |webview| {
        let Some(manager) = webview.inner().website_data_manager() else {
            let _ = done_tx.send(Err("no website data manager".to_owned()));
            return;
        };
        manager.clear(
            webkit2gtk::WebsiteDataTypes::ALL,
            webkit2gtk::glib::TimeSpan::from_seconds(0),
            None::<&webkit2gtk::gio::Cancellable>,
            move |result| {
                let _ = done_tx.send(result.map_err(|error| error.to_string()));
            },
        );
    });
    if let Err(error) = asked {
        tracing::warn!(%error, "could not ask the webview to clear its data");
        return;
    }
    match tokio::time::timeout(CLEARING_BOUND, done_rx).await {
        Ok(Ok(Ok(()))) => tracing::debug!("webview data cleared"),
        Ok(Ok(Err(error))) => tracing::warn!(%error, "the webview could not clear its data"),
        Ok(Err(_)) => tracing::warn!("the webview went before clearing its data"),
        Err(_) => tracing::warn!("clearing the webview's data took too long"),
    }
}

/// Elsewhere Tauri's call starts the clearing without a way to learn when it ends: a short
/// wait, then the files are removed once the webview is gone anyway.
#[cfg(not(target_os = "linux"))]
async fn clear_browsing_data(app: &AppHandle) {
    if let Some(window) = app.get_webview_window("main") {
        if let Err(error) = window.clear_all_browsing_data() {
            tracing::warn!(%error, "could not ask the webview to clear its data");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
