//! Forgotten and changed passwords over real HTTP: the reset answers alike for known and
//! unknown addresses, proves the e-mail (and with two-step the phone), then sets the new
//! password, ends every session, revokes trusted devices, clears the wrong-password count and
//! tells the owner; the logged-in change ends the other sessions; a phone change belongs to
//! the session it was started in.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use axum::http::StatusCode;
use legitimera_protocol::{Channel, ErrorCode};
use legitimera_server::config::Overrides;
use serde_json::{json, Value};
use support::{demo_overrides, fresh_postgres_database, TestServer, DEMO_PASSWORD};

const NEW_PASSWORD: &str = "ett helt nytt långt lösenord";

fn keys(body: &Value) -> Vec<String> {
    let mut keys: Vec<String> = body.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn a_forgotten_password_is_reset_through_the_email_and_ends_every_session() {
    let dir = tempfile::tempdir().unwrap();
    let url = match fresh_postgres_database().await {
        Some(url) => url,
        None => format!("sqlite://{}", dir.path().join("db.sqlite").display()),
    };
    let server = TestServer::with(Overrides {
        database_url: Some(url.clone()),
        ..demo_overrides()
    })
    .await;
    let email = "erik@example.se";
    let (old_session, _) = server.log_in(email, DEMO_PASSWORD).await;
    // Many wrong passwords before: the reset proves the address, so they are forgotten.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    sqlx::query("UPDATE accounts SET failed_logins = 150 WHERE email = $1")
        .bind(email)
        .execute(&pool)
        .await
        .unwrap();

    let unknown = server
        .post("password-resets", json!({"email": "ingen@example.se"}))
        .await;
    let started = server
        .post("password-resets", json!({"email": email}))
        .await;
    assert_eq!(started.status, StatusCode::CREATED, "{:?}", started.body);
    assert_eq!(unknown.status, StatusCode::CREATED);
    assert_eq!(keys(&unknown.body), keys(&started.body));
    assert_eq!(unknown.body["next"], "email_code");
    assert_eq!(started.body["next"], "email_code");
    let outbox = server.outbox().await;
    let to_unknown = outbox.iter().find(|m| m.to == "ingen@example.se").unwrap();
    assert!(
        support::code_in(&to_unknown.body).is_none(),
        "no code for no account"
    );

    let id = started.body["id"].as_str().unwrap();
    let code = server.last_code(Channel::Email, email).await;
    let early = server
        .post(
            &format!("password-resets/{id}/password"),
            json!({"password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(
        early.code(),
        ErrorCode::WrongStep.as_str(),
        "not before the code"
    );
    let proven = server
        .post(
            &format!("password-resets/{id}/email-code"),
            json!({"code": code}),
        )
        .await;
    assert_eq!(proven.body["next"], "password", "{:?}", proven.body);
    let common = server
        .post(
            &format!("password-resets/{id}/password"),
            json!({"password": "password123"}),
        )
        .await;
    assert_eq!(common.code(), ErrorCode::CommonPassword.as_str());
    let done = server
        .post(
            &format!("password-resets/{id}/password"),
            json!({"password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{:?}", done.body);
    assert_eq!(done.body["next"], "done");

    let ended = server.get_auth("session", &old_session).await;
    assert_eq!(ended.code(), ErrorCode::Unauthorized.as_str());
    let old = server
        .post(
            "login/password",
            json!({"email": email, "password": DEMO_PASSWORD}),
        )
        .await;
    assert_eq!(old.code(), ErrorCode::InvalidCredentials.as_str());
    let (_, assurance) = server.log_in(email, NEW_PASSWORD).await;
    assert_eq!(assurance, "low", "no e-mail code: the count was cleared");
    let outbox = server.outbox().await;
    assert!(outbox
        .iter()
        .any(|m| m.to == email && m.body.contains("password of your account was just changed")));
    let again = server
        .post(
            &format!("password-resets/{id}/password"),
            json!({"password": "ännu ett nytt lösenord"}),
        )
        .await;
    assert_eq!(again.code(), ErrorCode::UnknownChallenge.as_str(), "once");
}

#[tokio::test]
async fn with_two_step_the_reset_needs_the_sms_code_too_and_revokes_trusted_devices() {
    let server = TestServer::demo().await;
    let email = "amira@example.se";
    // A trusted device from an earlier login.
    let answer = server
        .post(
            "login/password",
            json!({"email": email, "password": DEMO_PASSWORD}),
        )
        .await;
    let challenge = answer.body["id"].as_str().unwrap().to_owned();
    let code = server.last_code(Channel::Sms, "+46701234567").await;
    let trusted = server
        .post(
            "login/sms",
            json!({"challenge_id": challenge, "code": code, "trust_device": true}),
        )
        .await;
    let device_token = trusted.body["device_token"].as_str().unwrap().to_owned();

    let started = server
        .post("password-resets", json!({"email": email}))
        .await;
    let id = started.body["id"].as_str().unwrap();
    let code = server.last_code(Channel::Email, email).await;
    let next = server
        .post(
            &format!("password-resets/{id}/email-code"),
            json!({"code": code}),
        )
        .await;
    assert_eq!(next.body["next"], "sms_code", "{:?}", next.body);
    let skipped = server
        .post(
            &format!("password-resets/{id}/password"),
            json!({"password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(skipped.code(), ErrorCode::WrongStep.as_str());
    let code = server.last_code(Channel::Sms, "+46701234567").await;
    let proven = server
        .post(
            &format!("password-resets/{id}/sms-code"),
            json!({"code": code}),
        )
        .await;
    assert_eq!(proven.body["next"], "password");
    let done = server
        .post(
            &format!("password-resets/{id}/password"),
            json!({"password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(done.body["next"], "done");
    let with_device = server
        .post(
            "login/password",
            json!({"email": email, "password": NEW_PASSWORD, "device_token": device_token}),
        )
        .await;
    assert_eq!(with_device.body["next"], "sms_code");
    assert_eq!(
        with_device.body["device_refused"], true,
        "the device was revoked"
    );
}

#[tokio::test]
async fn changing_the_password_ends_the_other_sessions() {
    let server = TestServer::demo().await;
    let email = "erik@example.se";
    let (this, _) = server.log_in(email, DEMO_PASSWORD).await;
    let (other, _) = server.log_in(email, DEMO_PASSWORD).await;
    let wrong = server
        .post_auth(
            "session/password",
            &this,
            json!({"current": "fel lösenord 1", "new": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(wrong.code(), ErrorCode::InvalidCredentials.as_str());
    let weak = server
        .post_auth(
            "session/password",
            &this,
            json!({"current": DEMO_PASSWORD, "new": "kort"}),
        )
        .await;
    assert_eq!(weak.code(), ErrorCode::WeakPassword.as_str());
    let changed = server
        .post_auth(
            "session/password",
            &this,
            json!({"current": DEMO_PASSWORD, "new": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::NO_CONTENT, "{:?}", changed.body);
    assert_eq!(
        server.get_auth("session", &this).await.status,
        StatusCode::OK
    );
    assert_eq!(
        server.get_auth("session", &other).await.code(),
        ErrorCode::Unauthorized.as_str()
    );
    let old = server
        .post(
            "login/password",
            json!({"email": email, "password": DEMO_PASSWORD}),
        )
        .await;
    assert_eq!(old.code(), ErrorCode::InvalidCredentials.as_str());
    server.log_in(email, NEW_PASSWORD).await;
    let unauthenticated = server
        .post(
            "session/password",
            json!({"current": NEW_PASSWORD, "new": DEMO_PASSWORD}),
        )
        .await;
    assert_eq!(unauthenticated.code(), ErrorCode::Unauthorized.as_str());
}

#[tokio::test]
async fn a_phone_change_ends_with_its_session_and_ends_the_others_when_done() {
    let server = TestServer::demo().await;
    let email = "amira@example.se";
    let (first, _) = server.log_in(email, DEMO_PASSWORD).await;
    let started = server
        .post_auth("phone-changes", &first, json!({"phone": "0731112233"}))
        .await;
    let id = started.body["id"].as_str().unwrap().to_owned();
    let code = server.last_code(Channel::Sms, "+46731112233").await;
    server.delete_auth("session", &first).await;
    let after_logout = server
        .post(
            &format!("phone-changes/{id}/sms-code"),
            json!({"code": code}),
        )
        .await;
    assert_eq!(after_logout.code(), ErrorCode::UnknownChallenge.as_str());

    server.advance(60);
    let (this, _) = server.log_in(email, DEMO_PASSWORD).await;
    let (other, _) = server.log_in(email, DEMO_PASSWORD).await;
    let started = server
        .post_auth("phone-changes", &this, json!({"phone": "0731112244"}))
        .await;
    let id = started.body["id"].as_str().unwrap().to_owned();
    let code = server.last_code(Channel::Sms, "+46731112244").await;
    let done = server
        .post(
            &format!("phone-changes/{id}/sms-code"),
            json!({"code": code}),
        )
        .await;
    assert_eq!(done.body["next"], "done", "{:?}", done.body);
    assert_eq!(
        server.get_auth("session", &this).await.status,
        StatusCode::OK
    );
    assert_eq!(
        server.get_auth("session", &other).await.code(),
        ErrorCode::Unauthorized.as_str()
    );
}
