//! What the client needs from the window it runs behind, as two traits: `Events`, everything
//! the UI must hear (named after what the user sees), and `Desktop`, what only the host can do
//! (clear the webview's data, say whether the window is in front, show a notification, open a
//! URL with the OS). The Tauri crate implements both; tests record what they are told.

use async_trait::async_trait;
use legitimera_protocol::ErrorCode;
use serde::Serialize;

use crate::bankid::BankIdView;
use crate::connectivity::BackendStatus;
use crate::siths::CardView;
use crate::update::UpdateView;

/// Why a session ended, for the `session-ended` event: `session_expired` or `unauthorized`
/// (the server), `idle_timeout` or `absolute_timeout` (this side's timer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SessionEnded {
    pub code: ErrorCode,
}

/// The idle limit is near: `session-warning`, every second until activity or the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SessionWarning {
    pub seconds_left: u64,
}

/// Everything the UI must hear. Called from any thread; must not block.
pub trait Events: Send + Sync {
    /// `backend-status`: the backend became reachable or unreachable.
    fn backend_status(&self, status: &BackendStatus);
    /// `session-warning`.
    fn session_warning(&self, warning: SessionWarning);
    /// `session-active`: activity after a warning, the warning can go.
    fn session_active(&self);
    /// `session-ended`: the session is over and wiped; the UI leaves its pages.
    fn session_ended(&self, ended: SessionEnded);
    /// `bankid-status`: a BankID login moved on.
    fn bankid_status(&self, view: &BankIdView);
    /// `card-changed`: a reader or card came or went, or a card was read.
    fn card_changed(&self, view: &CardView);
    /// `diagnostics-progress`: a troubleshooting check started or finished.
    fn diagnostics_progress(&self, _progress: &crate::diagnostics::Progress) {}
    /// `update-status`: a new version is on offer ("En ny version finns"), being installed,
    /// or installed.
    fn update_status(&self, view: &UpdateView);
}

/// What only the host of the webview can do.
#[async_trait]
pub trait Desktop: Send + Sync {
    /// Clears every kind of data the webview holds and returns once it is done (or given up
    /// on, within the implementation's bound).
    async fn clear_webview_data(&self);
    /// Whether the app's window is in front (then its own dialog is the warning).
    fn window_in_front(&self) -> bool;
    /// A desktop notification. Never personal data.
    fn notify(&self, summary: &str, body: &str);
    /// Asks the OS to open `url` (the BankID app's `bankid:///` link); false when nothing did.
    async fn open_url(&self, url: String) -> bool;
    /// Puts `text` on the clipboard; false when this host cannot (the UI then copies itself).
    async fn write_clipboard(&self, _text: String) -> bool {
        false
    }
    /// Empties the clipboard if it still holds exactly `text` (the wipe: a copied report).
    async fn clear_clipboard_if(&self, _text: String) {}
}
