//! A whole BankID login and signature, client and simulator in this thread, logged at TRACE
//! for every crate (reqwest, hyper, rustls, axum included): the log must hold no personnummer,
//! no name, no qrStartSecret and no QR code.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use legitimera_bankid::simulator::{Scan, Simulator, TestPerson};
use legitimera_bankid::{qr_data, AuthRequest, Requirement, SignRequest, Status, UserVisibleData};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn trace_logs_of_a_whole_flow_hold_no_personal_data_or_secrets() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // This test's runtime is single-threaded, so the simulator's tasks log here too.
    let _guard = tracing::subscriber::set_default(subscriber);

    let simulator = Simulator::start(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let client = simulator.client().unwrap();
    let person = TestPerson::demo();
    let ip = "192.0.2.10".parse().unwrap();

    let mut requirement = Requirement::default();
    requirement.personal_number = Some(person.personal_number.clone());
    let mut auth = AuthRequest::new(ip);
    auth.requirement = Some(requirement);
    let order = client.auth(&auth).await.unwrap();
    let qr = qr_data(&order.qr_start_token, &order.qr_start_secret, 0);
    simulator
        .app()
        .sign(&Scan::Qr(qr.clone()), &person)
        .unwrap();
    let done = client.collect(&order.order_ref).await.unwrap();
    assert_eq!(done.status, Status::Complete);
    let refused = client.auth(&auth).await;
    assert!(
        refused.is_ok(),
        "the completed order no longer blocks the person"
    );

    let sign = SignRequest::new(ip, UserVisibleData::new("Godkänn").unwrap());
    let signing = client.sign(&sign).await.unwrap();
    client.cancel(&signing.order_ref).await.unwrap();
    simulator.stop().await;

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("BankID answered"), "the client did log: {log}");
    assert!(
        log.contains("simulator: order completed"),
        "the simulator did log"
    );
    for secret in [
        person.personal_number.expose(),
        &person.personal_number.expose()[2..],
        person.given_name.as_str(),
        person.surname.as_str(),
        order.qr_start_secret.expose(),
        signing.qr_start_secret.expose(),
        qr.as_str(),
    ] {
        assert!(!log.contains(secret), "the log holds {secret:?}");
    }
}
