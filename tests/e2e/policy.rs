//! Machine policy through the real app: a `policies.json` (in the folder the debug build reads
//! through LEGITIMERA_POLICY_DIR) that allows only SITHS and forces a shared computer. The
//! chooser offers only SITHS, the settings show the lock ("Hanteras av din organisation") with
//! disabled controls, the command refuses the change too, and "Om Legitimera" names the file.

use anyhow::{ensure, Result};
use serde_json::{json, Value};

use crate::TestFn;
use legitimera_testkit::e2e::{App, Harness};

pub fn tests() -> Vec<(&'static str, TestFn)> {
    vec![("policy_allows_only_siths_and_locks_shared_mode", |h| {
        Box::pin(policy_allows_only_siths_and_locks_shared_mode(h))
    })]
}

const POLICY: &str = r#"{"policies": {
    "LoginMethods": ["siths"],
    "ComputerMode": "shared"
}}"#;

async fn policy_allows_only_siths_and_locks_shared_mode(h: &Harness) -> Result<()> {
    let file = h.policy_file();
    std::fs::write(&file, POLICY)?;
    let result = with_policy(h).await;
    // Whatever happened, the next tests run without a policy.
    std::fs::remove_file(&file)?;
    result
}

async fn with_policy(h: &Harness) -> Result<()> {
    let server = h.server()?;
    let app = h.launch(&server.url()).await?;
    ensure!(
        app.is_visible("#method-siths").await?,
        "SITHS is not offered"
    );
    for other in [
        "#method-bankid-this",
        "#method-bankid-other",
        "#method-password",
    ] {
        ensure!(
            !app.is_visible(other).await?,
            "{other} is offered against the policy"
        );
    }

    app.click("#settings-button").await?;
    app.wait_for_view("settings").await?;
    app.audit("settings: locked by policy").await?;
    let note = app.text("#settings-mode-managed").await?;
    ensure!(
        note.contains("Hanteras av din organisation"),
        "the lock is not shown: {note:?}"
    );
    let control = app
        .exec(
            "const input = document.getElementById('settings-mode-personal');
             return [input.disabled, input.getAttribute('aria-describedby') || ''];",
            vec![],
        )
        .await?;
    ensure!(
        control[0] == json!(true),
        "the personal-mode choice is not disabled"
    );
    ensure!(
        control[1]
            .as_str()
            .unwrap_or_default()
            .contains("settings-mode-managed"),
        "the control does not point screen readers at the reason: {control}"
    );
    ensure!(
        !app.is_visible("#settings-language-managed").await?,
        "the language is shown as locked though the policy does not lock it"
    );
    // The preferred method is chosen among the allowed ones only: WebKitGTK's list shows a
    // hidden <option> all the same, and choosing it was refused.
    let offered = app
        .exec(
            "return [...document.getElementById('settings-method').options].map(o => o.value)",
            vec![],
        )
        .await?;
    ensure!(
        offered == json!(["", "siths"]),
        "the preferred method offers {offered}"
    );

    let answer = invoke(&app, "settings_set", json!({"mode": "personal"})).await?;
    ensure!(
        answer == json!("setting_locked"),
        "the command accepted a locked setting: {answer}"
    );

    app.click("#help-button").await?;
    app.wait_for_view("help").await?;
    app.click("#help-about").await?;
    app.wait_for_view("about").await?;
    app.audit("about").await?;
    let row = app
        .text("#about-settings-body tr[data-key='ComputerMode']")
        .await?;
    ensure!(
        row.contains("policies.json"),
        "the about view does not say where: {row:?}"
    );
    Ok(())
}

/// Calls a command as the UI would; answers the error code, or "accepted".
async fn invoke(app: &App, command: &str, args: Value) -> Result<Value> {
    let script = "const done = arguments[arguments.length - 1];
        window.__TAURI__.core.invoke(arguments[0], arguments[1]).then(
            () => done('accepted'),
            (error) => done(error && error.code ? error.code : String(error)));";
    Ok(app
        .client
        .execute_async(script, vec![json!(command), args])
        .await?)
}
