//! SITHS as the user sees it: a card put in the reader → its holder shown in the app's SITHS
//! view, through the real app (tauri-driver, WebKitWebDriver, Xvfb) with real pcscd and the
//! virtual card over vpcd, reusing the end-to-end harness. `bench/card_read.rs` splits the same
//! path at the crate level (pcscd's presence poll, the APDUs and their floor); this one adds
//! what the app does after (the card-changed event, the page) and says what is left over.
//!
//! Timestamps on this side: the insertion is when `VirtualCard::insert` returns; the card is
//! "shown" at the midpoint of the last DOM poll that did not show the holder and the first that
//! did (the bracket widths are printed as the resolution). Insertions are spread over pcscd's
//! 400 ms poll, as real users' are. Bounded: `INSERTIONS` (default 20).
//! Run: `cargo xtask bench card` (Xvfb, D-Bus, tauri-driver, pcscd, the server binary).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use legitimera_bench::Summary;
use legitimera_testkit::e2e::{App, Harness};
use legitimera_vcard::{CardKeys, CertificateTimes, Config, Identity, VirtualCard};
use serde_json::json;

const HOLDER: &str = "Anna Testsson";
/// pcscd polls vpcd's readers for a card every 400 ms.
const PCSCD_POLL: Duration = Duration::from_millis(400);

fn main() -> std::process::ExitCode {
    if std::env::var_os("LEGITIMERA_E2E").is_none() {
        println!(
            "card_shown: needs Xvfb, D-Bus, pcscd and tauri-driver; run `cargo xtask bench card`"
        );
        return std::process::ExitCode::SUCCESS;
    }
    let insertions: usize = std::env::var("INSERTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    match runtime.block_on(run(insertions)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("card_shown: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(insertions: usize) -> Result<()> {
    let harness = Harness::start(env!("CARGO_BIN_EXE_legitimera")).await?;
    let identity = Arc::new(Identity::generate(
        CardKeys::generate_p256(),
        CertificateTimes::Valid,
    )?);
    let ca = harness.artifact("bench-siths-ca.pem");
    std::fs::write(&ca, identity.ca.pem())?;
    let server = harness.server_with(&["--siths-trust-anchors", &ca.display().to_string()])?;
    let mut card = VirtualCard::start(Config::default(), identity)
        .context("the virtual card (is pcscd with vpcd running?)")?;
    let app = harness.launch(&server.url()).await?;
    let result = measure(&app, &mut card, insertions).await;
    harness
        .after_test("bench_card_shown", result.is_err())
        .await;
    result
}

async fn holder_shown(app: &App) -> Result<bool> {
    let shown = app
        .exec(
            "const e = document.getElementById('siths-holder');
             return !!e && !!e.offsetParent && e.textContent.includes(arguments[0]);",
            vec![json!(HOLDER)],
        )
        .await?;
    Ok(shown == json!(true))
}

/// Polls until `want` holds; answers the midpoint of the bracket and its width.
async fn until_shown(app: &App, want: bool, since: Instant) -> Result<(Duration, Duration)> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last_other = since;
    loop {
        let start = Instant::now();
        let now_shown = holder_shown(app).await?;
        let end = Instant::now();
        if now_shown == want {
            let mid = last_other + (end - last_other) / 2;
            return Ok((mid.saturating_duration_since(since), end - last_other));
        }
        last_other = start;
        anyhow::ensure!(
            Instant::now() < deadline,
            "the holder shown = {want} never came"
        );
    }
}

async fn measure(app: &App, card: &mut VirtualCard, insertions: usize) -> Result<()> {
    app.click("#method-siths").await?;
    app.wait_for_view("siths").await?;
    until_shown(app, true, Instant::now()).await?;
    let mut shown = Vec::with_capacity(insertions);
    let mut brackets = Vec::with_capacity(insertions);
    for i in 0..insertions {
        card.pull_out();
        until_shown(app, false, Instant::now()).await?;
        // Spread over pcscd's poll: the phase of the insertion decides most of the wait.
        let offset = PCSCD_POLL.mul_f64(i as f64 / insertions as f64);
        tokio::time::sleep(Duration::from_millis(50) + offset).await;
        card.insert();
        let inserted = Instant::now();
        let (after, bracket) = until_shown(app, true, inserted).await?;
        shown.push(after);
        brackets.push(bracket);
    }
    let summary = Summary::of(shown);
    println!("\nSITHS view: card inserted → its holder shown in the app");
    println!("  {summary}");
    println!(
        "  vs pcscd's presence poll ({} ms; an insertion waits half of it on average): \
         median / (poll / 2) = {:.2}",
        PCSCD_POLL.as_millis(),
        summary.median.as_secs_f64() / (PCSCD_POLL.as_secs_f64() / 2.0)
    );
    println!(
        "change seen within (bracket; the resolution): {}",
        Summary::of(brackets)
    );
    Ok(())
}
