//! The BankID commands and the `bankid-status` event: the Tauri side of `bankid.rs`. Thin:
//! start or cancel the order, open the BankID app through the OS, and turn a completed order
//! into the app's session.

use legitimera_protocol::BankIdMode;
use legitimera_protocol::ErrorCode;
use tauri::{AppHandle, Emitter, Manager, State};

use crate::bankid::{BankId, BankIdView, DemoAction, Started};
use crate::connectivity::BackendStatus;
use crate::error::{AppError, Result};
use crate::{events, AppState};

fn demo_backend(state: &AppState) -> bool {
    matches!(
        *state.backend_status.borrow(),
        BackendStatus::Reachable { demo: true }
    )
}

/// Whether the backend is a demo one, asking it when its status is not known yet (a start right
/// after launch must not open the real BankID app for a demo order, nor the other way round).
async fn demo_backend_now(state: &AppState) -> bool {
    let known = match *state.backend_status.borrow() {
        BackendStatus::Reachable { demo } => Some(demo),
        _ => None,
    };
    match known {
        Some(demo) => demo,
        None => state.api.health().await.is_ok_and(|health| health.demo),
    }
}

/// Starts a BankID login in `mode` and answers its first state; later states come as
/// `bankid-status` events. On this device the BankID app is opened by the OS, except with a
/// demo backend, whose test app the UI offers instead.
#[tauri::command(rename_all = "snake_case")]
pub async fn bankid_start(
    app: AppHandle,
    state: State<'_, AppState>,
    bankid: State<'_, BankId>,
    mode: BankIdMode,
) -> Result<BankIdView> {
    let Started { attempt, order } = bankid.start(mode).await?;
    let first = BankIdView::of(attempt, &order);
    if mode == BankIdMode::ThisDevice
        && !demo_backend_now(&state).await
        && !launch(&bankid, attempt).await
    {
        bankid.cancel(Some(attempt)).await;
        return Ok(BankIdView::failed(attempt, mode, "RFA17A"));
    }
    let follower = tokio::spawn(follow_and_log_in(app, attempt, order));
    bankid.set_follower(attempt, follower.abort_handle());
    Ok(first)
}

/// The user cancelled or left the view. `attempt`: only that one (a newer start is kept).
#[tauri::command(rename_all = "snake_case")]
pub async fn bankid_cancel(bankid: State<'_, BankId>, attempt: Option<u64>) -> Result<()> {
    bankid.cancel(attempt).await;
    Ok(())
}

/// Demo backends only: the simulator's test BankID app signs or cancels the open order, as the
/// user's own BankID app would.
#[tauri::command(rename_all = "snake_case")]
pub async fn demo_bankid_app(
    state: State<'_, AppState>,
    bankid: State<'_, BankId>,
    action: DemoAction,
) -> Result<()> {
    if !demo_backend(&state) {
        return Err(AppError::Backend {
            code: ErrorCode::NotFound,
            status: 404,
            tries_left: None,
            retry_after: None,
            id: None,
        });
    }
    bankid.demo_app(action).await
}

/// Asks the OS to open `bankid:///?autostarttoken=…`. False when nothing handles it.
async fn launch(bankid: &BankId, attempt: u64) -> bool {
    let Some(url) = bankid.open_launch_url(attempt) else {
        tracing::warn!("the BankID order has no usable autostart token");
        return false;
    };
    match tokio::task::spawn_blocking(move || opener::open(url)).await {
        Ok(Ok(())) => true,
        Ok(Err(error)) => {
            // The error names the URL's handler, never the URL itself.
            tracing::warn!(
                kind = error_kind(&error),
                "the BankID app could not be opened"
            );
            false
        }
        Err(_) => false,
    }
}

fn error_kind(error: &opener::OpenError) -> &'static str {
    match error {
        opener::OpenError::Io(_) => "io",
        opener::OpenError::ExitStatus { .. } => "exit_status",
        _ => "other",
    }
}

async fn follow_and_log_in(app: AppHandle, attempt: u64, order: legitimera_protocol::BankIdOrder) {
    let mode = order.mode;
    let emit = |view: BankIdView| {
        let _ = app.emit(events::BANKID_STATUS, view);
    };
    let bankid = app.state::<BankId>();
    let Some(token) = bankid.follow(attempt, order, emit).await else {
        return;
    };
    let state = app.state::<AppState>();
    match state.account.begin_with_token(token).await {
        Ok(session) => emit(BankIdView::logged_in(attempt, mode, session)),
        Err(error) => {
            tracing::warn!(
                code = %error.code(),
                "the BankID session could not be started"
            );
            emit(BankIdView::failed(attempt, mode, "RFA5"));
        }
    }
}

/// How long closing the app waits for the server to hear of the cancel.
const CANCEL_ON_EXIT: std::time::Duration = std::time::Duration::from_secs(2);

/// The app is closing: cancel the open order, waiting a moment for the server to hear it.
pub async fn cancel_open_order(app: &AppHandle) {
    if let Some(bankid) = app.try_state::<BankId>() {
        let _ = tokio::time::timeout(CANCEL_ON_EXIT, bankid.cancel(None)).await;
    }
}

/// The window went without the closing work (it normally runs first, see `lifecycle`).
pub fn cancel_on_exit(app: &AppHandle) {
    let Some(bankid) = app.try_state::<BankId>() else {
        return;
    };
    tauri::async_runtime::block_on(async {
        let _ = tokio::time::timeout(CANCEL_ON_EXIT, bankid.cancel(None)).await;
    });
}

/// Terminated by a signal (the desktop session ends, WebDriver closes the window, `kill`): the
/// window events never come, so the app is asked to exit, which runs the closing work (the
/// open order cancelled, the logout, the wipe) as closing the window does.
#[cfg(unix)]
pub fn cancel_on_termination(app: &AppHandle) {
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
pub fn cancel_on_termination(_app: &AppHandle) {}
