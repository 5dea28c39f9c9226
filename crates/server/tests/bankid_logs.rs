//! Runs BankID logins in demo mode (server, in-process simulator over mutual TLS, the test app
//! over HTTP) with all logging on (TRACE, every crate) and scans what was logged: no
//! personnummer, name, session token, order id, autostart token or QR code may appear.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use legitimera_testkit::logs::LogCapture;
use serde_json::{json, Value};
use support::TestServer;

async fn wait_for_end(server: &TestServer, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut body = server.get(&format!("bankid/orders/{id}")).await.body;
    while body["status"] == "pending" {
        assert!(Instant::now() < deadline, "{body:?}");
        let version = &body["version"];
        body = server
            .get(&format!("bankid/orders/{id}?wait=5&since={version}"))
            .await
            .body;
    }
    body
}

#[tokio::test]
async fn no_personal_data_or_secret_of_a_bankid_login_reaches_the_logs() {
    let capture = LogCapture::start();

    let server = TestServer::demo().await;
    let mut forbidden: Vec<String> = vec![
        "199001012385".into(),
        "9001012385".into(),
        "198112289874".into(),
        "8112289874".into(),
        "Amira".into(),
        "Demosson".into(),
        "Erik".into(),
        "Provsson".into(),
    ];

    // Other device: the QR code signed by the default demo person.
    let order = server
        .post("bankid/orders", json!({"mode": "other_device"}))
        .await
        .body;
    let id = order["id"].as_str().unwrap().to_owned();
    let qr = order["qr"].as_str().unwrap().to_owned();
    let signed = server.post("/demo/bankid/sign", json!({"qr": qr})).await;
    assert_eq!(signed.status, 200, "{:?}", signed.body);
    let order_ref = signed.body["order_ref"].as_str().unwrap().to_owned();
    let done = wait_for_end(&server, &id).await;
    let token = done["token"].as_str().unwrap().to_owned();
    server.get_auth("session", &token).await;
    server.get_auth("cases", &token).await;
    server.delete_auth("session", &token).await;
    forbidden.extend([id, token]);
    // The qrStartToken and the code; the seconds field is just a small number.
    let parts: Vec<&str> = qr.split('.').collect();
    forbidden.extend([parts[1].to_owned(), parts[3].to_owned()]);

    // This device: cancelled in the app by another demo person, then one cancelled by the RP.
    let order = server
        .post("bankid/orders", json!({"mode": "this_device"}))
        .await
        .body;
    let id = order["id"].as_str().unwrap().to_owned();
    let autostart = order["autostarttoken"].as_str().unwrap().to_owned();
    server
        .post(
            "/demo/bankid/cancel",
            json!({"autostarttoken": autostart, "personal_number": "198112289874"}),
        )
        .await;
    assert_eq!(wait_for_end(&server, &id).await["hint"], "userCancel");
    forbidden.extend([id, autostart]);
    let order = server
        .post("bankid/orders", json!({"mode": "this_device"}))
        .await
        .body;
    let id = order["id"].as_str().unwrap().to_owned();
    server.delete(&format!("bankid/orders/{id}")).await;
    forbidden.extend([id, order["autostarttoken"].as_str().unwrap().to_owned()]);
    server.running.stop().await.unwrap();

    let logs = capture.text();
    for expected in [
        "/api/v1/bankid/orders",
        "BankID order complete",
        "endpoint=\"collect\"",
    ] {
        assert!(
            logs.contains(expected),
            "the capture must hold the server's and the simulator's logs: {expected}"
        );
    }
    // The orderRef is BankID's handle of the login: only the simulator (BankID's side) logs it.
    let with_order_ref: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains(order_ref.as_str()) && !l.contains("simulator:"))
        .collect();
    assert!(with_order_ref.is_empty(), "{with_order_ref:#?}");
    for secret in &forbidden {
        assert!(
            !logs.contains(secret.as_str()),
            "{secret:?} appears in the logs:\n{}",
            logs.lines()
                .filter(|l| l.contains(secret.as_str()))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}
