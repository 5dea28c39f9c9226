//! Trusted devices over real HTTP against the real server (demo outbox for codes, a
//! ManualClock for time): an SMS login that trusts the device, password logins that skip the
//! SMS code with its token, and every way the token stops working (another account, removal
//! from Min sida, "Glöm den här enheten", 30 days, a phone change without a session).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use axum::http::StatusCode;
use legitimera_protocol::{Channel, ErrorCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use support::{Answer, TestServer, DEMO_PASSWORD, GOOD_PASSWORD};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

const AMIRA: &str = "amira@example.se";
const AMIRA_PHONE: &str = "+46701234567";
const THIRTY_DAYS: u64 = 30 * 24 * 60 * 60;

/// Password, then the SMS code with `trust_device`: (session token, device token).
async fn trust_this_device(
    server: &TestServer,
    email: &str,
    password: &str,
    phone: &str,
    label: Option<&str>,
) -> (String, String) {
    let answer = password_login(server, email, password, None).await;
    assert_eq!(answer.body["next"], "sms_code", "{:?}", answer.body);
    let code = server.last_code(Channel::Sms, phone).await;
    let mut body = json!({"challenge_id": answer.body["id"], "code": code, "trust_device": true});
    if let Some(label) = label {
        body["device_label"] = json!(label);
    }
    let session = server.post("login/sms", body).await;
    assert_eq!(session.status, StatusCode::OK, "{:?}", session.body);
    assert_eq!(session.body["assurance"], "substantial");
    (
        session.body["token"].as_str().unwrap().to_owned(),
        session.body["device_token"]
            .as_str()
            .expect("trust_device gives a device token")
            .to_owned(),
    )
}

async fn password_login(
    server: &TestServer,
    email: &str,
    password: &str,
    device_token: Option<&str>,
) -> Answer {
    let mut body = json!({"email": email, "password": password});
    if let Some(token) = device_token {
        body["device_token"] = json!(token);
    }
    let answer = server.post("login/password", body).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    answer
}

async fn sms_sent(server: &TestServer) -> usize {
    server
        .outbox()
        .await
        .iter()
        .filter(|m| m.channel == Channel::Sms)
        .count()
}

/// The token got the usual SMS challenge, flagged as refused, and an SMS went out.
async fn assert_refused(server: &TestServer, email: &str, password: &str, device_token: &str) {
    let before = sms_sent(server).await;
    let answer = password_login(server, email, password, Some(device_token)).await;
    assert_eq!(answer.body["next"], "sms_code", "{:?}", answer.body);
    assert_eq!(answer.body["device_refused"], true);
    assert_eq!(sms_sent(server).await, before + 1);
}

async fn devices(server: &TestServer, session: &str) -> Vec<Value> {
    let answer = server.get_auth("devices", session).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    answer.body["devices"].as_array().unwrap().clone()
}

fn parse_time(value: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(value.as_str().unwrap(), &Rfc3339).unwrap()
}

#[tokio::test]
async fn a_trusted_device_skips_the_sms_code_and_is_listed_as_current() {
    let server = TestServer::demo().await;
    let (first_session, device_token) = trust_this_device(
        &server,
        AMIRA,
        DEMO_PASSWORD,
        AMIRA_PHONE,
        Some("Legitimera, Linux"),
    )
    .await;

    let before = sms_sent(&server).await;
    let answer = password_login(&server, AMIRA, DEMO_PASSWORD, Some(&device_token)).await;
    assert_eq!(answer.body["next"], "session", "{:?}", answer.body);
    assert_eq!(answer.body["assurance"], "substantial");
    assert!(answer.body.get("device_token").is_none(), "shown only once");
    assert_eq!(sms_sent(&server).await, before, "no SMS code was sent");
    let session = answer.body["token"].as_str().unwrap();
    let status = server.get_auth("session", session).await;
    assert_eq!(status.body["assurance"], "substantial");

    let listed = devices(&server, session).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let device = &listed[0];
    assert_eq!(device["label"], "Legitimera, Linux");
    assert_eq!(device["current"], true);
    let created = parse_time(&device["created_at"]);
    let expires = parse_time(&device["expires_at"]);
    assert_eq!((expires - created).whole_seconds(), 30 * 24 * 60 * 60);
    assert!(parse_time(&device["last_used_at"]) >= created);
    // The session that made the device is on it too.
    assert_eq!(devices(&server, &first_session).await[0]["current"], true);

    // A login with an SMS code, without trusting, is not on the device.
    let (other_session, _) = server.log_in(AMIRA, DEMO_PASSWORD).await;
    let listed = devices(&server, &other_session).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["current"], false);
}

#[tokio::test]
async fn devices_are_listed_newest_first_with_clean_labels() {
    let server = TestServer::demo().await;
    let (session, _) = trust_this_device(&server, AMIRA, DEMO_PASSWORD, AMIRA_PHONE, None).await;
    server.advance(60);
    let long = format!(" \u{1b}[1m{}\n", "x".repeat(80));
    trust_this_device(&server, AMIRA, DEMO_PASSWORD, AMIRA_PHONE, Some(&long)).await;
    let listed = devices(&server, &session).await;
    assert_eq!(listed.len(), 2);
    let newest = listed[0]["label"].as_str().unwrap();
    assert_eq!(newest.chars().count(), 64);
    assert!(newest.starts_with("[1mxxx"), "{newest:?}");
    assert_eq!(listed[1]["label"], "Legitimera", "the default label");
    assert!(listed[1].get("last_used_at").is_none(), "never used yet");
    assert_eq!(listed[1]["current"], true);
}

#[tokio::test]
async fn another_accounts_device_token_is_refused() {
    let server = TestServer::demo().await;
    server.register("bo@example.se", Some("0709876543")).await;
    let (_, amiras_token) =
        trust_this_device(&server, AMIRA, DEMO_PASSWORD, AMIRA_PHONE, None).await;
    assert_refused(&server, "bo@example.se", GOOD_PASSWORD, &amiras_token).await;
    // Refused for Bo, still trusted for Amira.
    let answer = password_login(&server, AMIRA, DEMO_PASSWORD, Some(&amiras_token)).await;
    assert_eq!(answer.body["next"], "session");
    // Bo's session cannot see or remove Amira's device.
    let (bos_session, _) = server.log_in("bo@example.se", GOOD_PASSWORD).await;
    assert!(devices(&server, &bos_session).await.is_empty());
    let amiras_session = answer.body["token"].as_str().unwrap();
    let id = devices(&server, amiras_session).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let removed = server
        .delete_auth(&format!("devices/{id}"), &bos_session)
        .await;
    assert_eq!(removed.status, StatusCode::NOT_FOUND);
    assert_eq!(removed.code(), ErrorCode::NotFound.as_str());
    assert_eq!(devices(&server, amiras_session).await.len(), 1);
}

#[tokio::test]
async fn a_wrong_password_with_a_good_device_token_is_still_wrong() {
    let server = TestServer::demo().await;
    let (_, token) = trust_this_device(&server, AMIRA, DEMO_PASSWORD, AMIRA_PHONE, None).await;
    let answer = server
        .post(
            "login/password",
            json!({"email": AMIRA, "password": "fel lösenord", "device_token": token}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.code(), ErrorCode::InvalidCredentials.as_str());
}

#[tokio::test]
async fn without_two_step_a_device_token_is_ignored() {
    let server = TestServer::demo().await;
    let (_, token) = trust_this_device(&server, AMIRA, DEMO_PASSWORD, AMIRA_PHONE, None).await;
    let answer = password_login(&server, "erik@example.se", DEMO_PASSWORD, Some(&token)).await;
    assert_eq!(answer.body["next"], "session");
    assert_eq!(answer.body["assurance"], "low");
}

#[tokio::test]
async fn a_device_removed_on_min_sida_is_refused() {
    let server = TestServer::demo().await;
    let (session, token) =
        trust_this_device(&server, AMIRA, DEMO_PASSWORD, AMIRA_PHONE, None).await;
    let id = devices(&server, &session).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let removed = server.delete_auth(&format!("devices/{id}"), &session).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    assert!(devices(&server, &session).await.is_empty());
    assert_refused(&server, AMIRA, DEMO_PASSWORD, &token).await;
    let again = server.delete_auth(&format!("devices/{id}"), &session).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    let unknown = server.delete_auth("devices/no-such-device", &session).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.code(), ErrorCode::NotFound.as_str());
    let anonymous = server.delete(&format!("devices/{id}")).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(server.get("devices").await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_forgotten_device_is_refused_and_forget_tells_nothing() {
    let server = TestServer::demo().await;
    let (_, token) = trust_this_device(&server, AMIRA, DEMO_PASSWORD, AMIRA_PHONE, None).await;
    for device_token in [token.as_str(), token.as_str(), "no-such-token"] {
        let answer = server
            .post("devices/forget", json!({"device_token": device_token}))
            .await;
        assert_eq!(answer.status, StatusCode::NO_CONTENT);
        assert_eq!(answer.body, Value::Null);
    }
    assert_refused(&server, AMIRA, DEMO_PASSWORD, &token).await;
    let malformed = server.post("devices/forget", json!({})).await;
    assert_eq!(malformed.code(), ErrorCode::BadRequest.as_str());
}

#[tokio::test]
async fn a_device_is_trusted_for_30_days_then_refused() {
    let server = TestServer::demo().await;
    let (_, token) = trust_this_device(&server, AMIRA, DEMO_PASSWORD, AMIRA_PHONE, None).await;
    server.advance(THIRTY_DAYS - 1);
    let answer = password_login(&server, AMIRA, DEMO_PASSWORD, Some(&token)).await;
    assert_eq!(
        answer.body["next"], "session",
        "trusted until the last second"
    );
    let session = answer.body["token"].as_str().unwrap().to_owned();
    server.advance(1);
    assert_refused(&server, AMIRA, DEMO_PASSWORD, &token).await;
    assert!(devices(&server, &session).await.is_empty());
}

#[tokio::test]
async fn a_phone_change_without_a_session_revokes_trusted_devices() {
    let server = TestServer::demo().await;
    let (_, token) = trust_this_device(&server, AMIRA, DEMO_PASSWORD, AMIRA_PHONE, None).await;
    let change = server
        .post(
            "phone-changes",
            json!({"email": AMIRA, "password": DEMO_PASSWORD, "phone": "0738889900"}),
        )
        .await;
    let id = change.body["id"].as_str().unwrap();
    let code = server.last_code(Channel::Email, AMIRA).await;
    server
        .post(
            &format!("phone-changes/{id}/email-code"),
            json!({"code": code}),
        )
        .await;
    let code = server.last_code(Channel::Sms, "+46738889900").await;
    let done = server
        .post(
            &format!("phone-changes/{id}/sms-code"),
            json!({"code": code}),
        )
        .await;
    assert_eq!(done.body["next"], "done", "{:?}", done.body);
    assert_refused(&server, AMIRA, DEMO_PASSWORD, &token).await;
}

#[tokio::test]
async fn the_device_token_is_stored_only_as_its_hash() {
    let dir = tempfile::tempdir().unwrap();
    let over = support::demo_overrides();
    let server = TestServer::with(legitimera_server::config::Overrides {
        database_url: Some(format!("sqlite://{}/db.sqlite", dir.path().display())),
        ..over
    })
    .await;
    let (_, token) = trust_this_device(&server, AMIRA, DEMO_PASSWORD, AMIRA_PHONE, None).await;

    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}/db.sqlite", dir.path().display()))
        .await
        .unwrap();
    let columns: Vec<String> =
        sqlx::query_scalar("SELECT name FROM pragma_table_info('trusted_devices')")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert!(
        columns
            .iter()
            .all(|c| !c.contains("token") || c == "token_hash"),
        "{columns:?}"
    );
    let stored: Vec<u8> = sqlx::query_scalar("SELECT token_hash FROM trusted_devices")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored, Sha256::digest(token.as_bytes()).to_vec());
    pool.close().await;

    // Nowhere in the database's files (main file, WAL, shared memory) in plain.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !bytes
                .windows(token.len())
                .any(|window| window == token.as_bytes()),
            "the token is in {}",
            path.display()
        );
    }
    server.running.stop().await.unwrap();
}

#[tokio::test]
async fn a_bankid_session_has_no_devices() {
    let server = TestServer::demo().await;
    let order = server
        .post("bankid/orders", json!({"mode": "other_device"}))
        .await;
    assert_eq!(order.status, StatusCode::CREATED, "{:?}", order.body);
    let id = order.body["id"].as_str().unwrap().to_owned();
    let mut body = server.get(&format!("bankid/orders/{id}")).await.body;
    let signed = server
        .post("/demo/bankid/sign", json!({"qr": body["qr"]}))
        .await;
    assert_eq!(signed.status, StatusCode::OK, "{:?}", signed.body);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while body["status"] != "complete" {
        assert!(std::time::Instant::now() < deadline, "{body:?}");
        let since = &body["version"];
        body = server
            .get(&format!("bankid/orders/{id}?wait=5&since={since}"))
            .await
            .body;
    }
    let session = body["token"].as_str().unwrap();
    let answer = server.get_auth("devices", session).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    assert_eq!(answer.body, json!({"devices": []}));
    let removed = server.delete_auth("devices/anything", session).await;
    assert_eq!(removed.status, StatusCode::NOT_FOUND);
}
