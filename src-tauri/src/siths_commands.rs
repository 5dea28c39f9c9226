//! The SITHS commands and the `card-changed` event: the Tauri side of `siths.rs`. Thin: start
//! following the card, turn what the user typed into a `Pin` and log in, fetch the staff
//! landing page.

use legitimera_card::Pin;
use legitimera_protocol::{SecretString, SessionStatus, StaffLanding};
use tauri::{AppHandle, Emitter, State};

use crate::commands::watch_session;
use crate::error::Result;
use crate::siths::{CardView, Siths};
use crate::{events, AppState};

/// What the SITHS view shows now; from here on every change comes as `card-changed`.
#[tauri::command(rename_all = "snake_case")]
pub async fn siths_card_state(app: AppHandle, siths: State<'_, Siths>) -> Result<CardView> {
    Ok(siths
        .watch(move |view| {
            let _ = app.emit(events::CARD_CHANGED, view);
        })
        .await)
}

/// Logs in with the card and `pin`. The PIN is parsed (and zeroized) here; a refused one is
/// never sent again by the app.
#[tauri::command(rename_all = "snake_case")]
pub async fn siths_login(
    state: State<'_, AppState>,
    siths: State<'_, Siths>,
    pin: SecretString,
) -> Result<SessionStatus> {
    let pin = Pin::parse(pin.expose())?;
    let result = siths.login(&state.account, pin).await;
    if let Err(error) = &result {
        tracing::info!(code = %error.code(), "SITHS login failed");
    }
    result
}

/// The staff landing page of the SITHS session, in `lang`.
#[tauri::command(rename_all = "snake_case")]
pub async fn siths_landing(
    app: AppHandle,
    state: State<'_, AppState>,
    lang: String,
) -> Result<StaffLanding> {
    watch_session(&app, state.account.staff_landing(&lang).await)
}
