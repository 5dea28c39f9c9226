//! The client's view of Tauri: `Events` as `emit` to the webview, `Desktop` as the main
//! window (its focus, clearing its webview's data) and the OS, and the settings file as
//! tauri-plugin-store. Carries out; decides nothing.

use std::sync::Arc;
use std::time::Duration;

use legitimera_client::bankid::BankIdView;
use legitimera_client::connectivity::BackendStatus;
use legitimera_client::diagnostics::Progress;
use legitimera_client::settings::SettingsStore;
use legitimera_client::siths::CardView;
use legitimera_client::{Desktop, Events, SessionEnded, SessionWarning, UpdateView};
use serde_json::Value;
use tauri::{AppHandle, Emitter, Manager, Wry};
use tauri_plugin_store::Store;

/// Events the UI listens to, named after what the user sees.
pub mod events {
    pub const BACKEND_STATUS: &str = "backend-status";
    pub const SESSION_ENDED: &str = "session-ended";
    pub const SESSION_WARNING: &str = "session-warning";
    pub const SESSION_ACTIVE: &str = "session-active";
    pub const BANKID_STATUS: &str = "bankid-status";
    pub const CARD_CHANGED: &str = "card-changed";
    pub const DIAGNOSTICS_PROGRESS: &str = "diagnostics-progress";
    pub const UPDATE_STATUS: &str = "update-status";
}

/// How long clearing the webview's data may take before the app goes on without it.
const CLEARING_BOUND: Duration = Duration::from_secs(3);

#[derive(Debug, Clone)]
pub struct Host(pub AppHandle);

impl Host {
    fn emit<S: serde::Serialize + Clone>(&self, event: &str, payload: S) {
        if let Err(error) = self.0.emit(event, payload) {
            tracing::debug!(%error, event, "the UI could not be told");
        }
    }
}

impl Events for Host {
    fn backend_status(&self, status: &BackendStatus) {
        self.emit(events::BACKEND_STATUS, status);
    }

    fn session_warning(&self, warning: SessionWarning) {
        self.emit(events::SESSION_WARNING, warning);
    }

    fn session_active(&self) {
        self.emit(events::SESSION_ACTIVE, ());
    }

    fn session_ended(&self, ended: SessionEnded) {
        self.emit(events::SESSION_ENDED, ended);
    }

    fn bankid_status(&self, view: &BankIdView) {
        self.emit(events::BANKID_STATUS, view);
    }

    fn card_changed(&self, view: &CardView) {
        self.emit(events::CARD_CHANGED, view);
    }

    fn diagnostics_progress(&self, progress: &Progress) {
        self.emit(events::DIAGNOSTICS_PROGRESS, progress);
    }

    fn update_status(&self, view: &UpdateView) {
        self.emit(events::UPDATE_STATUS, view);
    }
}

#[async_trait::async_trait]
impl Desktop for Host {
    async fn clear_webview_data(&self) {
        clear_browsing_data(&self.0).await;
    }

    fn window_in_front(&self) -> bool {
        self.0
            .get_webview_window("main")
            .and_then(|window| window.is_focused().ok())
            .unwrap_or(false)
    }

    fn notify(&self, summary: &str, body: &str) {
        legitimera_client::notify::show(summary, body);
    }

    async fn open_url(&self, url: String) -> bool {
        legitimera_client::bankid::open_with_os(url).await
    }

    async fn write_clipboard(&self, text: String) -> bool {
        clipboard::write(&self.0, text).await
    }

    async fn clear_clipboard_if(&self, text: String) {
        clipboard::clear_if(&self.0, text).await;
    }
}

/// The clipboard through GTK on the main thread (Linux). Nothing asks a clipboard manager to
/// keep the text after the app ends.
#[cfg(target_os = "linux")]
mod clipboard {
    use tauri::AppHandle;

    fn clipboard() -> gtk::Clipboard {
        gtk::Clipboard::get(&gtk::gdk::SELECTION_CLIPBOARD)
    }

    pub async fn write(app: &AppHandle, text: String) -> bool {
        let (done, wrote) = tokio::sync::oneshot::channel();
        let asked = app.run_on_main_thread(move || {
            clipboard().set_text(&text);
            let _ = done.send(());
        });
        asked.is_ok() && wrote.await.is_ok()
    }

    pub async fn clear_if(app: &AppHandle, text: String) {
        let (done, cleared) = tokio::sync::oneshot::channel();
        let asked = app.run_on_main_thread(move || {
            let board = clipboard();
            if board
                .wait_for_text()
                .is_some_and(|held| held.as_str() == text)
            {
                board.set_text("");
                board.clear();
            }
            let _ = done.send(());
        });
        if asked.is_ok() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(1), cleared).await;
        }
    }
}

/// Elsewhere the webview copies the report itself and the wipe cannot check the clipboard.
#[cfg(not(target_os = "linux"))]
mod clipboard {
    use tauri::AppHandle;

    pub async fn write(_app: &AppHandle, _text: String) -> bool {
        false
    }

    pub async fn clear_if(_app: &AppHandle, _text: String) {}
}

/// The settings file, `{config}/settings.json`, through tauri-plugin-store.
pub struct StoreFile(pub Arc<Store<Wry>>);

impl SettingsStore for StoreFile {
    fn get(&self, key: &str) -> Option<Value> {
        self.0.get(key)
    }

    fn set(&self, key: &str, value: Value) {
        self.0.set(key, value);
    }

    fn delete(&self, key: &str) {
        self.0.delete(key);
    }

    fn save(&self) -> Result<(), String> {
        self.0.save().map_err(|error| error.to_string())
    }
}

/// Clears every kind of data the webview holds, and waits until WebKit says it is done
/// (Tauri's own `clear_all_browsing_data` returns before it is).
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
        tokio::time::sleep(Duration::from_millis(500).min(CLEARING_BOUND)).await;
    }
}
