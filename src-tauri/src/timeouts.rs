//! Ends sessions by time: once a second asks the session timer where the session stands, tells
//! the UI of the warning (and the desktop, when the window is not in front), and when a limit
//! is reached ends the session on the server and tells the UI. The timing rules themselves are
//! in `session_timer`; this loop only carries them out.

use std::sync::Arc;
use std::time::Duration;

use legitimera_protocol::ErrorCode;
use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager};

use crate::account::Account;
use crate::commands::SessionEnded;
use crate::session_timer::{Limit, TimerState};
use crate::{events, notify, AppState};

#[derive(Debug, Clone, Serialize)]
struct Warning {
    seconds_left: u64,
}

pub async fn watch(app: AppHandle, account: Arc<Account>) {
    let mut warned = false;
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        ticks.tick().await;
        match account.tick() {
            None | Some(TimerState::Active) => {
                if warned {
                    warned = false;
                    let _ = app.emit(events::SESSION_ACTIVE, ());
                }
            }
            Some(TimerState::Warning { left }) => {
                let seconds_left = left.as_secs_f64().ceil() as u64;
                let _ = app.emit(events::SESSION_WARNING, Warning { seconds_left });
                if !warned {
                    warned = true;
                    warn_the_desktop(&app, seconds_left);
                }
            }
            Some(TimerState::Ended(limit)) => {
                warned = false;
                account.expire(limit).await;
                crate::lifecycle::wipe_after_session(&app).await;
                let code = match limit {
                    Limit::Idle => ErrorCode::IdleTimeout,
                    Limit::Absolute => ErrorCode::AbsoluteTimeout,
                };
                let _ = app.emit(events::SESSION_ENDED, SessionEnded { code });
            }
        }
    }
}

/// A desktop notification, only when the window is not in front (in front, the dialog shows).
fn warn_the_desktop(app: &AppHandle, seconds_left: u64) {
    let focused = app
        .get_webview_window("main")
        .and_then(|window| window.is_focused().ok())
        .unwrap_or(false);
    if focused {
        return;
    }
    let language = app
        .state::<AppState>()
        .language
        .lock()
        .map(|l| *l)
        .unwrap_or(crate::locale::Language::Sv);
    notify::session_warning(language, seconds_left);
}
