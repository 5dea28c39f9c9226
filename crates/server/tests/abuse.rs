//! Accounts under abuse, over real HTTP against the real server: attempt limits that parallel
//! requests cannot race, addresses counted per IPv6 /64, the e-mail code after 100 wrong
//! passwords in a row, and the SMS step's own counter.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use axum::http::StatusCode;
use legitimera_protocol::{Channel, ErrorCode, OutboxMessage};
use legitimera_server::config::Overrides;
use serde_json::{json, Value};
use support::{demo_overrides, Answer, TestServer, DEMO_PASSWORD};

/// Sends `body` to `path` `n` times at once (each its own task); the codes answered
/// (`""` for a success).
async fn at_once(server: &TestServer, path: &str, n: usize, body: Value) -> Vec<String> {
    let url = format!("{}/api/v1/{path}", server.running.url());
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let client = server.client.clone();
            let (url, body, barrier) = (url.clone(), body.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let answer: Value = client
                    .post(url)
                    .json(&body)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                answer["code"].as_str().unwrap_or("").to_owned()
            })
        })
        .collect();
    let mut codes = Vec::new();
    for task in tasks {
        codes.push(task.await.unwrap());
    }
    codes
}

fn count(codes: &[String], code: ErrorCode) -> usize {
    codes.iter().filter(|c| *c == code.as_str()).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forty_parallel_wrong_passwords_get_exactly_five_invalid_credentials() {
    let server = TestServer::demo().await;
    let codes = at_once(
        &server,
        "login/password",
        40,
        json!({"email": "erik@example.se", "password": "fel lösenord 1"}),
    )
    .await;
    assert_eq!(count(&codes, ErrorCode::InvalidCredentials), 5, "{codes:?}");
    assert_eq!(count(&codes, ErrorCode::RateLimited), 35, "{codes:?}");
    // The owner's right password waits for the window like everyone else's.
    let owner = server
        .post(
            "login/password",
            json!({"email": "erik@example.se", "password": DEMO_PASSWORD}),
        )
        .await;
    assert_eq!(owner.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forty_parallel_phone_changes_with_wrong_passwords_get_exactly_five() {
    let server = TestServer::demo().await;
    let codes = at_once(
        &server,
        "phone-changes",
        40,
        json!({"phone": "0731112233", "email": "amira@example.se", "password": "fel lösenord 1"}),
    )
    .await;
    assert_eq!(count(&codes, ErrorCode::InvalidCredentials), 5, "{codes:?}");
    assert_eq!(count(&codes, ErrorCode::RateLimited), 35, "{codes:?}");
    assert!(server.outbox().await.is_empty(), "nothing sent");
}

/// A demo server that takes the client's address from `X-Forwarded-For`.
async fn behind_proxy() -> TestServer {
    TestServer::with(Overrides {
        trusted_proxy_header: Some("X-Forwarded-For".into()),
        ..demo_overrides()
    })
    .await
}

async fn wrong_password_from(server: &TestServer, email: &str, ip: &str) -> Answer {
    server
        .send(
            server
                .client
                .post(format!("{}/api/v1/login/password", server.running.url()))
                .header("x-forwarded-for", ip)
                .json(&json!({"email": email, "password": "fel lösenord 1"})),
        )
        .await
}

#[tokio::test]
async fn ipv6_clients_are_counted_per_64() {
    let server = behind_proxy().await;
    // 30 failures per address in 15 minutes, each for another (unknown) account.
    for i in 1..=30 {
        let answer = wrong_password_from(
            &server,
            &format!("u{i}@example.se"),
            &format!("2001:db8:0:1::{i:x}"),
        )
        .await;
        assert_eq!(answer.code(), ErrorCode::InvalidCredentials.as_str(), "{i}");
    }
    let same_64 = wrong_password_from(
        &server,
        "u31@example.se",
        "2001:db8:0:1:ffff:ffff:ffff:ffff",
    )
    .await;
    assert_eq!(same_64.code(), ErrorCode::RateLimited.as_str());
    let next_64 = wrong_password_from(&server, "u32@example.se", "2001:db8:0:2::1").await;
    assert_eq!(next_64.code(), ErrorCode::InvalidCredentials.as_str());
    let v4 = wrong_password_from(&server, "u33@example.se", "192.0.2.1").await;
    assert_eq!(v4.code(), ErrorCode::InvalidCredentials.as_str());
}

fn warnings_to(outbox: &[OutboxMessage], to: &str) -> usize {
    outbox
        .iter()
        .filter(|m| m.to == to && m.subject.as_deref().is_some_and(|s| s.starts_with("Många")))
        .count()
}

#[tokio::test]
async fn a_hundred_wrong_passwords_in_a_row_need_an_email_code_with_the_right_one() {
    let server = TestServer::demo().await;
    let email = "erik@example.se";
    let wrong = json!({"email": email, "password": "fel lösenord 1"});
    for i in 0..105 {
        if i > 0 && i % 5 == 0 {
            server.advance(15 * 60);
        }
        let answer = server.post("login/password", wrong.clone()).await;
        assert_eq!(answer.code(), ErrorCode::InvalidCredentials.as_str(), "{i}");
        if i == 98 {
            assert_eq!(warnings_to(&server.outbox().await, email), 0);
        }
    }
    assert_eq!(
        warnings_to(&server.outbox().await, email),
        1,
        "one warning, however many failures follow"
    );
    server.advance(15 * 60);
    let right = json!({"email": email, "password": DEMO_PASSWORD});
    let answer = server.post("login/password", right.clone()).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.code(), ErrorCode::EmailCodeRequired.as_str());
    let id = answer.body["id"].as_str().unwrap().to_owned();
    let code = server.last_code(Channel::Email, email).await;
    let session = server
        .post(
            "login/email-code",
            json!({"challenge_id": id, "code": code}),
        )
        .await;
    assert_eq!(session.status, StatusCode::OK, "{:?}", session.body);
    assert_eq!(session.body["next"], "session");
    assert_eq!(session.body["assurance"], "low");
    // The owner proved the e-mail: the count starts over.
    let once = server.post("login/password", wrong).await;
    assert_eq!(once.code(), ErrorCode::InvalidCredentials.as_str());
    let (_, assurance) = server.log_in(email, DEMO_PASSWORD).await;
    assert_eq!(assurance, "low");
}

#[tokio::test]
async fn wrong_passwords_do_not_block_the_owners_right_sms_code() {
    let server = TestServer::demo().await;
    let email = "amira@example.se";
    let answer = server
        .post(
            "login/password",
            json!({"email": email, "password": DEMO_PASSWORD}),
        )
        .await;
    assert_eq!(answer.body["next"], "sms_code");
    let id = answer.body["id"].as_str().unwrap().to_owned();
    let code = server.last_code(Channel::Sms, "+46701234567").await;
    for _ in 0..6 {
        server
            .post(
                "login/password",
                json!({"email": email, "password": "fel lösenord 1"}),
            )
            .await;
    }
    let full = server
        .post(
            "login/password",
            json!({"email": email, "password": DEMO_PASSWORD}),
        )
        .await;
    assert_eq!(full.code(), ErrorCode::RateLimited.as_str());
    let session = server
        .post("login/sms", json!({"challenge_id": id, "code": code}))
        .await;
    assert_eq!(session.status, StatusCode::OK, "{:?}", session.body);
    assert_eq!(session.body["assurance"], "substantial");
}

fn sms_count(outbox: &[OutboxMessage]) -> usize {
    outbox.iter().filter(|m| m.channel == Channel::Sms).count()
}

#[tokio::test]
async fn a_hundred_phone_changes_send_at_most_the_quota() {
    let server = TestServer::demo().await;
    let (token, _) = server.log_in("erik@example.se", DEMO_PASSWORD).await;
    let mut refused = 0;
    for i in 0..100 {
        let answer = server
            .post_auth(
                "phone-changes",
                &token,
                json!({"phone": format!("0731{i:06}")}),
            )
            .await;
        if answer.status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(answer.code(), ErrorCode::RateLimited.as_str());
            let retry_after: u64 = answer.headers["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!(retry_after > 0 && retry_after <= 24 * 60 * 60);
            refused += 1;
        } else {
            assert_eq!(answer.status, StatusCode::CREATED, "{:?}", answer.body);
        }
    }
    assert_eq!(
        sms_count(&server.outbox().await),
        10,
        "10 a day per account"
    );
    assert_eq!(refused, 90);
}

#[tokio::test]
async fn every_right_password_of_a_two_step_account_sends_within_the_number_quota() {
    let server = TestServer::demo().await;
    let right = json!({"email": "amira@example.se", "password": DEMO_PASSWORD});
    for _ in 0..5 {
        let answer = server.post("login/password", right.clone()).await;
        assert_eq!(answer.body["next"], "sms_code", "{:?}", answer.body);
    }
    let sixth = server.post("login/password", right).await;
    assert_eq!(sixth.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(sixth.code(), ErrorCode::RateLimited.as_str());
    assert!(sixth.headers.contains_key("retry-after"));
    assert_eq!(sms_count(&server.outbox().await), 5, "5 a day per number");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_resends_send_one_code() {
    let server = TestServer::demo().await;
    let (token, _) = server.log_in("erik@example.se", DEMO_PASSWORD).await;
    let started = server
        .post_auth("phone-changes", &token, json!({"phone": "0731112233"}))
        .await;
    let id = started.body["id"].as_str().unwrap().to_owned();
    server.advance(31);
    let codes = at_once(
        &server,
        &format!("phone-changes/{id}/resend"),
        20,
        json!({}),
    )
    .await;
    assert_eq!(
        codes.iter().filter(|c| c.is_empty()).count(),
        1,
        "{codes:?}"
    );
    assert_eq!(count(&codes, ErrorCode::ResendTooSoon), 19, "{codes:?}");
    assert_eq!(sms_count(&server.outbox().await), 2);
}

#[tokio::test]
async fn sms_goes_only_to_allowed_countries_and_the_address_quota_is_configurable() {
    let server = TestServer::with(Overrides {
        sms_allowed_countries: Some(vec!["46".into()]),
        sms_per_address_per_day: Some(2),
        ..demo_overrides()
    })
    .await;
    let (token, _) = server.log_in("erik@example.se", DEMO_PASSWORD).await;
    let foreign = server
        .post_auth("phone-changes", &token, json!({"phone": "+4791234567"}))
        .await;
    assert_eq!(foreign.status, StatusCode::BAD_REQUEST);
    assert_eq!(foreign.code(), ErrorCode::PhoneCountryNotAllowed.as_str());
    for phone in ["0731112233", "0731112234"] {
        let answer = server
            .post_auth("phone-changes", &token, json!({"phone": phone}))
            .await;
        assert_eq!(answer.status, StatusCode::CREATED);
    }
    let third = server
        .post_auth("phone-changes", &token, json!({"phone": "0731112235"}))
        .await;
    assert_eq!(third.code(), ErrorCode::RateLimited.as_str());
    assert_eq!(sms_count(&server.outbox().await), 2);
}
