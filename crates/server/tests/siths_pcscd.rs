//! The whole SITHS login through real pcscd: the virtual card in vpcd's reader (PIV and
//! PKCS#15, RSA and P-256), `Pcsc::sign` as the app calls it, and the server verifying the
//! result. Skips when pcscd with vpcd is not running, unless `LEGITIMERA_REQUIRE_PCSCD=1`
//! (`cargo xtask test` sets it and starts pcscd).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use legitimera_card::{CardKind, KeyRole, Pcsc, Pin};
use legitimera_vcard::{self as vcard, Config, VirtualCard};
use reqwest::StatusCode;
use support::siths::{challenge, login_body, p256_identity, rsa_identity, server_trusting, PIN};

const REQUIRE_ENV: &str = "LEGITIMERA_REQUIRE_PCSCD";

/// The reader this test uses: vpcd's second, so a stray card in the first does not matter.
const PORT: u16 = vcard::VPCD_PORT_SECOND;

fn pcscd_or_skip() -> Option<Pcsc> {
    let reader = vcard::reader_name(PORT);
    let why = match Pcsc::establish().and_then(|pcsc| pcsc.readers().map(|r| (pcsc, r))) {
        Ok((pcsc, readers)) if readers.iter().any(|r| r.name == reader) => return Some(pcsc),
        Ok(_) => format!("pcscd runs but has no \"{reader}\" (vsmartcard-vpcd)"),
        Err(e) => format!("no PC/SC service ({e})"),
    };
    if std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1") {
        panic!("{REQUIRE_ENV}=1 but {why}");
    }
    eprintln!("SKIP siths over pcscd: {why} (start `pcscd -f`, or set {REQUIRE_ENV}=1 to fail)");
    None
}

fn wait_for_card(pcsc: &Pcsc, present: bool) {
    let reader = vcard::reader_name(PORT);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let readers = pcsc.readers().unwrap();
        if readers
            .iter()
            .any(|r| r.name == reader && r.card_present == present)
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the card did not {} within 5 s",
            if present { "appear" } else { "go" }
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_in_a_real_reader_logs_in_to_the_server() {
    let Some(pcsc) = pcscd_or_skip() else {
        return;
    };
    let rsa = rsa_identity();
    let p256 = p256_identity(vcard::CertificateTimes::Valid);
    let (server, _ca) = server_trusting(&[&rsa, &p256]).await;
    let reader = vcard::reader_name(PORT);
    wait_for_card(&pcsc, false);
    for kind in [CardKind::Piv, CardKind::Pkcs15] {
        for identity in [&rsa, &p256] {
            let config = Config {
                kind,
                port: PORT,
                ..Config::default()
            };
            let card = VirtualCard::start(config, Arc::clone(identity)).unwrap();
            wait_for_card(&pcsc, true);
            let (id, bytes) = challenge(&server).await;
            let signed = pcsc
                .sign(
                    &reader,
                    KeyRole::Authentication,
                    &Pin::parse(PIN).unwrap(),
                    &bytes,
                )
                .unwrap();
            let answer = server
                .post("siths/sessions", login_body(&id, &signed))
                .await;
            assert_eq!(
                answer.status,
                StatusCode::CREATED,
                "{kind:?}: {:?}",
                answer.body
            );
            assert_eq!(answer.body["assurance"], "high");
            drop(card);
            wait_for_card(&pcsc, false);
        }
    }
}
