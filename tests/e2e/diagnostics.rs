//! "Problem med inloggningen?" through the real UI: from the SITHS view with the virtual card in
//! vpcd's reader, the checks run with a row each; "Kopiera rapport" puts a plain-text report on
//! the X clipboard that names the version and the checks and holds no name, HSA-id or PIN until
//! "Ta med mitt namn och HSA-id" is ticked; with the card pulled the card check fails; and the
//! wipe after a session takes the report off the clipboard.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, ensure, Context, Result};
use legitimera_testkit::catalog::catalog;
use legitimera_testkit::e2e::{remember, App, Harness};
use legitimera_vcard::{CardKeys, CertificateTimes, Config, Identity, TestCa, VirtualCard};

use crate::TestFn;

pub fn tests() -> Vec<(&'static str, TestFn)> {
    vec![(
        "diagnostics_from_the_siths_view_with_the_card_in_and_pulled_and_the_copied_report",
        |h| Box::pin(diagnostics_from_the_siths_view(h)),
    )]
}

const HOLDER: &str = "Anna Testsson";
const HSA_ID: &str = "SE2321000016-1234";
const PIN: &str = "123456";

fn sv(key: &str) -> Result<String> {
    catalog("sv")?
        .get(key)
        .cloned()
        .ok_or_else(|| anyhow!("sv.json has no {key}"))
}

/// The X clipboard's text (UTF8_STRING), as another program would paste it.
fn clipboard_text() -> Result<String> {
    use x11rb::connection::Connection;
    use x11rb::protocol::xproto::{AtomEnum, ConnectionExt, CreateWindowAux, WindowClass};
    use x11rb::protocol::Event;
    let (conn, screen) = x11rb::connect(None).context("the X display")?;
    let root = conn.setup().roots[screen].root;
    let window = conn.generate_id()?;
    conn.create_window(
        x11rb::COPY_DEPTH_FROM_PARENT,
        window,
        root,
        0,
        0,
        1,
        1,
        0,
        WindowClass::INPUT_OUTPUT,
        0,
        &CreateWindowAux::new(),
    )?;
    let atom = |name: &[u8]| -> Result<u32> { Ok(conn.intern_atom(false, name)?.reply()?.atom) };
    let (clipboard, utf8, property) = (
        atom(b"CLIPBOARD")?,
        atom(b"UTF8_STRING")?,
        atom(b"LEGITIMERA_E2E_CLIPBOARD")?,
    );
    conn.convert_selection(window, clipboard, utf8, property, x11rb::CURRENT_TIME)?;
    conn.flush()?;
    loop {
        if let Event::SelectionNotify(notify) = conn.wait_for_event()? {
            if notify.property == u32::from(AtomEnum::NONE) {
                return Ok(String::new());
            }
            break;
        }
    }
    let reply = conn
        .get_property(true, window, property, AtomEnum::ANY, 0, u32::MAX / 4)?
        .reply()?;
    Ok(String::from_utf8(reply.value)?)
}

async fn read_clipboard() -> Result<String> {
    tokio::time::timeout(
        Duration::from_secs(5),
        tokio::task::spawn_blocking(clipboard_text),
    )
    .await
    .context("nobody answered for the clipboard within 5 s")??
}

async fn run_checks(app: &App) -> Result<()> {
    app.click("#diagnostics-run").await?;
    app.wait_for_text("#diagnostics-state", &sv("diagnostics.done")?)
        .await?;
    Ok(())
}

async fn row(app: &App, check: &str, part: &str) -> Result<String> {
    app.text(&format!(
        "#diagnostics-list li[data-check=\"{check}\"] .diagnostics__{part}"
    ))
    .await
}

async fn copy_report(app: &App) -> Result<String> {
    app.click("#diagnostics-copy").await?;
    app.wait_for_text("#diagnostics-copied", &sv("diagnostics.report.copied")?)
        .await?;
    read_clipboard().await
}

/// Waits until pcscd reports vpcd's first reader with (or without) a card.
async fn card_seen(present: bool) -> Result<()> {
    let reader = legitimera_vcard::reader_name(legitimera_vcard::VPCD_PORT);
    for _ in 0..100 {
        let readers = legitimera_card::Pcsc::establish()?.readers()?;
        if readers
            .iter()
            .any(|r| r.name == reader && r.card_present == present)
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(anyhow!(
        "pcscd did not see the card {}",
        if present { "in" } else { "out" }
    ))
}

async fn diagnostics_from_the_siths_view(h: &Harness) -> Result<()> {
    for value in [HOLDER, "Testsson", HSA_ID, PIN] {
        remember(value);
    }
    legitimera_testkit::pcscd::check()?;
    // A card whose CA publishes its CRL on the demo server, as the SITHS tests' (the server
    // checks revocation: no CRL, no login).
    let ca = TestCa::generate()?;
    let ca_file = h.artifact("diagnostics-siths-ca.pem");
    std::fs::write(&ca_file, ca.pem())?;
    let ca_file = ca_file.display().to_string();
    let server = h.server_with(&[
        "--siths-trust-anchors",
        &ca_file,
        "--siths-issuing-cas",
        &ca_file,
    ])?;
    let identity = Arc::new(Identity::on_demo_server(
        &server.url(),
        ca,
        CardKeys::generate_p256(),
        CertificateTimes::Valid,
    )?);
    let mut card = VirtualCard::start(Config::default(), identity)?;
    let app = h.launch(&server.url()).await?;
    app.click("#method-siths").await?;
    app.wait_for_view("siths").await?;
    app.wait_for_text("#siths-holder", HOLDER).await?;

    app.click("#siths-diagnose").await?;
    app.wait_for_view("diagnostics").await?;
    run_checks(&app).await?;
    ensure!(row(&app, "card", "status").await? == "OK", "the card row");
    let card_summary = row(&app, "card", "summary").await?;
    ensure!(
        card_summary == "PIV-kort, 3 PIN-försök kvar",
        "the card row says {card_summary:?}"
    );
    let readers = row(&app, "readers", "detail").await?;
    ensure!(
        readers.contains("Virtual PCD 00 00: kort isatt"),
        "readers: {readers:?}"
    );
    ensure!(
        row(&app, "backend", "status").await? == "OK",
        "the backend row"
    );
    app.audit("diagnostics: results").await?;
    ensure!(
        row(&app, "test_login", "status").await? == sv("diagnostics.status.skipped")?,
        "a test login without a PIN"
    );
    // Each check is announced once, when it ends: the last one is the test login.
    // (Read as textContent: the region is visually hidden, and WebDriver's text is the visible.)
    app.wait_until(
        "the live region to tell the last check",
        Duration::from_secs(10),
        || async {
            let said = app
                .exec(
                    "return document.getElementById('diagnostics-live').textContent",
                    vec![],
                )
                .await?;
            Ok(said
                .as_str()
                .is_some_and(|said| said.starts_with("Testinloggning: Hoppades över")))
        },
    )
    .await?;
    h.snapshot(&app, "diagnostics_card_in_sv").await;

    let report = copy_report(&app).await?;
    for line in [
        "Legitimera – felsökning",
        &format!("Version: {}", env!("CARGO_PKG_VERSION")),
        "Operativsystem: Linux",
        "[OK] Kortet: PIV-kort, 3 PIN-försök kvar",
        "[OK] Tjänsten: Tjänsten svarar",
        "[Hoppades över] Testinloggning: Ingen testinloggning begärdes",
        "  Virtual PCD 00 00: kort isatt",
    ] {
        ensure!(
            report.contains(line),
            "the report lacks {line:?}:\n{report}"
        );
    }
    for personal in [HOLDER, "Testsson", HSA_ID, PIN] {
        ensure!(
            !report.contains(personal),
            "the report holds {personal:?} unticked"
        );
    }
    app.click("#diagnostics-identity").await?;
    let with_identity = copy_report(&app).await?;
    ensure!(
        with_identity.contains(&format!("Namn: {HOLDER}"))
            && with_identity.contains(&format!("HSA-id: {HSA_ID}")),
        "ticked, the report lacks the name and HSA-id:\n{with_identity}"
    );
    ensure!(!with_identity.contains(PIN), "the report holds the PIN");

    card.pull_out();
    card_seen(false).await?;
    run_checks(&app).await?;
    ensure!(
        row(&app, "card", "summary").await? == "Inget kort i läsaren",
        "the card row with the card pulled"
    );
    ensure!(
        row(&app, "card", "status").await? == sv("diagnostics.status.failed")?,
        "the card row's status with the card pulled"
    );
    h.snapshot(&app, "diagnostics_card_pulled_sv").await;
    // The last report (card pulled, identity ticked) is on the clipboard; a session's end
    // wipes it off.
    let copied = copy_report(&app).await?;
    ensure!(
        copied.contains("[Fel] Kortet: Inget kort i läsaren"),
        "{copied}"
    );
    card.insert();
    app.click("[data-view=\"diagnostics\"] [data-back]").await?;
    app.wait_for_view("siths").await?;
    app.wait_for_text("#siths-holder", HOLDER).await?;
    app.type_into("#siths-pin", PIN).await?;
    app.click("#siths-submit").await?;
    app.wait_for_view("staff").await?;
    app.click("#staff-logout-button").await?;
    app.wait_for_view("chooser").await?;
    let mut left = String::new();
    for _ in 0..50 {
        left = read_clipboard().await?;
        if !left.contains("Legitimera – felsökning") {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(anyhow!(
        "the report stayed on the clipboard after the session:\n{left}"
    ))
}
