//! Accounts through the real UI: create an account with two-step verification reading the
//! codes from the demo outbox panel, log out, log in with password + SMS, see the cases with
//! their details, log out; and what a password-only login does not show, and how a wrong code
//! and a wrong password are told.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{anyhow, ensure, Context, Result};
use legitimera_testkit::e2e::{keys, remember, App, Harness};
use serde_json::json;

use crate::TestFn;

pub fn tests() -> Vec<(&'static str, TestFn)> {
    vec![
        ("account_with_two_step_from_creation_to_logout", |h| {
            Box::pin(account_with_two_step_from_creation_to_logout(h))
        }),
        ("password_only_login_hides_details_and_says_so", |h| {
            Box::pin(password_only_login_hides_details_and_says_so(h))
        }),
        (
            "wrong_password_and_wrong_code_are_told_and_nothing_is_lost",
            |h| {
                Box::pin(wrong_password_and_wrong_code_are_told_and_nothing_is_lost(
                    h,
                ))
            },
        ),
        ("lost_phone_is_replaced_after_proving_the_email", |h| {
            Box::pin(lost_phone_is_replaced_after_proving_the_email(h))
        }),
        ("forgotten_password_is_reset_through_the_email", |h| {
            Box::pin(forgotten_password_is_reset_through_the_email(h))
        }),
        ("password_changed_on_min_sida_refuses_the_old_one", |h| {
            Box::pin(password_changed_on_min_sida_refuses_the_old_one(h))
        }),
        (
            "many_wrong_passwords_then_the_right_one_asks_for_the_email_code",
            |h| Box::pin(many_wrong_passwords_then_the_right_one_asks_for_the_email_code(h)),
        ),
    ]
}

const PASSWORD: &str = "en lång fras om hösten 2026";
const DEMO_PASSWORD: &str = "demo-lösenord-2026";
const NEW_PASSWORD: &str = "ett nytt lösenord för vintern";

/// How many messages the demo outbox panel lists.
pub(crate) async fn outbox_count(app: &App) -> Result<usize> {
    let count = app
        .exec(
            "return document.querySelectorAll('#outbox-list > li').length",
            vec![],
        )
        .await?;
    Ok(usize::try_from(count.as_u64().unwrap_or(0))?)
}

/// Waits for a new message on `channel` in the outbox panel (more than `before` listed) and
/// answers the six-digit code in it, as a user would read it there.
pub(crate) async fn new_code(app: &App, before: usize, channel: &str) -> Result<String> {
    app.wait_until(
        &format!("a new {channel} in the outbox"),
        Duration::from_secs(15),
        || async { Ok(outbox_count(app).await? > before) },
    )
    .await?;
    let newest = app
        .exec(
            "const li = document.querySelector('#outbox-list > li');
             return [li.dataset.channel, li.innerText];",
            vec![],
        )
        .await?;
    ensure!(
        newest[0] == json!(channel),
        "the newest message is {}, not {channel}",
        newest[0]
    );
    let text = newest[1].as_str().unwrap_or_default();
    let code = six_digits(text).ok_or_else(|| anyhow!("no code in the {channel}: {text:?}"))?;
    remember(&code);
    Ok(code)
}

/// Everything personal or secret these tests use, for the final scan of the run's logs.
pub(crate) fn remember_test_data() {
    for value in [
        PASSWORD,
        DEMO_PASSWORD,
        NEW_PASSWORD,
        "not the password at all",
        "noor.testsson@example.se",
        "amira@example.se",
        "erik@example.se",
        "amira.example.se",
        "46709876543",
        "0709876543",
        "987 65 43",
        "46731112233",
        "0731112233",
        "46701234567",
        "Demosson",
        "Provsson",
    ] {
        remember(value);
    }
}

fn six_digits(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    (0..bytes.len().saturating_sub(5)).find_map(|at| {
        let run = &bytes[at..at + 6];
        let bounded = (at == 0 || !bytes[at - 1].is_ascii_digit())
            && bytes.get(at + 6).is_none_or(|b| !b.is_ascii_digit());
        (bounded && run.iter().all(u8::is_ascii_digit))
            .then(|| String::from_utf8_lossy(run).into_owned())
    })
}

pub(crate) async fn enter_code(app: &App, code: &str) -> Result<()> {
    remember(code);
    app.type_into("#code-input", code).await?;
    app.click("#code-submit").await
}

pub(crate) async fn log_in(app: &App, email: &str, password: &str) -> Result<()> {
    app.type_into("#login-email", email).await?;
    app.type_into("#login-password", password).await?;
    app.click("#login-submit").await
}

async fn account_with_two_step_from_creation_to_logout(harness: &Harness) -> Result<()> {
    remember_test_data();
    let server = harness.server()?;
    let app = harness.launch(&server.url()).await?;
    app.wait_until("the demo outbox panel", Duration::from_secs(15), || {
        app.is_visible("#demo-outbox")
    })
    .await?;

    app.click("#method-password").await?;
    app.click("#login-create").await?;
    app.wait_for_view("register").await?;
    app.audit("register").await?;
    app.type_into("#register-email", "Noor.Testsson@Example.se")
        .await?;
    app.type_into("#register-password", PASSWORD).await?;
    app.click("#register-two-step").await?;
    app.type_into("#register-phone", "070-987 65 43").await?;
    let before = outbox_count(&app).await?;
    app.click("#register-submit").await?;
    app.wait_for_view("code").await?;
    app.wait_for_text("#code-intro", "noor.testsson@example.se")
        .await?;
    app.audit("code: e-mail code").await?;
    let code = new_code(&app, before, "email").await?;
    let before = outbox_count(&app).await?;
    enter_code(&app, &code).await?;

    app.wait_for_text("#code-title", "Bekräfta ditt mobilnummer")
        .await?;
    app.wait_for_text("#code-intro", "+46709876543").await?;
    app.audit("code: sms code (registration)").await?;
    let code = new_code(&app, before, "sms").await?;
    enter_code(&app, &code).await?;
    app.wait_for_view("done").await?;
    app.wait_for_text("#done-title", "Ditt konto är klart")
        .await?;
    app.audit("done: account ready").await?;

    // The login form comes with the address filled in.
    app.click("#done-continue").await?;
    app.wait_for_view("password").await?;
    app.audit("password").await?;
    ensure!(
        app.value("#login-email").await? == "noor.testsson@example.se",
        "the new address is not filled in"
    );
    app.type_into("#login-password", PASSWORD).await?;
    let before = outbox_count(&app).await?;
    app.click("#login-submit").await?;
    app.wait_for_view("code").await?;
    app.wait_for_text("#code-title", "Skriv in koden från sms:et")
        .await?;
    app.audit("code: sms code (login)").await?;
    // The resend countdown changes every second: outside any live region, or a screen reader
    // reads it out every second (the sent code and the end of the wait are announced once).
    let quiet = app
        .exec(
            "return document.getElementById('code-resend-wait')\
               .closest('[aria-live],[role=status],[role=alert],[role=log],[role=timer]') === null",
            vec![],
        )
        .await?;
    ensure!(
        quiet == json!(true),
        "the resend countdown is in a live region"
    );
    ensure!(
        app.value("#login-password").await?.is_empty(),
        "the password stays in the page after it was sent"
    );
    let code = new_code(&app, before, "sms").await?;
    enter_code(&app, &code).await?;

    app.wait_for_view("min-sida").await?;
    app.wait_for_text("#session-user", "noor.testsson@example.se")
        .await?;
    app.wait_for_text("#session-level", "lösenord och sms-kod")
        .await?;
    app.wait_for_text("#session-phone", "+46").await?;
    app.wait_for_text("#case-list", "Arbetstillstånd").await?;
    app.audit("min-sida: password and sms (substantial)")
        .await?;
    // The audit switched the page to English and back: the cases are fetched again in Swedish.
    app.wait_for_text("#case-list", "anställningsavtal").await?;
    let events = app
        .exec(
            "return [...document.querySelectorAll('#case-list .event')].map(e => e.innerText)",
            vec![],
        )
        .await?;
    let events = events.as_array().cloned().unwrap_or_default();
    ensure!(
        events
            .iter()
            .any(|e| e.as_str().unwrap_or_default().contains("anställningsavtal")),
        "the case's details are missing: {events:?}"
    );
    ensure!(
        !app.is_visible("#cases-hidden-notice").await?,
        "says details are hidden at substantial assurance"
    );
    // Back and Escape do not leave Min sida while logged in.
    app.press(keys::ESCAPE).await?;
    ensure!(app.view().await? == "min-sida", "Escape left Min sida");

    // The page follows the language switch, event texts included (fetched again in English).
    app.click("#language-switch").await?;
    app.wait_for_text("#case-list", "employment contract")
        .await?;
    app.click("#language-switch").await?;
    app.wait_for_text("#case-list", "anställningsavtal").await?;

    app.click("#logout-button").await?;
    app.wait_for_view("chooser").await?;
    app.wait_for_text("#chooser-message", "Du är utloggad")
        .await?;
    // Nothing of the person is left in the page (the demo outbox panel is the demo's, not the
    // session's): no text, no typed value, no case.
    let left = app
        .exec(
            "const text = document.getElementById('main').innerText;
             const typed = [...document.querySelectorAll('input')].map(i => i.value).join(' ');
             return [text.includes('noor') || typed.includes('noor'),
                     document.querySelectorAll('#case-list li').length];",
            vec![],
        )
        .await?;
    ensure!(
        left == json!([false, 0]),
        "the page still holds the person's data after logout: {left}"
    );
    Ok(())
}

async fn password_only_login_hides_details_and_says_so(harness: &Harness) -> Result<()> {
    remember_test_data();
    let server = harness.server()?;
    let app = harness.launch(&server.url()).await?;
    app.click("#method-password").await?;
    log_in(&app, "erik@example.se", DEMO_PASSWORD).await?;
    app.wait_for_view("min-sida").await?;
    app.wait_for_text("#case-list", "Medborgarskap").await?;
    app.wait_for_text("#case-list", "2026-200731").await?;
    app.wait_for_text("#case-list", "Handläggs").await?;
    let notice = app
        .wait_for_text("#cases-hidden-notice", "Du ser inte allt")
        .await?;
    app.audit("min-sida: password only (low)").await?;
    for needle in ["beslut", "handläggare", "BankID"] {
        ensure!(
            notice.contains(needle),
            "the notice does not mention {needle}: {notice:?}"
        );
    }
    let events = app
        .exec(
            "return document.querySelectorAll('#case-list .event').length",
            vec![],
        )
        .await?;
    ensure!(events == json!(0), "{events} events shown at low assurance");
    Ok(())
}

async fn wrong_password_and_wrong_code_are_told_and_nothing_is_lost(
    harness: &Harness,
) -> Result<()> {
    remember_test_data();
    let server = harness.server()?;
    let app = harness.launch(&server.url()).await?;
    app.click("#method-password").await?;
    log_in(&app, "amira@example.se", "not the password at all").await?;
    app.wait_for_text(
        "#login-error",
        "E-postadressen eller lösenordet stämmer inte",
    )
    .await?;
    ensure!(
        app.value("#login-email").await? == "amira@example.se",
        "the address was lost after a wrong password"
    );
    // A malformed address is told before anything is sent, on the field it is about.
    app.type_into("#login-email", "amira.example.se").await?;
    app.type_into("#login-password", DEMO_PASSWORD).await?;
    app.click("#login-submit").await?;
    app.wait_for_text("#login-error", "E-postadressen ser inte ut att stämma")
        .await?;
    app.audit("password: invalid e-mail").await?;
    let invalid = app
        .exec(
            "return document.getElementById('login-email').getAttribute('aria-invalid')",
            vec![],
        )
        .await?;
    ensure!(invalid == json!("true"), "the field is not marked invalid");

    let before = outbox_count(&app).await?;
    log_in(&app, "amira@example.se", DEMO_PASSWORD).await?;
    app.wait_for_view("code").await?;
    let code = new_code(&app, before, "sms").await?;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    enter_code(&app, wrong).await?;
    app.wait_for_text("#code-error", "Du kan försöka 4 gånger till")
        .await?;
    app.audit("code: wrong code").await?;
    app.click("#language-switch").await?;
    app.wait_for_text("#code-error", "4 more times").await?;
    app.click("#language-switch").await?;
    enter_code(&app, &code).await?;
    app.wait_for_view("min-sida").await?;
    app.wait_for_text("#case-list", "2026-104512").await?;
    app.click("#logout-button").await?;
    app.wait_for_view("chooser").await?;
    Ok(())
}

async fn lost_phone_is_replaced_after_proving_the_email(harness: &Harness) -> Result<()> {
    remember_test_data();
    let server = harness.server()?;
    let app = harness.launch(&server.url()).await?;
    app.click("#method-password").await?;
    app.click("#login-lost-phone").await?;
    app.wait_for_view("phone-lost").await?;
    app.audit("phone-lost").await?;
    app.type_into("#phone-lost-email", "amira@example.se")
        .await?;
    app.type_into("#phone-lost-password", DEMO_PASSWORD).await?;
    app.type_into("#phone-lost-phone", "0731112233").await?;
    let before = outbox_count(&app).await?;
    app.click("#phone-lost-submit").await?;
    app.wait_for_view("code").await?;
    let code = new_code(&app, before, "email").await?;
    let before = outbox_count(&app).await?;
    enter_code(&app, &code).await?;
    app.wait_for_text("#code-intro", "+46731112233").await?;
    let code = new_code(&app, before, "sms").await?;
    enter_code(&app, &code).await?;
    app.wait_for_view("done").await?;
    app.wait_for_text("#done-title", "Mobilnumret är bytt")
        .await?;
    app.audit("done: phone replaced").await?;
    // The old number was told.
    app.wait_for_text("#outbox-list", "+46701234567").await?;
    // The next login's code goes to the new number.
    app.click("#done-continue").await?;
    app.wait_for_view("password").await?;
    app.type_into("#login-password", DEMO_PASSWORD).await?;
    let before = outbox_count(&app).await?;
    app.click("#login-submit").await?;
    app.wait_for_view("code").await?;
    new_code(&app, before, "sms").await?;
    let to = app
        .exec(
            "return document.querySelector('#outbox-list > li').innerText",
            vec![],
        )
        .await?;
    ensure!(
        to.as_str().unwrap_or_default().contains("+46731112233"),
        "the login code did not go to the new number: {to}"
    );
    Ok(())
}

async fn forgotten_password_is_reset_through_the_email(harness: &Harness) -> Result<()> {
    remember_test_data();
    let server = harness.server()?;
    let app = harness.launch(&server.url()).await?;
    app.click("#method-password").await?;
    app.click("#login-forgot").await?;
    app.wait_for_view("password-forgot").await?;
    app.audit("password-forgot").await?;
    app.type_into("#password-forgot-email", "erik@example.se")
        .await?;
    let before = outbox_count(&app).await?;
    app.click("#password-forgot-submit").await?;
    app.wait_for_view("code").await?;
    let code = new_code(&app, before, "email").await?;
    enter_code(&app, &code).await?;
    app.wait_for_view("password-new").await?;
    app.audit("password-new").await?;
    app.type_into("#password-new-password", NEW_PASSWORD)
        .await?;
    app.click("#password-new-submit").await?;
    app.wait_for_view("done").await?;
    app.wait_for_text("#done-title", "Lösenordet är bytt")
        .await?;
    // The owner was told.
    app.wait_for_text("#outbox-list", "Ditt lösenord är bytt")
        .await?;
    app.click("#done-continue").await?;
    app.wait_for_view("password").await?;
    ensure!(
        app.value("#login-email").await? == "erik@example.se",
        "the address is not filled in after the reset"
    );
    app.type_into("#login-password", DEMO_PASSWORD).await?;
    app.click("#login-submit").await?;
    app.wait_for_text(
        "#login-error",
        "E-postadressen eller lösenordet stämmer inte",
    )
    .await?;
    app.type_into("#login-password", NEW_PASSWORD).await?;
    app.click("#login-submit").await?;
    app.wait_for_view("min-sida").await?;
    Ok(())
}

async fn password_changed_on_min_sida_refuses_the_old_one(harness: &Harness) -> Result<()> {
    remember_test_data();
    let server = harness.server()?;
    let app = harness.launch(&server.url()).await?;
    app.click("#method-password").await?;
    log_in(&app, "erik@example.se", DEMO_PASSWORD).await?;
    app.wait_for_view("min-sida").await?;
    app.click("#change-password-button").await?;
    app.wait_for_view("password-change").await?;
    app.audit("password-change").await?;
    app.type_into("#password-change-current", "not the password at all")
        .await?;
    app.type_into("#password-change-new", NEW_PASSWORD).await?;
    app.click("#password-change-submit").await?;
    app.wait_for_text(
        "#password-change-error",
        "E-postadressen eller lösenordet stämmer inte",
    )
    .await?;
    app.type_into("#password-change-current", DEMO_PASSWORD)
        .await?;
    app.type_into("#password-change-new", NEW_PASSWORD).await?;
    app.click("#password-change-submit").await?;
    app.wait_for_view("done").await?;
    app.wait_for_text("#done-title", "Lösenordet är bytt")
        .await?;
    app.click("#done-continue").await?;
    app.wait_for_view("min-sida").await?;
    app.click("#logout-button").await?;
    app.wait_for_view("chooser").await?;
    app.click("#method-password").await?;
    log_in(&app, "erik@example.se", DEMO_PASSWORD).await?;
    app.wait_for_text(
        "#login-error",
        "E-postadressen eller lösenordet stämmer inte",
    )
    .await?;
    app.type_into("#login-password", NEW_PASSWORD).await?;
    app.click("#login-submit").await?;
    app.wait_for_view("min-sida").await?;
    Ok(())
}

/// A demo server whose database is a file this test can reach, and the file: in the run's own
/// home (the demo data is personal), not the temporary directory the app shares.
fn server_with_database_file(
    harness: &Harness,
) -> Result<(
    legitimera_testkit::e2e::ServerProcess,
    tempfile::TempDir,
    PathBuf,
)> {
    let parent = match std::env::var_os("LEGITIMERA_E2E_HOME") {
        Some(home) => PathBuf::from(home).join("server-tmp"),
        None => std::env::temp_dir(),
    };
    std::fs::create_dir_all(&parent)?;
    let dir = tempfile::tempdir_in(&parent)?;
    let file = dir.path().join("demo.sqlite");
    let url = format!("sqlite://{}?mode=rwc", file.display());
    let server = harness.server_with(&["--database-url", &url])?;
    Ok((server, dir, file))
}

/// Runs one SQL statement on the server's SQLite file with the sqlite3 tool, as an operator
/// would: the state a long run of wrong passwords leaves, without its hours of rate limits.
fn sql(file: &Path, statement: &str) -> Result<()> {
    let output = Command::new("sqlite3")
        .arg("-cmd")
        .arg(".timeout 5000")
        .arg(file)
        .arg(statement)
        .output()
        .context("running sqlite3 (the sqlite3 package)")?;
    ensure!(
        output.status.success(),
        "sqlite3 failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}

/// After 100 wrong passwords in a row a right one needs a code from the account's e-mail: the
/// app asks for it (saying why, once, to screen readers), then for the SMS code of two-step
/// verification, then logs in; the next login needs no e-mail code. The server's tests count
/// the 100 (rate limits spread them over hours); here the account has 99 behind it and the
/// 100th is typed in the app.
async fn many_wrong_passwords_then_the_right_one_asks_for_the_email_code(
    harness: &Harness,
) -> Result<()> {
    remember_test_data();
    let (server, _dir, file) = server_with_database_file(harness)?;
    sql(
        &file,
        "UPDATE accounts SET failed_logins = 99 WHERE email = 'amira@example.se'",
    )?;
    let app = harness.launch(&server.url()).await?;
    app.click("#method-password").await?;
    log_in(&app, "amira@example.se", "not the password at all").await?;
    app.wait_for_text(
        "#login-error",
        "E-postadressen eller lösenordet stämmer inte",
    )
    .await?;
    // The 100th: the owner is told once.
    app.wait_for_text("#outbox-list", "Många felaktiga lösenord")
        .await?;

    let before = outbox_count(&app).await?;
    app.type_into("#login-password", DEMO_PASSWORD).await?;
    app.click("#login-submit").await?;
    app.wait_for_view("code").await?;
    app.wait_for_text("#code-title", "Skriv in koden från e-posten")
        .await?;
    app.wait_for_text("#code-intro", "Många felaktiga lösenord")
        .await?;
    // The live region is visually hidden: WebDriver's text of it is empty, so read its content.
    let announced = app
        .exec(
            "return document.getElementById('announcer').textContent",
            vec![],
        )
        .await?;
    ensure!(
        announced == json!("En kod har skickats till e-postadressen på ditt konto."),
        "the e-mail step was announced as {announced:?}"
    );
    ensure!(
        !app.is_visible("#code-trust-field").await?,
        "\"trust this computer\" is offered for the e-mail code"
    );
    let code = new_code(&app, before, "email").await?;
    app.audit("code: e-mail code after many wrong passwords")
        .await?;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    enter_code(&app, wrong).await?;
    app.wait_for_text("#code-error", "Du kan försöka 4 gånger till")
        .await?;

    let before = outbox_count(&app).await?;
    enter_code(&app, &code).await?;
    app.wait_for_text("#code-title", "Skriv in koden från sms:et")
        .await?;
    let sms = new_code(&app, before, "sms").await?;
    enter_code(&app, &sms).await?;
    app.wait_for_view("min-sida").await?;
    app.wait_for_text("#case-list", "2026-104512").await?;
    app.click("#logout-button").await?;
    app.wait_for_view("chooser").await?;

    // The e-mail was proven: the count starts over, the next login is password + SMS.
    app.click("#method-password").await?;
    let before = outbox_count(&app).await?;
    log_in(&app, "amira@example.se", DEMO_PASSWORD).await?;
    app.wait_for_view("code").await?;
    app.wait_for_text("#code-title", "Skriv in koden från sms:et")
        .await?;
    new_code(&app, before, "sms").await?;
    Ok(())
}
