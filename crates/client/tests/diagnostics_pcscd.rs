//! The card checks through real pcscd with vpcd's readers and the virtual card: a reader
//! without a card, a card whose certificate has expired, a blocked PIN; and, for the test run
//! that may restart pcscd, pcscd stopped and pcscd with no reader at all. A plain `cargo test`
//! ignores them; `cargo xtask test` runs them with pcscd.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use legitimera_card::Pcsc;
use legitimera_client::diagnostics::{run_checks, CheckId, Options, Outcome, Report, Status};
use legitimera_client::locale::Language;
use legitimera_testkit::pcscd;
use legitimera_vcard::{CardKeys, CertificateTimes, Config, Identity, VirtualCard};

/// vpcd has one first reader and pcscd is one for the whole machine: the tests here take
/// turns (libtest runs a binary's tests in parallel), or one test's card is pulled by the next.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const CARD_CHECKS: [CheckId; 4] = [
    CheckId::PcscService,
    CheckId::Readers,
    CheckId::Card,
    CheckId::Certificate,
];

async fn run(ids: &[CheckId]) -> Report {
    let options = Options {
        timeout: Duration::from_secs(20),
        ..Options::for_this_machine(Language::Sv, None, None)
    };
    run_checks(&options, ids, None, |_| {}).await
}

fn check(report: &Report, id: CheckId) -> &Outcome {
    report.checks.iter().find(|c| c.id == id).unwrap()
}

/// Waits until vpcd's first reader has (or has not) a card.
fn wait_for_card(present: bool) {
    let reader = legitimera_vcard::reader_name(legitimera_vcard::VPCD_PORT);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let readers = Pcsc::establish().unwrap().readers().unwrap();
        if readers
            .iter()
            .any(|r| r.name == reader && r.card_present == present)
        {
            return;
        }
        assert!(Instant::now() < deadline, "the card state did not settle");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn card(times: CertificateTimes) -> VirtualCard {
    let identity = Arc::new(Identity::generate(CardKeys::generate_p256(), times).unwrap());
    // The card of the test before may still be seen as present for a moment.
    wait_for_card(false);
    let card = VirtualCard::start(Config::default(), identity).unwrap();
    wait_for_card(true);
    card
}

/// No outcome text names the holder: only `Report::identity` does.
fn no_identity_in_texts(report: &Report) {
    let text = format!("{:?}", report.checks);
    assert!(
        !text.contains("Anna") && !text.contains("SE2321000016"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs pcscd"]
async fn a_reader_without_a_card_is_listed_and_the_card_check_says_insert_it() {
    let _turn = ONE_AT_A_TIME.lock().await;
    pcscd::require();
    wait_for_card(false);
    let report = run(&CARD_CHECKS).await;
    assert_eq!(check(&report, CheckId::PcscService).status, Status::Ok);
    let readers = check(&report, CheckId::Readers);
    assert_eq!(readers.status, Status::Ok, "{readers:?}");
    assert!(
        readers.detail.contains("Virtual PCD 00 00: inget kort"),
        "{}",
        readers.detail
    );
    let card = check(&report, CheckId::Card);
    assert_eq!(
        (card.status, card.summary.as_str()),
        (Status::Failed, "Inget kort i läsaren")
    );
    assert!(card.advice.contains("chippet"), "{}", card.advice);
    assert_eq!(check(&report, CheckId::Certificate).status, Status::Skipped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs pcscd"]
async fn a_card_with_an_expired_certificate_fails_the_certificate_check() {
    let _turn = ONE_AT_A_TIME.lock().await;
    pcscd::require();
    let _card = card(CertificateTimes::Expired);
    let report = run(&CARD_CHECKS).await;
    let card = check(&report, CheckId::Card);
    assert_eq!(
        (card.status, card.summary.as_str()),
        (Status::Ok, "PIV-kort, 3 PIN-försök kvar")
    );
    let certificate = check(&report, CheckId::Certificate);
    assert_eq!(certificate.status, Status::Failed, "{certificate:?}");
    assert!(
        certificate.summary.starts_with("Certifikatet gick ut "),
        "{}",
        certificate.summary
    );
    assert!(certificate
        .detail
        .contains("Utfärdare: SITHS e-id Person HSA-id 3 CA v1 TEST"));
    assert!(
        certificate.advice.contains("nytt kort"),
        "{}",
        certificate.advice
    );
    no_identity_in_texts(&report);
    let identity = report.identity.as_ref().unwrap();
    assert_eq!(identity.name, "Anna Testsson");
    assert!(!report.to_text(Language::Sv, false).contains("Anna"));
    assert!(report
        .to_text(Language::Sv, true)
        .contains("Namn: Anna Testsson"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs pcscd"]
async fn a_blocked_pin_fails_the_card_check_and_points_to_the_puk() {
    let _turn = ONE_AT_A_TIME.lock().await;
    pcscd::require();
    let card = card(CertificateTimes::Valid);
    card.block_pin();
    let report = run(&CARD_CHECKS).await;
    let outcome = check(&report, CheckId::Card);
    assert_eq!(
        (outcome.status, outcome.summary.as_str()),
        (Status::Failed, "PIN-koden är spärrad")
    );
    assert!(outcome.advice.contains("PUK"), "{}", outcome.advice);
    assert!(
        outcome.advice.contains("kortadministratör"),
        "{}",
        outcome.advice
    );
    assert_eq!(card.pin_tries_left(), 0);
    no_identity_in_texts(&report);
}

fn stop_pcscd() {
    if let Some(pid) = pcscd::running_pid() {
        assert!(Command::new("kill")
            .arg(pid.to_string())
            .status()
            .unwrap()
            .success());
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while pcscd::running_pid().is_some() || Pcsc::establish().is_ok() {
        assert!(Instant::now() < deadline, "pcscd did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `setsid -f` forks pcscd off so it outlives the test like the one it replaces. No `-a`: that
/// logs every APDU, PINs included.
fn start_pcscd(args: &[&str]) {
    let started = Command::new("setsid")
        .args(["-f", pcscd::binary(), "-f"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(started.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while Pcsc::establish().and_then(|p| p.readers()).is_err() {
        assert!(Instant::now() < deadline, "pcscd did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs pcscd, and stops and restarts it"]
async fn pcscd_stopped_and_pcscd_without_readers_are_told_with_what_to_do() {
    let _turn = ONE_AT_A_TIME.lock().await;
    pcscd::require_restartable();
    stop_pcscd();
    let report = run(&CARD_CHECKS).await;
    let service = check(&report, CheckId::PcscService);
    assert_eq!(
        (service.status, service.summary.as_str()),
        (Status::Failed, "Korttjänsten svarar inte")
    );
    assert!(
        service
            .advice
            .contains("systemctl enable --now pcscd.socket"),
        "{}",
        service.advice
    );
    assert_eq!(check(&report, CheckId::Readers).status, Status::Skipped);
    assert_eq!(check(&report, CheckId::Card).status, Status::Skipped);

    // A pcscd whose reader configuration is empty: no vpcd readers, and no USB reader here.
    let empty = tempfile::tempdir().unwrap();
    start_pcscd(&["-c", &empty.path().display().to_string()]);
    let report = run(&CARD_CHECKS).await;
    stop_pcscd();
    start_pcscd(&[]);
    pcscd::require();
    assert_eq!(check(&report, CheckId::PcscService).status, Status::Ok);
    let readers = check(&report, CheckId::Readers);
    assert_eq!(
        (readers.status, readers.summary.as_str()),
        (Status::Failed, "Ingen kortläsare hittades")
    );
    assert!(readers.advice.contains("USB-hubb"), "{}", readers.advice);
    assert_eq!(check(&report, CheckId::Card).status, Status::Skipped);
}
