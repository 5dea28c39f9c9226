//! The commands the webview may call (each granted in capabilities/main.json). Thin: validate,
//! delegate, return `{code, message}` on failure.

use serde::Serialize;
use tauri::State;

use crate::connectivity::BackendStatus;
use crate::locale::Language;
use crate::AppState;

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
