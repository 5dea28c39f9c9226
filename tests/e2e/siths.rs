//! SITHS card login through the real UI: pcscd with vpcd's virtual reader, the virtual card
//! (`legitimera_vcard`) in it, and a demo server that trusts the card's test CA. The card
//! is read and shown, the PIN logs in to the staff landing page; a card pulled out (idle and in
//! the middle of a login) is told; wrong PINs show the tries left, a warning before the last
//! one, and the blocked card.

use std::sync::Arc;

use anyhow::{anyhow, ensure, Result};
use legitimera_testkit::catalog::catalog;
use legitimera_testkit::e2e::{remember, App, Harness, ServerProcess};
use legitimera_vcard::{CardKeys, CertificateTimes, Config, Identity, TestCa, VirtualCard};

use crate::TestFn;

pub fn tests() -> Vec<(&'static str, TestFn)> {
    vec![
        (
            "siths_login_with_the_pin_opens_the_staff_landing_page",
            |h| Box::pin(siths_login_with_the_pin_opens_the_staff_landing_page(h)),
        ),
        ("siths_card_pulled_out_is_told_idle_and_during_login", |h| {
            Box::pin(siths_card_pulled_out_is_told_idle_and_during_login(h))
        }),
        ("siths_revoked_card_is_told_before_the_pin", |h| {
            Box::pin(siths_revoked_card_is_told_before_the_pin(h))
        }),
        (
            "siths_wrong_pin_shows_tries_left_and_warns_before_the_last",
            |h| {
                Box::pin(siths_wrong_pin_shows_tries_left_and_warns_before_the_last(
                    h,
                ))
            },
        ),
    ]
}

/// The virtual card's holder (`vcard::Holder::default()`).
const HOLDER: &str = "Anna Testsson";
const HSA_ID: &str = "SE2321000016-1234";
const ORGANISATION: &str = "Region Testland";
/// The virtual card's PIN (`vcard::Config::default()`), and wrong ones.
const PIN: &str = "123456";
const WRONG_PINS: [&str; 3] = ["97531864", "86420975", "75319864"];

fn remember_test_data() {
    for value in [HOLDER, "Testsson", HSA_ID, PIN]
        .into_iter()
        .chain(WRONG_PINS)
    {
        remember(value);
    }
}

/// The catalog text of `key` in `lang`, with its `{name}` placeholders filled from `values`.
fn text(lang: &str, key: &str, values: &[(&str, &str)]) -> Result<String> {
    let mut text = catalog(lang)?
        .get(key)
        .cloned()
        .ok_or_else(|| anyhow!("{lang}.json has no {key}"))?;
    for (name, value) in values {
        text = text.replace(&format!("{{{name}}}"), value);
    }
    Ok(text)
}

fn sv(key: &str) -> Result<String> {
    text("sv", key, &[])
}

/// A fresh virtual card in vpcd's first reader, and a demo server trusting its CA, which
/// publishes its CRL (revoking the card when `revoked`) on the server's demo route.
fn card_and_server_revoked(h: &Harness, revoked: bool) -> Result<(VirtualCard, ServerProcess)> {
    legitimera_testkit::pcscd::check()?;
    let ca = TestCa::generate()?;
    let ca_file = h.artifact("siths-test-ca.pem");
    std::fs::write(&ca_file, ca.pem())?;
    let ca_file = ca_file.display().to_string();
    let server = h.server_with(&[
        "--siths-trust-anchors",
        &ca_file,
        "--siths-issuing-cas",
        &ca_file,
    ])?;
    let identity = Identity::on_demo_server(
        &server.url(),
        ca,
        CardKeys::generate_p256(),
        CertificateTimes::Valid,
    )?;
    if revoked {
        identity.publish_crl(&server.url(), true)?;
    }
    let card = VirtualCard::start(Config::default(), Arc::new(identity))?;
    Ok((card, server))
}

fn card_and_server(h: &Harness) -> Result<(VirtualCard, ServerProcess)> {
    card_and_server_revoked(h, false)
}

/// Opens the SITHS view and waits until the card is shown as ready, with its holder.
async fn open_siths_view(app: &App) -> Result<()> {
    app.click("#method-siths").await?;
    app.wait_for_view("siths").await?;
    wait_until_ready(app).await
}

async fn wait_until_ready(app: &App) -> Result<()> {
    app.wait_for_text("#siths-card-status", &sv("siths.state.ready")?)
        .await?;
    app.wait_for_text("#siths-holder", HOLDER).await?;
    Ok(())
}

async fn send_pin(app: &App, pin: &str) -> Result<()> {
    app.type_into("#siths-pin", pin).await?;
    app.click("#siths-submit").await?;
    Ok(())
}

/// The PIN field is emptied as soon as the PIN is sent, whatever the outcome.
async fn expect_pin_field_empty(app: &App) -> Result<()> {
    let value = app.value("#siths-pin").await?;
    ensure!(
        value.is_empty(),
        "the PIN field still holds {} characters",
        value.len()
    );
    Ok(())
}

async fn siths_login_with_the_pin_opens_the_staff_landing_page(h: &Harness) -> Result<()> {
    remember_test_data();
    let (card, server) = card_and_server(h)?;
    let app = h.launch(&server.url()).await?;
    open_siths_view(&app).await?;
    ensure!(
        app.text("#siths-hsa-id").await? == HSA_ID,
        "no HSA-id shown"
    );
    ensure!(
        app.text("#siths-organisation").await? == ORGANISATION,
        "no organisation shown"
    );
    app.wait_for_text(
        "#siths-pin-hint",
        &text("sv", "siths.pin_hint", &[("tries_left", "3")])?,
    )
    .await?;
    ensure!(
        !app.is_visible("#siths-last-try").await?,
        "warns of a last try with three left"
    );
    // The server checked the card against its CA's CRL (on the demo server's route).
    let checked = sv("siths.revocation.good")?;
    let checked = checked.split('{').next().unwrap_or_default().trim_end();
    app.wait_for_text("#siths-revocation", checked).await?;
    h.snapshot(&app, "siths_card_ready_sv").await;
    app.audit("siths: card ready").await?;

    send_pin(&app, PIN).await?;
    app.wait_for_view("staff").await?;
    expect_pin_field_empty(&app).await?;
    app.wait_for_text("#staff-name", HOLDER).await?;
    ensure!(
        app.text("#staff-hsa-id").await? == HSA_ID,
        "no HSA-id on the landing page"
    );
    ensure!(
        app.text("#staff-organisation").await? == ORGANISATION,
        "no organisation on the landing page"
    );
    app.wait_for_text("#staff-services", "Ärenden att handlägga")
        .await?;
    app.wait_for_text("#staff-level", &sv("staff.level")?)
        .await?;
    app.audit("staff landing").await?;
    ensure!(card.pin_tries_left() == 3, "a right PIN spent a try");
    let log = server.log()?;
    ensure!(
        log.contains("/api/v1/siths/sessions") && log.contains("201"),
        "the server did not log a SITHS session being made:\n{log}"
    );

    // The landing page in English: the server's titles follow the language.
    app.click("#language-switch").await?;
    app.wait_for_text("#staff-services", "Cases to handle")
        .await?;
    app.wait_for_text("#staff-title", &text("en", "staff.title", &[])?)
        .await?;
    h.snapshot(&app, "siths_staff_landing_en").await;
    app.click("#language-switch").await?;
    app.wait_for_text("#staff-services", "Ärenden att handlägga")
        .await?;

    app.click("#staff-logout-button").await?;
    app.wait_for_view("chooser").await?;
    ensure!(
        app.text("#staff-name").await.unwrap_or_default().is_empty(),
        "the name stays in the page after logout"
    );
    Ok(())
}

async fn siths_revoked_card_is_told_before_the_pin(h: &Harness) -> Result<()> {
    remember_test_data();
    let (card, server) = card_and_server_revoked(h, true)?;
    let app = h.launch(&server.url()).await?;
    app.click("#method-siths").await?;
    app.wait_for_view("siths").await?;
    app.wait_for_text("#siths-holder", HOLDER).await?;
    app.wait_for_text("#siths-revocation", &sv("siths.revocation.revoked")?)
        .await?;
    app.wait_for_text("#siths-notice", &sv("error.siths_certificate_revoked")?)
        .await?;
    app.wait_for_text("#siths-card-status", &sv("siths.state.found")?)
        .await?;
    ensure!(
        !app.is_visible("#siths-pin").await?,
        "a PIN field for a revoked card"
    );
    h.snapshot(&app, "siths_revoked_sv").await;
    app.click("#language-switch").await?;
    app.wait_for_text(
        "#siths-revocation",
        &text("en", "siths.revocation.revoked", &[])?,
    )
    .await?;
    app.click("#language-switch").await?;
    ensure!(card.pin_tries_left() == 3, "a PIN try was spent");
    let log = server.log()?;
    ensure!(
        log.contains("/api/v1/siths/check") && !log.contains("/api/v1/siths/sessions"),
        "the app did not ask the server about the card, or tried to log in:\n{log}"
    );
    Ok(())
}

async fn siths_card_pulled_out_is_told_idle_and_during_login(h: &Harness) -> Result<()> {
    remember_test_data();
    let (mut card, server) = card_and_server(h)?;
    let app = h.launch(&server.url()).await?;
    open_siths_view(&app).await?;

    card.pull_out();
    app.wait_for_text("#siths-card-status", &sv("siths.state.no_card")?)
        .await?;
    app.audit("siths: no card").await?;
    ensure!(
        !app.is_visible("#siths-pin").await?,
        "a PIN field without a card"
    );
    ensure!(
        !app.is_visible("#siths-card-facts").await?,
        "the holder stays on screen after the card was taken out"
    );
    h.snapshot(&app, "siths_no_card_sv").await;
    card.insert();
    wait_until_ready(&app).await?;

    // Out in the middle of the login: after the SELECT of the signing transaction, before the
    // PIN reaches the card.
    card.pull_out_after(1);
    send_pin(&app, PIN).await?;
    app.wait_for_text("#siths-error", &sv("error.card_removed")?)
        .await?;
    app.wait_for_text("#siths-card-status", &sv("siths.state.no_card")?)
        .await?;
    expect_pin_field_empty(&app).await?;
    ensure!(app.view().await? == "siths", "left the SITHS view");
    h.snapshot(&app, "siths_pulled_during_login_sv").await;
    ensure!(
        card.pin_tries_left() == 3,
        "the interrupted login spent a PIN try"
    );

    // Back in, and the same PIN logs in: nothing was left half-done.
    card.pull_out();
    card.insert();
    wait_until_ready(&app).await?;
    send_pin(&app, PIN).await?;
    app.wait_for_view("staff").await?;
    app.wait_for_text("#staff-name", HOLDER).await?;
    Ok(())
}

async fn siths_wrong_pin_shows_tries_left_and_warns_before_the_last(h: &Harness) -> Result<()> {
    remember_test_data();
    let (card, server) = card_and_server(h)?;
    let app = h.launch(&server.url()).await?;
    open_siths_view(&app).await?;

    send_pin(&app, WRONG_PINS[0]).await?;
    app.wait_for_text(
        "#siths-error",
        &text("sv", "error.wrong_pin", &[("tries_left", "2")])?,
    )
    .await?;
    expect_pin_field_empty(&app).await?;
    app.wait_for_text(
        "#siths-pin-hint",
        &text("sv", "siths.pin_hint", &[("tries_left", "2")])?,
    )
    .await?;
    ensure!(
        card.pin_tries_left() == 2,
        "the card has {} tries",
        card.pin_tries_left()
    );
    ensure!(
        !app.is_visible("#siths-last-try").await?,
        "warns of a last try with two left"
    );
    ensure!(app.view().await? == "siths", "a wrong PIN left the view");

    send_pin(&app, WRONG_PINS[1]).await?;
    app.wait_for_text("#siths-error", &sv("error.wrong_pin_last")?)
        .await?;
    app.wait_for_text("#siths-last-try", &sv("siths.last_try.heading")?)
        .await?;
    app.wait_for_text("#siths-pin-hint", &sv("siths.pin_hint_last")?)
        .await?;
    ensure!(
        card.pin_tries_left() == 1,
        "the card has {} tries",
        card.pin_tries_left()
    );
    h.snapshot(&app, "siths_last_try_sv").await;
    app.audit("siths: wrong PIN, last try").await?;

    // The same warning in English, before the user sends anything.
    app.click("#language-switch").await?;
    app.wait_for_text(
        "#siths-last-try",
        &text("en", "siths.last_try.heading", &[])?,
    )
    .await?;
    app.wait_for_text("#siths-error", &text("en", "error.wrong_pin_last", &[])?)
        .await?;
    h.snapshot(&app, "siths_last_try_en").await;
    app.click("#language-switch").await?;
    app.wait_for_text("#siths-last-try", &sv("siths.last_try.heading")?)
        .await?;
    ensure!(
        card.pin_tries_left() == 1,
        "switching the language sent a PIN"
    );

    send_pin(&app, WRONG_PINS[2]).await?;
    app.wait_for_text("#siths-notice", &sv("error.pin_blocked")?)
        .await?;
    app.wait_for_text("#siths-card-status", &sv("siths.state.found")?)
        .await?;
    ensure!(card.pin_tries_left() == 0, "the card is not blocked");
    ensure!(
        !app.is_visible("#siths-pin").await?,
        "a PIN field for a blocked card"
    );
    ensure!(
        !app.is_visible("#siths-error").await?,
        "the blocked PIN is said twice"
    );
    h.snapshot(&app, "siths_blocked_sv").await;
    Ok(())
}
