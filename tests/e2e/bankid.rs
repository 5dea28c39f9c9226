//! BankID through the real UI against the demo server and its BankID simulator: Mobilt BankID
//! on another device, where the test reads the QR code off the screen and has the simulator's
//! test app sign it (a stale code is refused); BankID on this computer through the demo test-app
//! panel; a cancel in the test app; the cancel button and closing the app, which cancel the order
//! at BankID.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context, Result};
use legitimera_testkit::catalog::catalog;
use legitimera_testkit::e2e::{remember, App, Harness, ServerProcess};
use legitimera_testkit::qr::read_svg_qr;
use serde_json::{json, Value};

use crate::TestFn;

pub fn tests() -> Vec<(&'static str, TestFn)> {
    vec![
        (
            "bankid_other_device_qr_is_read_signed_and_opens_min_sida",
            |h| Box::pin(bankid_other_device_qr_is_read_signed_and_opens_min_sida(h)),
        ),
        ("bankid_this_device_login_through_the_demo_test_app", |h| {
            Box::pin(bankid_this_device_login_through_the_demo_test_app(h))
        }),
        (
            "bankid_cancel_in_the_test_app_is_told_and_can_be_retried",
            |h| Box::pin(bankid_cancel_in_the_test_app_is_told_and_can_be_retried(h)),
        ),
        (
            "bankid_cancel_button_and_switch_cancel_the_order_at_bankid",
            |h| {
                Box::pin(bankid_cancel_button_and_switch_cancel_the_order_at_bankid(
                    h,
                ))
            },
        ),
        (
            "bankid_start_failed_on_this_computer_offers_mobilt_bankid",
            |h| Box::pin(bankid_start_failed_on_this_computer_offers_mobilt_bankid(h)),
        ),
        ("bankid_closing_the_app_cancels_the_order", |h| {
            Box::pin(bankid_closing_the_app_cancels_the_order(h))
        }),
    ]
}

const DEMO_PERSON_NAME: &str = "Amira Demosson";
const DEMO_PERSON_NUMBER: &str = "199001012385";

fn remember_test_data() {
    for value in [DEMO_PERSON_NAME, DEMO_PERSON_NUMBER, "Demosson"] {
        remember(value);
    }
}

/// The Swedish catalog text of `key`, as the UI shows it.
fn sv(key: &str) -> Result<String> {
    catalog("sv")?
        .get(key)
        .cloned()
        .ok_or_else(|| anyhow!("sv.json has no {key}"))
}

/// Waits for a QR code on screen and reads it as a phone's camera would. Remembers its
/// qrStartToken, so the final log scan looks for it.
async fn read_qr(app: &App) -> Result<String> {
    app.wait_until("a QR code on screen", Duration::from_secs(15), || async {
        Ok(!app.qr_svg_on_screen().await?.is_empty())
    })
    .await?;
    let data = read_svg_qr(&app.qr_svg_on_screen().await?)?;
    let (token, _, _) = qr_parts(&data)?;
    remember(token);
    Ok(data)
}

/// `bankid.<qrStartToken>.<seconds>.<code>` → its three parts.
fn qr_parts(data: &str) -> Result<(&str, u64, &str)> {
    let mut parts = data.split('.');
    let (Some("bankid"), Some(token), Some(seconds), Some(code), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        bail!("not BankID QR data: {data:?}");
    };
    Ok((token, seconds.parse()?, code))
}

/// The simulator's test BankID app (`POST /demo/bankid/{action}`), as the user's phone would
/// use it: answers the HTTP status and the error code, if any.
async fn test_app(server: &ServerProcess, action: &str, body: Value) -> Result<(u16, String)> {
    let response = reqwest::Client::new()
        .post(format!("{}/demo/bankid/{action}", server.url()))
        .json(&body)
        .send()
        .await
        .context("the demo test app")?;
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    Ok((status, body["code"].as_str().unwrap_or_default().to_owned()))
}

/// Min sida of the demo person after a BankID login: the name, high assurance, case details.
async fn expect_min_sida_of_the_demo_person(app: &App) -> Result<()> {
    app.wait_for_view("min-sida").await?;
    app.wait_for_text("#session-user", DEMO_PERSON_NAME).await?;
    app.wait_for_text("#session-user", "19900101-****").await?;
    app.wait_for_text("#session-level", &sv("minsida.level.high")?)
        .await?;
    app.wait_for_text("#case-list", "Arbetstillstånd").await?;
    let events = app
        .exec(
            "return document.querySelectorAll('#case-list .event').length",
            vec![],
        )
        .await?;
    ensure!(
        events.as_u64().unwrap_or(0) > 0,
        "no case details at high assurance"
    );
    ensure!(
        !app.is_visible("#cases-hidden-notice").await?,
        "says details are hidden after a BankID login"
    );
    ensure!(
        !app.is_visible("#change-phone-button").await?,
        "offers a phone change to a BankID session, which has no account"
    );
    Ok(())
}

async fn log_out(app: &App) -> Result<()> {
    app.click("#logout-button").await?;
    app.wait_for_view("chooser").await?;
    let user = app.text("#session-user").await.unwrap_or_default();
    ensure!(
        !user.contains("Demosson"),
        "the name stays in the page after logout"
    );
    Ok(())
}

async fn bankid_other_device_qr_is_read_signed_and_opens_min_sida(h: &Harness) -> Result<()> {
    remember_test_data();
    let server = h.server()?;
    let app = h.launch(&server.url()).await?;
    app.click("#method-bankid-other").await?;
    app.wait_for_view("bankid-other").await?;
    app.wait_for_text("#bankid-other-status", &sv("rfa.RFA1")?)
        .await?;
    app.audit("bankid-other: QR code").await?;
    let alt = app
        .exec(
            "return document.getElementById('bankid-other-qr').alt",
            vec![],
        )
        .await?;
    ensure!(
        alt == json!("QR-kod för Mobilt BankID"),
        "the QR image is named {alt}"
    );

    // The code on screen changes every second, each a later second of the same order.
    let first = read_qr(&app).await?;
    let (token, first_second, _) = qr_parts(&first)?;
    let token = token.to_owned();
    let started = Instant::now();
    let mut changes: Vec<(Instant, u64)> = Vec::new();
    let mut shown = app.qr_svg_on_screen().await?;
    while started.elapsed() < Duration::from_secs(7) {
        let now = app.qr_svg_on_screen().await?;
        if now != shown && !now.is_empty() {
            let data = read_svg_qr(&now)?;
            let (now_token, second, _) = qr_parts(&data)?;
            ensure!(now_token == token, "the QR code changed order");
            changes.push((Instant::now(), second));
            shown = now;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    ensure!(
        changes.len() >= 5,
        "the QR code changed {} times in 7 s",
        changes.len()
    );
    let first_change = changes[0].0.duration_since(started);
    ensure!(
        first_change < Duration::from_secs(2),
        "the first new code came after {first_change:?}"
    );
    let seconds: Vec<u64> = changes.iter().map(|(_, s)| *s).collect();
    ensure!(
        seconds.windows(2).all(|w| w[1] == w[0] + 1) && seconds[0] > first_second,
        "the codes' seconds do not count up one by one: {first_second} then {seconds:?}"
    );
    let span = changes[changes.len() - 1].0.duration_since(changes[0].0);
    let period = span.as_secs_f64() / (changes.len() - 1) as f64;
    let gaps: Vec<f64> = changes
        .windows(2)
        .map(|w| w[1].0.duration_since(w[0].0).as_secs_f64())
        .collect();
    let shortest = gaps.iter().copied().fold(f64::INFINITY, f64::min);
    let longest = gaps.iter().copied().fold(0.0, f64::max);
    println!(
        "    QR refresh: {} new codes in 7 s, mean period {period:.3} s \
         (seen apart {shortest:.3}–{longest:.3} s, polled every 50 ms)",
        changes.len()
    );
    ensure!(
        (0.8..=1.2).contains(&period),
        "the QR code changes every {period:.3} s, not every second"
    );

    // A code more than 5 s old is refused, as the real app refuses it.
    ensure!(started.elapsed() > Duration::from_secs(6));
    let (status, code) = test_app(&server, "sign", json!({ "qr": first })).await?;
    ensure!(
        (status, code.as_str()) == (409, "stale_qr"),
        "a stale QR code was answered {status} {code}"
    );
    ensure!(app.view().await? == "bankid-other", "left the QR view");

    // The phone scans the code on screen now and the person identifies.
    let current = read_qr(&app).await?;
    let (status, code) = test_app(&server, "sign", json!({ "qr": current })).await?;
    ensure!(
        status == 200,
        "the test app could not sign: {status} {code}"
    );
    let signed = Instant::now();
    app.wait_for_view("min-sida").await?;
    println!(
        "    signed in the test app -> Min sida: {:.2} s (the server collects every 2 s)",
        signed.elapsed().as_secs_f64()
    );
    expect_min_sida_of_the_demo_person(&app).await?;
    app.audit("min-sida: BankID (high)").await?;
    log_out(&app).await
}

async fn bankid_this_device_login_through_the_demo_test_app(h: &Harness) -> Result<()> {
    remember_test_data();
    let server = h.server()?;
    let app = h.launch(&server.url()).await?;
    app.click("#method-bankid-this").await?;
    app.wait_for_view("bankid-this").await?;
    app.wait_for_text("#bankid-this-status", &sv("rfa.RFA13")?)
        .await?;
    app.audit("bankid-this: waiting for the BankID app").await?;
    app.wait_until("the demo test-app panel", Duration::from_secs(5), || {
        app.is_visible("#bankid-this-demo")
    })
    .await?;
    ensure!(
        !app.is_visible("#bankid-this-qr").await? && !app.is_visible("#bankid-this-retry").await?,
        "this-device view shows a QR code or a retry while pending"
    );
    app.click("#bankid-this-demo-sign").await?;
    // The messages the order passes through on its way (the server collects every 2 s).
    let seen = tokio::sync::Mutex::new(Vec::<String>::new());
    let waited = app
        .wait_until("Min sida", Duration::from_secs(20), || async {
            if let Ok(text) = app.text("#bankid-this-status").await {
                let mut seen = seen.lock().await;
                if !text.is_empty() && !seen.contains(&text) {
                    seen.push(text);
                }
            }
            Ok(app.view().await? == "min-sida")
        })
        .await;
    let seen = seen.into_inner();
    println!("    this-device messages seen: {seen:?}");
    waited.with_context(|| format!("messages seen: {seen:?}"))?;
    expect_min_sida_of_the_demo_person(&app).await?;
    log_out(&app).await
}

async fn bankid_cancel_in_the_test_app_is_told_and_can_be_retried(h: &Harness) -> Result<()> {
    let server = h.server()?;
    let app = h.launch(&server.url()).await?;
    app.click("#method-bankid-this").await?;
    app.wait_for_text("#bankid-this-status", &sv("rfa.RFA13")?)
        .await?;
    app.wait_until("the demo test-app panel", Duration::from_secs(5), || {
        app.is_visible("#bankid-this-demo")
    })
    .await?;
    ensure!(
        !app.is_visible("#bankid-this-retry").await?,
        "offers to try again while pending"
    );
    app.click("#bankid-this-demo-cancel").await?;
    app.wait_for_text("#bankid-this-status", &sv("rfa.RFA6")?)
        .await?;
    app.audit("bankid-this: cancelled").await?;
    ensure!(
        app.is_visible("#bankid-this-retry").await?,
        "no try-again button after a cancel"
    );
    ensure!(
        !app.is_visible("#bankid-this-demo").await?,
        "the test app is offered for an order that ended"
    );
    app.click("#bankid-this-retry").await?;
    app.wait_for_text("#bankid-this-status", &sv("rfa.RFA13")?)
        .await?;
    ensure!(
        !app.is_visible("#bankid-this-retry").await?,
        "the try-again button stays on the new order"
    );
    // The new order is a live one: the test app can sign it.
    app.wait_until("the demo test-app panel", Duration::from_secs(5), || {
        app.is_visible("#bankid-this-demo")
    })
    .await?;
    app.click("#bankid-this-demo-sign").await?;
    app.wait_for_view("min-sida").await?;
    log_out(&app).await
}

async fn bankid_cancel_button_and_switch_cancel_the_order_at_bankid(h: &Harness) -> Result<()> {
    let server = h.server()?;
    let app = h.launch(&server.url()).await?;
    app.click("#method-bankid-other").await?;
    app.wait_for_view("bankid-other").await?;
    let data = read_qr(&app).await?;
    app.click("#bankid-other-cancel").await?;
    app.wait_for_view("chooser").await?;
    // Leaving the view does not wait for the cancel (the UI fires it and goes on); the server
    // cancels at BankID through the order's collector. Then the phone scans the code it saw a
    // moment ago: the order is gone at BankID.
    cancelled_at_bankid(&server, 1).await?;
    let (status, code) = test_app(&server, "sign", json!({ "qr": data })).await?;
    ensure!(
        matches!(code.as_str(), "no_such_order" | "order_not_pending"),
        "a cancelled order's QR code was answered {status} {code:?}"
    );

    // A new order starts at once, and the switch to this computer cancels the QR order.
    app.click("#method-bankid-other").await?;
    let data = read_qr(&app).await?;
    app.wait_for_text("#bankid-other-status", &sv("rfa.RFA1")?)
        .await?;
    app.click("#bankid-other-switch").await?;
    app.wait_for_view("bankid-this").await?;
    app.wait_for_text("#bankid-this-status", &sv("rfa.RFA13")?)
        .await?;
    cancelled_at_bankid(&server, 2).await?;
    let (status, code) = test_app(&server, "sign", json!({ "qr": data })).await?;
    ensure!(
        matches!(code.as_str(), "no_such_order" | "order_not_pending"),
        "the QR order left by the switch was answered {status} {code:?}"
    );
    // And Escape leaves this one too; the chooser is back.
    app.press(legitimera_testkit::e2e::keys::ESCAPE).await?;
    app.wait_for_view("chooser").await
}

/// Waits (at most 5 s) until the server has cancelled `count` orders at BankID in all.
async fn cancelled_at_bankid(server: &ServerProcess, count: usize) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let seen = server.log()?.matches("BankID order cancelled").count();
        if seen >= count {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "the server cancelled {seen} of {count} orders at BankID within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// No BankID app opens the order within 30 s: BankID ends it as startFailed, the app says
/// RFA17A and offers Mobilt BankID, which works from there.
async fn bankid_start_failed_on_this_computer_offers_mobilt_bankid(h: &Harness) -> Result<()> {
    let server = h.server()?;
    let app = h.launch(&server.url()).await?;
    app.click("#method-bankid-this").await?;
    app.wait_for_text("#bankid-this-status", &sv("rfa.RFA13")?)
        .await?;
    let rfa17a = sv("rfa.RFA17A")?;
    app.wait_until(
        "startFailed (about 30 s)",
        Duration::from_secs(45),
        || async { Ok(app.text("#bankid-this-status").await? == rfa17a) },
    )
    .await?;
    ensure!(
        app.is_visible("#bankid-this-retry").await?,
        "no try-again button after startFailed"
    );
    let focused = app.focused_id().await?;
    ensure!(
        focused == "bankid-this-switch",
        "Mobilt BankID is not offered first (focus on {focused:?})"
    );
    app.audit("bankid-this: start failed").await?;
    app.click("#bankid-this-switch").await?;
    app.wait_for_view("bankid-other").await?;
    read_qr(&app).await?;
    // This time the demo panel's test app scans the code on screen (the app passes it on).
    app.wait_until("the demo test-app panel", Duration::from_secs(5), || {
        app.is_visible("#bankid-other-demo")
    })
    .await?;
    app.click("#bankid-other-demo-sign").await?;
    expect_min_sida_of_the_demo_person(&app).await?;
    log_out(&app).await
}

/// WebDriver's "close window" kills the app outright (no window event can run), so this test
/// ends it as a desktop session's logout does: SIGTERM to its pid.
async fn bankid_closing_the_app_cancels_the_order(h: &Harness) -> Result<()> {
    let server = h.server()?;
    let app = h.launch(&server.url()).await?;
    app.click("#method-bankid-other").await?;
    app.wait_for_view("bankid-other").await?;
    let data = read_qr(&app).await?;
    let pid = h.app_pid()?;
    let signalled = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()?;
    ensure!(signalled.success(), "could not signal the app");
    app.wait_until("the app to exit", Duration::from_secs(5), || async {
        Ok(h.app_pid().is_err())
    })
    .await?;
    // Within the code's 5 s of validity: only a cancel can make it unsignable.
    let (status, code) = test_app(&server, "sign", json!({ "qr": data })).await?;
    ensure!(
        matches!(code.as_str(), "no_such_order" | "order_not_pending"),
        "the order of a closed app was answered {status} {code:?}"
    );
    Ok(())
}
