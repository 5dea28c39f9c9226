//! Passwords over real HTTP: NFKC before hashing and before the common-password list (the
//! same password typed on macOS and Windows is the same), and a hash with older parameters
//! replaced at the next right password.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use argon2::password_hash::{PasswordHasher as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use axum::http::StatusCode;
use legitimera_protocol::{Channel, ErrorCode};
use legitimera_server::config::Overrides;
use serde_json::json;
use support::{demo_overrides, fresh_postgres_database, TestServer, DEMO_PASSWORD};

/// "lösenordsfras åäö" composed (as Windows types it) and decomposed (as macOS may).
const NFC: &str = "lösenordsfras åäö";
const NFD: &str = "lo\u{308}senordsfras a\u{30a}a\u{308}o\u{308}";

#[tokio::test]
async fn a_password_registered_composed_logs_in_decomposed() {
    assert_ne!(NFC, NFD);
    let server = TestServer::demo().await;
    let email = "nfd@example.se";
    let started = server
        .post("registrations", json!({"email": email, "password": NFC}))
        .await;
    assert_eq!(started.status, StatusCode::CREATED);
    let id = started.body["id"].as_str().unwrap();
    let code = server.last_code(Channel::Email, email).await;
    let done = server
        .post(
            &format!("registrations/{id}/email-code"),
            json!({"code": code}),
        )
        .await;
    assert_eq!(done.body["next"], "done");
    let (_, assurance) = server.log_in(email, NFD).await;
    assert_eq!(assurance, "low");
}

#[tokio::test]
async fn the_common_password_list_sees_through_decomposed_and_full_width_letters() {
    let server = TestServer::demo().await;
    for password in ["Lo\u{308}senord123", "ｐａｓｓｗｏｒｄ１"] {
        let answer = server
            .post(
                "registrations",
                json!({"email": "ny@example.se", "password": password}),
            )
            .await;
        assert_eq!(
            answer.code(),
            ErrorCode::CommonPassword.as_str(),
            "{password}"
        );
    }
}

#[tokio::test]
async fn a_hash_with_older_parameters_is_replaced_at_the_next_login() {
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
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    let old = Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(4096, 1, 1, None).unwrap(),
    )
    .hash_password(
        DEMO_PASSWORD.as_bytes(),
        &SaltString::generate(&mut argon2::password_hash::rand_core::OsRng),
    )
    .unwrap()
    .to_string();
    sqlx::query("UPDATE accounts SET password_hash = $1 WHERE email = $2")
        .bind(&old)
        .bind("erik@example.se")
        .execute(&pool)
        .await
        .unwrap();
    let (_, assurance) = server.log_in("erik@example.se", DEMO_PASSWORD).await;
    assert_eq!(assurance, "low");
    let now: String = sqlx::query_scalar("SELECT password_hash FROM accounts WHERE email = $1")
        .bind("erik@example.se")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(now.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{now}");
    assert_ne!(now, old);
    server.log_in("erik@example.se", DEMO_PASSWORD).await;
}
