//! Runs every account flow with all logging on (TRACE, every crate) and scans what was logged:
//! no e-mail address, phone number, password, code, session token or device token may appear.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use legitimera_protocol::Channel;
use legitimera_testkit::logs::LogCapture;
use serde_json::json;
use support::{code_in, TestServer, DEMO_PASSWORD, GOOD_PASSWORD};

#[tokio::test]
async fn no_personal_data_or_secret_reaches_the_logs() {
    let capture = LogCapture::start();

    let server = TestServer::demo().await;
    let mut tokens = Vec::new();
    // Registration with two-step, a wrong code, a resend, and a taken address.
    server
        .post(
            "registrations",
            json!({"email": "erik@example.se", "password": GOOD_PASSWORD}),
        )
        .await;
    server
        .register("logg.test@example.se", Some("0705556677"))
        .await;
    let started = server
        .post(
            "registrations",
            json!({"email": "andra@example.se", "password": GOOD_PASSWORD}),
        )
        .await;
    let id = started.body["id"].as_str().unwrap();
    server
        .post(
            &format!("registrations/{id}/email-code"),
            json!({"code": "000000"}),
        )
        .await;
    server.advance(31);
    server
        .post(&format!("registrations/{id}/resend"), json!({}))
        .await;
    // Logins: wrong password, two-step, password only, then rate limited.
    server
        .post(
            "login/password",
            json!({"email": "amira@example.se", "password": "fel lösenord"}),
        )
        .await;
    tokens.push(server.log_in("logg.test@example.se", GOOD_PASSWORD).await.0);
    tokens.push(server.log_in("amira@example.se", DEMO_PASSWORD).await.0);
    // A trusted device: made by an SMS login, used instead of a code, listed, forgotten, and
    // then refused.
    let amira = json!({"email": "amira@example.se", "password": DEMO_PASSWORD});
    let challenge = server.post("login/password", amira.clone()).await;
    let code = server.last_code(Channel::Sms, "+46701234567").await;
    let trusted = server
        .post(
            "login/sms",
            json!({"challenge_id": challenge.body["id"], "code": code, "trust_device": true,
                   "device_label": "Amiras dator"}),
        )
        .await;
    let device_token = trusted.body["device_token"].as_str().unwrap().to_owned();
    let mut with_device = amira.clone();
    with_device["device_token"] = json!(device_token);
    let used = server.post("login/password", with_device.clone()).await;
    let used_session = used.body["token"].as_str().unwrap().to_owned();
    server.get_auth("devices", &used_session).await;
    server
        .post("devices/forget", json!({"device_token": device_token}))
        .await;
    server.post("login/password", with_device).await;
    tokens.push(trusted.body["token"].as_str().unwrap().to_owned());
    tokens.push(used_session);
    tokens.push(device_token);
    for _ in 0..6 {
        server
            .post(
                "login/password",
                json!({"email": "erik@example.se", "password": "fel lösenord"}),
            )
            .await;
    }
    // Phone change without a session, then with one.
    let change = server
        .post(
            "phone-changes",
            json!({"email": "amira@example.se", "password": DEMO_PASSWORD, "phone": "0738889900"}),
        )
        .await;
    let id = change.body["id"].as_str().unwrap();
    let code = server.last_code(Channel::Email, "amira@example.se").await;
    server
        .post(
            &format!("phone-changes/{id}/email-code"),
            json!({"code": code}),
        )
        .await;
    let code = server.last_code(Channel::Sms, "+46738889900").await;
    server
        .post(
            &format!("phone-changes/{id}/sms-code"),
            json!({"code": code}),
        )
        .await;
    let token = server.log_in("logg.test@example.se", GOOD_PASSWORD).await.0;
    server
        .post_auth("phone-changes", &token, json!({"phone": "0701231231"}))
        .await;
    server.get_auth("cases", &token).await;
    server
        .post_auth("session/activity", &token, json!({}))
        .await;
    server.delete_auth("session", &token).await;
    server.get_auth("session", &token).await;
    tokens.push(token);

    let mut forbidden: Vec<String> = vec![
        "logg.test@example.se".into(),
        "andra@example.se".into(),
        "amira@example.se".into(),
        "erik@example.se".into(),
        "705556677".into(),
        "701234567".into(),
        "738889900".into(),
        "701231231".into(),
        GOOD_PASSWORD.into(),
        DEMO_PASSWORD.into(),
        "fel lösenord".into(),
        "Amira".into(),
        "Demosson".into(),
    ];
    forbidden.extend(
        server
            .outbox()
            .await
            .iter()
            .filter_map(|m| code_in(&m.body)),
    );
    forbidden.extend(tokens);
    server.running.stop().await.unwrap();

    let logs = capture.text();
    assert!(
        logs.contains("/api/v1/registrations"),
        "the capture must hold the server's request logs"
    );
    // Every answer has its line, with the route pattern and the status (operators and the
    // end-to-end tests read them), never the path itself.
    assert!(
        logs.lines()
            .any(|line| line.contains("finished processing request")
                && line.contains("route=\"/api/v1/registrations\"")
                && line.contains("status=")),
        "no request line with its status:\n{}",
        logs.lines()
            .filter(|l| l.contains("registrations"))
            .collect::<Vec<_>>()
            .join("\n")
    );
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
