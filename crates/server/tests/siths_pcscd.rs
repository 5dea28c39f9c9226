//! The whole SITHS login through real pcscd: the virtual card in vpcd's reader (PIV and
//! PKCS#15, RSA and P-256), `Pcsc::sign` as the app calls it, and the server verifying the
//! result. Needs pcscd with vpcd, so a plain `cargo test` ignores it; `cargo xtask test` starts
//! pcscd and runs it with `--include-ignored`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use legitimera_card::{CardKind, KeyRole, Pcsc, Pin};
use legitimera_vcard::{self as vcard, Config, VirtualCard};
use reqwest::StatusCode;
use support::siths::{challenge, login_body, p256_identity, rsa_identity, server_trusting, PIN};

/// The reader this test uses: vpcd's second, so a stray card in the first does not matter.
const PORT: u16 = vcard::VPCD_PORT_SECOND;

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
#[ignore = "needs pcscd"]
async fn a_card_in_a_real_reader_logs_in_to_the_server() {
    legitimera_testkit::pcscd::require();
    let pcsc = Pcsc::establish().unwrap();
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
