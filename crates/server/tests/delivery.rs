//! Real delivery: e-mail over an SMTP conversation with a local sink, SMS as a form POST with
//! basic auth to a local gateway sink, and a mail server that is down at first and comes back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use axum::http::StatusCode;
use legitimera_protocol::ErrorCode;
use legitimera_server::config::{
    Config, Database, FileConfig, Overrides, SmsFile, SmtpFile, SmtpSecurity,
};
use serde_json::json;
use support::{code_in, SmsSink, SmtpSink, TestServer, GOOD_PASSWORD, SMS_PASSWORD, SMS_USER};
use tokio::net::TcpListener;

/// A production-style server (no demo) whose SMTP and SMS go to local sinks.
async fn server(smtp_port: u16, sms_url: &str) -> TestServer {
    let over = Overrides {
        listen: Some("127.0.0.1:0".parse().unwrap()),
        database_url: Some("sqlite://replaced-below.db".into()),
        smtp: SmtpFile {
            host: Some("127.0.0.1".into()),
            port: Some(smtp_port),
            security: Some(SmtpSecurity::None),
            from: Some("Myndigheten <no-reply@example.se>".into()),
            ..Default::default()
        },
        sms: SmsFile {
            url: Some(sms_url.parse().unwrap()),
            username: Some(SMS_USER.into()),
            password: Some(SMS_PASSWORD.into()),
            from: Some("Myndighet".into()),
        },
        ..Default::default()
    };
    let mut config = Config::resolve(FileConfig::default(), over).unwrap();
    // Not demo (no seeded data, no outbox), on a database that goes away with the server.
    config.database = Database::Temporary;
    TestServer::with_config(config).await
}

fn mail_to<'a>(sink: &'a [String], address: &str) -> &'a String {
    sink.iter()
        .rev()
        .find(|m| m.to_ascii_lowercase().contains(&format!("to: {address}")))
        .unwrap_or_else(|| panic!("no mail to {address} in {sink:#?}"))
}

#[tokio::test]
async fn codes_travel_over_real_smtp_and_the_sms_gateway() {
    let smtp_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let smtp_port = smtp_listener.local_addr().unwrap().port();
    let smtp = SmtpSink::start(smtp_listener).await;
    let (sms, sms_url) = SmsSink::start().await;
    let server = server(smtp_port, &sms_url).await;

    let started = server
        .post(
            "registrations",
            json!({"email": "smtp@example.se", "password": GOOD_PASSWORD, "phone": "0701112233"}),
        )
        .await;
    assert_eq!(started.status, StatusCode::CREATED, "{:?}", started.body);
    let id = started.body["id"].as_str().unwrap();
    let mails = smtp.all();
    let mail = mail_to(&mails, "smtp@example.se");
    assert!(
        mail.contains("From: Myndigheten <no-reply@example.se>"),
        "{mail}"
    );
    let code = code_in(mail.split("\n\n").nth(1).unwrap()).unwrap();

    let next = server
        .post(
            &format!("registrations/{id}/email-code"),
            json!({"code": code}),
        )
        .await;
    assert_eq!(next.body["next"], "sms_code", "{:?}", next.body);
    let texts = sms.all();
    let (from, to, message) = texts.last().unwrap();
    assert_eq!((from.as_str(), to.as_str()), ("Myndighet", "+46701112233"));
    let code = code_in(message).unwrap();
    let done = server
        .post(
            &format!("registrations/{id}/sms-code"),
            json!({"code": code}),
        )
        .await;
    assert_eq!(done.body["next"], "done");

    let login = server
        .post(
            "login/password",
            json!({"email": "smtp@example.se", "password": GOOD_PASSWORD}),
        )
        .await;
    assert_eq!(login.body["next"], "sms_code");
    assert_eq!(sms.all().len(), 2);
}

#[tokio::test]
async fn a_gateway_that_refuses_is_sms_unavailable_and_the_registration_is_kept() {
    let smtp_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let smtp_port = smtp_listener.local_addr().unwrap().port();
    let smtp = SmtpSink::start(smtp_listener).await;
    let (sms, sms_url) = SmsSink::start().await;
    let wrong_path = sms_url.replace("/a1/sms", "/nowhere");
    let server = server(smtp_port, &wrong_path).await;
    let started = server
        .post(
            "registrations",
            json!({"email": "sms@example.se", "password": GOOD_PASSWORD, "phone": "0701112233"}),
        )
        .await;
    let id = started.body["id"].as_str().unwrap();
    let code = code_in(
        mail_to(&smtp.all(), "sms@example.se")
            .split("\n\n")
            .nth(1)
            .unwrap(),
    )
    .unwrap();
    let answer = server
        .post(
            &format!("registrations/{id}/email-code"),
            json!({"code": code}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.code(), ErrorCode::SmsUnavailable.as_str());
    assert_eq!(answer.body["id"], id);
    assert!(sms.all().is_empty());
    let outbox = server
        .send(
            server
                .client
                .get(format!("{}/demo/outbox", server.running.url())),
        )
        .await;
    assert_eq!(
        outbox.status,
        StatusCode::NOT_FOUND,
        "no demo outbox outside demo mode"
    );
}

#[tokio::test]
async fn with_smtp_down_registration_says_so_and_a_later_resend_goes_on() {
    // A port nothing listens on (yet).
    let port = {
        let probe = TcpListener::bind("127.0.0.1:0").await.unwrap();
        probe.local_addr().unwrap().port()
    };
    let (_sms, sms_url) = SmsSink::start().await;
    let server = server(port, &sms_url).await;
    let down = server
        .post(
            "registrations",
            json!({"email": "senare@example.se", "password": GOOD_PASSWORD}),
        )
        .await;
    assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(down.code(), ErrorCode::EmailUnavailable.as_str());
    let id = down.body["id"].as_str().unwrap().to_owned();

    let smtp = SmtpSink::start(TcpListener::bind(("127.0.0.1", port)).await.unwrap()).await;
    let resent = server
        .post(&format!("registrations/{id}/resend"), json!({}))
        .await;
    assert_eq!(
        resent.status,
        StatusCode::OK,
        "no cooldown after a failed send: {:?}",
        resent.body
    );
    let code = code_in(
        mail_to(&smtp.all(), "senare@example.se")
            .split("\n\n")
            .nth(1)
            .unwrap(),
    )
    .unwrap();
    let done = server
        .post(
            &format!("registrations/{id}/email-code"),
            json!({"code": code}),
        )
        .await;
    assert_eq!(done.body["next"], "done", "{:?}", done.body);
}
