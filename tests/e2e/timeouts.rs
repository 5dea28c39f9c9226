//! Shared computers: after the idle limit the app warns, then logs out and says why, and the
//! server ends the session; a click on the warning's button keeps it. The server runs with a
//! 20-second idle limit, so the app warns 5 seconds before (a quarter of the limit, at most
//! five minutes: 25:00 of 30:00 in production).

use std::time::Duration;

use anyhow::{ensure, Result};
use legitimera_testkit::e2e::{remember, App, Harness};

use crate::TestFn;

pub fn tests() -> Vec<(&'static str, TestFn)> {
    vec![
        (
            "idle_session_warns_then_logs_out_and_ends_on_the_server",
            |h| Box::pin(idle_session_warns_then_logs_out_and_ends_on_the_server(h)),
        ),
        ("a_click_on_the_warning_keeps_the_session", |h| {
            Box::pin(a_click_on_the_warning_keeps_the_session(h))
        }),
    ]
}

const IDLE_SECONDS: &str = "20";
/// The limit of the test that audits the warning: it warns 7.5 s before.
const AUDITED_IDLE_SECONDS: &str = "30";

async fn log_in_as_erik(app: &App) -> Result<()> {
    remember("erik@example.se");
    remember("demo-lösenord-2026");
    app.click("#method-password").await?;
    app.type_into("#login-email", "erik@example.se").await?;
    app.type_into("#login-password", "demo-lösenord-2026")
        .await?;
    app.click("#login-submit").await?;
    app.wait_for_view("min-sida").await
}

async fn dialog_open(app: &App) -> Result<bool> {
    Ok(app
        .exec(
            "return document.getElementById('session-warning').open",
            vec![],
        )
        .await?
        == serde_json::json!(true))
}

async fn idle_session_warns_then_logs_out_and_ends_on_the_server(harness: &Harness) -> Result<()> {
    let server = harness.server_with(&["--idle-timeout", IDLE_SECONDS])?;
    let app = harness.launch(&server.url()).await?;
    log_in_as_erik(&app).await?;
    // Nothing for 15 s: the warning, with its countdown and its one button, in focus.
    app.wait_until("the warning", Duration::from_secs(20), || dialog_open(&app))
        .await?;
    let warning = app.text("#session-warning").await?;
    ensure!(
        warning.contains("Du loggas snart ut") && warning.contains("Fortsätt vara inloggad"),
        "the warning says {warning:?}"
    );
    ensure!(
        app.focused_id().await? == "keep-session",
        "the warning's button does not have focus"
    );
    // Typing is not activity: text typed into the page does not keep the session.
    app.press("abc").await?;
    app.wait_for_view("chooser").await?;
    let message = app.text("#chooser-message").await?;
    ensure!(
        message.contains("Du har loggats ut eftersom du varit inaktiv"),
        "the chooser says {message:?}"
    );
    ensure!(
        !dialog_open(&app).await?,
        "the warning stays open after logout"
    );
    // The app told the server to end the session, and the old token is refused from then on:
    // DELETE /session answered 204 (ended now) or 401 (the server's own clock ended it first).
    let log = server.log()?;
    let deletes: Vec<&str> = log
        .lines()
        .filter(|line| {
            line.contains("method=DELETE")
                && line.contains("/api/v1/session")
                && line.contains("status=")
        })
        .collect();
    ensure!(
        deletes.len() == 1
            && (deletes[0].contains("status=204") || deletes[0].contains("status=401")),
        "the session was not ended on the server: {deletes:?}"
    );
    Ok(())
}

async fn a_click_on_the_warning_keeps_the_session(harness: &Harness) -> Result<()> {
    // A longer limit than the other test's: the warning stays 7.5 s, time for its audit.
    let server = harness.server_with(&["--idle-timeout", AUDITED_IDLE_SECONDS])?;
    let app = harness.launch(&server.url()).await?;
    log_in_as_erik(&app).await?;
    app.wait_until("the warning", Duration::from_secs(30), || dialog_open(&app))
        .await?;
    app.audit("session warning").await?;
    ensure!(
        dialog_open(&app).await?,
        "the warning closed during its accessibility audit (the audit took too long)"
    );
    app.click("#keep-session").await?;
    app.wait_until("the warning to close", Duration::from_secs(5), || async {
        Ok(!dialog_open(&app).await?)
    })
    .await?;
    // Past the first limit: still logged in, and the server still answers with the session.
    tokio::time::sleep(Duration::from_secs(8)).await;
    ensure!(
        app.view().await? == "min-sida",
        "logged out although the warning's button was clicked"
    );
    app.click("#language-switch").await?;
    app.wait_for_text("#case-list", "Citizenship").await?;
    ensure!(
        app.view().await? == "min-sida",
        "the server no longer knows the kept session"
    );
    Ok(())
}
