//! Accounts over real HTTP against the real server (demo outbox for codes, a ManualClock for
//! time): registration with and without two-step, code rules, no enumeration, rate limits,
//! phone change both ways, logout, session limits, and what cases show at each assurance.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use axum::http::StatusCode;
use legitimera_protocol::{Channel, ErrorCode};
use serde_json::json;
use support::{code_in, TestServer, DEMO_PASSWORD, GOOD_PASSWORD};

async fn start_registration(server: &TestServer, email: &str) -> String {
    let answer = server
        .post(
            "registrations",
            json!({"email": email, "password": GOOD_PASSWORD}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{:?}", answer.body);
    answer.body["id"].as_str().unwrap().to_owned()
}

fn wrong(code: &str) -> String {
    let first = if code.starts_with('0') { '1' } else { '0' };
    format!("{first}{}", &code[1..])
}

#[tokio::test]
async fn create_with_two_step_then_log_in_with_password_and_sms() {
    let server = TestServer::demo().await;
    server
        .register("ny.person@example.se", Some("0709876543"))
        .await;
    let (token, assurance) = server.log_in("Ny.Person@Example.se", GOOD_PASSWORD).await;
    assert_eq!(assurance, "substantial");
    let session = server.get_auth("session", &token).await;
    assert_eq!(session.status, StatusCode::OK);
    assert_eq!(session.body["two_step"], true);
    assert_eq!(session.body["email"], "ny.person@example.se");
    assert_eq!(session.body["phone"], "+46•••••••43");
}

#[tokio::test]
async fn create_without_two_step_logs_in_with_password_only() {
    let server = TestServer::demo().await;
    server.register("enkel@example.se", None).await;
    let (_, assurance) = server.log_in("enkel@example.se", GOOD_PASSWORD).await;
    assert_eq!(assurance, "low");
}

#[tokio::test]
async fn weak_common_and_malformed_input_get_their_codes() {
    let server = TestServer::demo().await;
    for (body, code) in [
        (
            json!({"email": "a@example.se", "password": "kort"}),
            ErrorCode::WeakPassword.as_str(),
        ),
        (
            json!({"email": "a@example.se", "password": "Lösenord123"}),
            ErrorCode::CommonPassword.as_str(),
        ),
        (
            json!({"email": "not-an-address", "password": GOOD_PASSWORD}),
            ErrorCode::InvalidEmail.as_str(),
        ),
        (
            json!({"email": "a@example.se", "password": GOOD_PASSWORD, "phone": "12"}),
            ErrorCode::InvalidPhone.as_str(),
        ),
        (
            json!({"email": "a@example.se"}),
            ErrorCode::BadRequest.as_str(),
        ),
    ] {
        let answer = server.post("registrations", body).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        assert_eq!(answer.code(), code);
    }
}

#[tokio::test]
async fn an_expired_code_is_refused_and_a_new_one_works() {
    let server = TestServer::demo().await;
    let id = start_registration(&server, "sen@example.se").await;
    let code = server.last_code(Channel::Email, "sen@example.se").await;
    server.advance(10 * 60 + 1);
    let late = server
        .post(
            &format!("registrations/{id}/email-code"),
            json!({"code": code}),
        )
        .await;
    assert_eq!(late.status, StatusCode::GONE);
    assert_eq!(late.code(), ErrorCode::CodeExpired.as_str());
    let resent = server
        .post(&format!("registrations/{id}/resend"), json!({}))
        .await;
    assert_eq!(resent.status, StatusCode::OK, "{:?}", resent.body);
    let code = server.last_code(Channel::Email, "sen@example.se").await;
    let done = server
        .post(
            &format!("registrations/{id}/email-code"),
            json!({"code": code}),
        )
        .await;
    assert_eq!(done.body["next"], "done");
}

#[tokio::test]
async fn the_sixth_code_is_refused_even_when_right() {
    let server = TestServer::demo().await;
    let id = start_registration(&server, "gissare@example.se").await;
    let code = server.last_code(Channel::Email, "gissare@example.se").await;
    for tries_left in (0..5).rev() {
        let answer = server
            .post(
                &format!("registrations/{id}/email-code"),
                json!({"code": wrong(&code)}),
            )
            .await;
        assert_eq!(answer.code(), ErrorCode::WrongCode.as_str());
        assert_eq!(answer.body["tries_left"], tries_left);
    }
    let sixth = server
        .post(
            &format!("registrations/{id}/email-code"),
            json!({"code": code}),
        )
        .await;
    assert_eq!(sixth.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(sixth.code(), ErrorCode::TooManyAttempts.as_str());
}

#[tokio::test]
async fn a_resend_waits_for_the_cooldown_and_keeps_the_count() {
    let server = TestServer::demo().await;
    let id = start_registration(&server, "igen@example.se").await;
    let code = server.last_code(Channel::Email, "igen@example.se").await;
    for _ in 0..2 {
        server
            .post(
                &format!("registrations/{id}/email-code"),
                json!({"code": wrong(&code)}),
            )
            .await;
    }
    let too_soon = server
        .post(&format!("registrations/{id}/resend"), json!({}))
        .await;
    assert_eq!(too_soon.code(), ErrorCode::ResendTooSoon.as_str());
    assert_eq!(too_soon.body["retry_after"], 30);
    assert_eq!(too_soon.headers["retry-after"], "30");
    server.advance(30);
    let resent = server
        .post(&format!("registrations/{id}/resend"), json!({}))
        .await;
    assert_eq!(resent.status, StatusCode::OK, "{:?}", resent.body);
    let new_code = server.last_code(Channel::Email, "igen@example.se").await;
    let answer = server
        .post(
            &format!("registrations/{id}/email-code"),
            json!({"code": wrong(&new_code)}),
        )
        .await;
    assert_eq!(
        answer.body["tries_left"], 2,
        "the resend kept the 2 earlier failures"
    );
    // The old code no longer works once replaced.
    if code != new_code {
        let old = server
            .post(
                &format!("registrations/{id}/email-code"),
                json!({"code": code}),
            )
            .await;
        assert_eq!(old.code(), ErrorCode::WrongCode.as_str());
    }
}

#[tokio::test]
async fn a_known_and_an_unknown_address_get_identical_answers() {
    let server = TestServer::demo().await;
    let known = server
        .post(
            "registrations",
            json!({"email": "erik@example.se", "password": GOOD_PASSWORD}),
        )
        .await;
    let unknown = server
        .post(
            "registrations",
            json!({"email": "ingen@example.se", "password": GOOD_PASSWORD}),
        )
        .await;
    assert_eq!(known.status, unknown.status);
    let mut known_body = known.body.clone();
    let mut unknown_body = unknown.body.clone();
    assert_eq!(
        known_body["id"].as_str().unwrap().len(),
        unknown_body["id"].as_str().unwrap().len()
    );
    known_body["id"] = json!("");
    unknown_body["id"] = json!("");
    assert_eq!(known_body, unknown_body);
    // Wrong codes are answered alike, too.
    for (answer, email) in [(&known, "erik@example.se"), (&unknown, "ingen@example.se")] {
        let id = answer.body["id"].as_str().unwrap();
        let reply = server
            .post(
                &format!("registrations/{id}/email-code"),
                json!({"code": "000000"}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{email}");
        assert_eq!(reply.body["tries_left"], 4, "{email}");
    }
    let outbox = server.outbox().await;
    let to_known = outbox.iter().find(|m| m.to == "erik@example.se").unwrap();
    assert!(to_known
        .subject
        .as_deref()
        .unwrap()
        .contains("already have an account"));
    assert_eq!(code_in(&to_known.body), None, "the owner gets no code");
    let to_unknown = outbox.iter().find(|m| m.to == "ingen@example.se").unwrap();
    assert!(code_in(&to_unknown.body).is_some());
}

#[tokio::test]
async fn wrong_passwords_are_rate_limited_then_the_limit_expires() {
    let server = TestServer::demo().await;
    let unknown = server
        .post(
            "login/password",
            json!({"email": "ingen@example.se", "password": "fel lösenord"}),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.code(), ErrorCode::InvalidCredentials.as_str());
    for _ in 0..5 {
        let answer = server
            .post(
                "login/password",
                json!({"email": "erik@example.se", "password": "fel lösenord"}),
            )
            .await;
        assert_eq!(
            answer.body, unknown.body,
            "wrong password answers like unknown address"
        );
    }
    let limited = server
        .post(
            "login/password",
            json!({"email": "erik@example.se", "password": DEMO_PASSWORD}),
        )
        .await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.code(), ErrorCode::RateLimited.as_str());
    let retry_after: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after > 0 && retry_after <= 15 * 60, "{retry_after}");
    server.advance(retry_after);
    let (_, assurance) = server.log_in("erik@example.se", DEMO_PASSWORD).await;
    assert_eq!(assurance, "low", "the owner is never locked out for good");
}

#[tokio::test]
async fn phone_change_while_logged_in() {
    let server = TestServer::demo().await;
    let (token, _) = server.log_in("amira@example.se", DEMO_PASSWORD).await;
    let started = server
        .post_auth("phone-changes", &token, json!({"phone": "073-111 22 33"}))
        .await;
    assert_eq!(started.status, StatusCode::CREATED, "{:?}", started.body);
    assert_eq!(started.body["next"], "sms_code");
    let id = started.body["id"].as_str().unwrap();
    let code = server.last_code(Channel::Sms, "+46731112233").await;
    let done = server
        .post(
            &format!("phone-changes/{id}/sms-code"),
            json!({"code": code}),
        )
        .await;
    assert_eq!(done.body["next"], "done", "{:?}", done.body);
    let outbox = server.outbox().await;
    let notice = outbox.last().unwrap();
    assert_eq!(notice.to, "+46701234567");
    assert!(notice.body.contains("replaced"));
    // The next login's code goes to the new number.
    server
        .post(
            "login/password",
            json!({"email": "amira@example.se", "password": DEMO_PASSWORD}),
        )
        .await;
    assert_eq!(server.outbox().await.last().unwrap().to, "+46731112233");
}

#[tokio::test]
async fn phone_change_without_session_proves_email_and_password() {
    let server = TestServer::demo().await;
    let (old_token, _) = server.log_in("amira@example.se", DEMO_PASSWORD).await;
    let wrong_password = server
        .post(
            "phone-changes",
            json!({"email": "amira@example.se", "password": "inte mitt lösen", "phone": "0731112233"}),
        )
        .await;
    assert_eq!(
        wrong_password.code(),
        ErrorCode::InvalidCredentials.as_str()
    );
    let started = server
        .post(
            "phone-changes",
            json!({"email": "amira@example.se", "password": DEMO_PASSWORD, "phone": "0731112233"}),
        )
        .await;
    assert_eq!(started.status, StatusCode::CREATED, "{:?}", started.body);
    assert_eq!(started.body["next"], "email_code");
    let id = started.body["id"].as_str().unwrap();
    let early_sms = server
        .post(
            &format!("phone-changes/{id}/sms-code"),
            json!({"code": "123456"}),
        )
        .await;
    assert_eq!(early_sms.code(), ErrorCode::WrongStep.as_str());
    let email_code = server.last_code(Channel::Email, "amira@example.se").await;
    let next = server
        .post(
            &format!("phone-changes/{id}/email-code"),
            json!({"code": email_code}),
        )
        .await;
    assert_eq!(next.body["next"], "sms_code", "{:?}", next.body);
    let sms_code = server.last_code(Channel::Sms, "+46731112233").await;
    let done = server
        .post(
            &format!("phone-changes/{id}/sms-code"),
            json!({"code": sms_code}),
        )
        .await;
    assert_eq!(done.body["next"], "done");
    let outbox = server.outbox().await;
    assert_eq!(
        outbox.last().unwrap().to,
        "+46701234567",
        "the old number is told"
    );
    let old = server.get_auth("session", &old_token).await;
    assert_eq!(
        old.code(),
        ErrorCode::Unauthorized.as_str(),
        "sessions from before are ended"
    );
}

#[tokio::test]
async fn logout_ends_the_token_on_the_server() {
    let server = TestServer::demo().await;
    let (token, _) = server.log_in("erik@example.se", DEMO_PASSWORD).await;
    let out = server.delete_auth("session", &token).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    for answer in [
        server.get_auth("session", &token).await,
        server.get_auth("cases", &token).await,
        server
            .post_auth("session/activity", &token, json!({}))
            .await,
    ] {
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        assert_eq!(answer.code(), ErrorCode::Unauthorized.as_str());
    }
}

#[tokio::test]
async fn thirty_idle_minutes_end_the_session() {
    let server = TestServer::demo().await;
    let (token, _) = server.log_in("erik@example.se", DEMO_PASSWORD).await;
    server.advance(29 * 60);
    let status = server.get_auth("session", &token).await;
    assert_eq!(status.body["idle_expires_in"], 60, "GET is not activity");
    let touched = server
        .post_auth("session/activity", &token, json!({}))
        .await;
    assert_eq!(touched.body["idle_expires_in"], 1800);
    server.advance(29 * 60);
    assert_eq!(
        server.get_auth("cases", &token).await.status,
        StatusCode::OK
    );
    server.advance(60);
    let expired = server.get_auth("cases", &token).await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    assert_eq!(expired.code(), ErrorCode::SessionExpired.as_str());
    let revived = server
        .post_auth("session/activity", &token, json!({}))
        .await;
    assert_eq!(
        revived.code(),
        ErrorCode::SessionExpired.as_str(),
        "activity cannot revive it"
    );
}

#[tokio::test]
async fn twelve_hours_end_the_session_whatever_the_activity() {
    let server = TestServer::demo().await;
    let (token, _) = server.log_in("erik@example.se", DEMO_PASSWORD).await;
    for _ in 0..24 {
        server.advance(29 * 60);
        let touched = server
            .post_auth("session/activity", &token, json!({}))
            .await;
        assert_eq!(touched.status, StatusCode::OK, "{:?}", touched.body);
    }
    // 24 × 29 min = 11 h 36 min; the absolute limit caps the idle deadline.
    let status = server.get_auth("session", &token).await;
    assert_eq!(status.body["absolute_expires_in"], 24 * 60);
    assert_eq!(status.body["idle_expires_in"], 24 * 60);
    server.advance(24 * 60);
    let expired = server.get_auth("session", &token).await;
    assert_eq!(expired.code(), ErrorCode::SessionExpired.as_str());
}

#[tokio::test]
async fn shorter_configured_timeouts_apply() {
    let server = TestServer::with(legitimera_server::config::Overrides {
        idle_timeout: Some(60),
        absolute_timeout: Some(600),
        ..support::demo_overrides()
    })
    .await;
    let (token, _) = server.log_in("erik@example.se", DEMO_PASSWORD).await;
    let status = server.get_auth("session", &token).await;
    assert_eq!(status.body["idle_timeout"], 60);
    assert_eq!(status.body["absolute_timeout"], 600);
    server.advance(60);
    assert_eq!(
        server.get_auth("session", &token).await.code(),
        ErrorCode::SessionExpired.as_str()
    );
}

#[tokio::test]
async fn case_details_depend_on_assurance() {
    let server = TestServer::demo().await;
    let (low, _) = server.log_in("erik@example.se", DEMO_PASSWORD).await;
    let cases = server.get_auth("cases", &low).await;
    assert_eq!(cases.status, StatusCode::OK);
    assert_eq!(cases.body["assurance"], "low");
    assert_eq!(cases.body["details_hidden"], true);
    assert_eq!(
        cases.body["stronger_login_shows"],
        json!(["decisions", "document_requests", "officer_messages"])
    );
    let case = &cases.body["cases"][0];
    assert_eq!(case["reference"], "2026-200731");
    assert_eq!(case["status"], "in_progress");
    assert!(case.get("events").is_none());

    let (substantial, assurance) = server.log_in("amira@example.se", DEMO_PASSWORD).await;
    assert_eq!(assurance, "substantial");
    let sv = server.get_auth("cases", &substantial).await;
    assert_eq!(sv.body["details_hidden"], false);
    assert_eq!(sv.body["lang"], "sv");
    assert_eq!(sv.body["cases"].as_array().unwrap().len(), 2);
    let first = &sv.body["cases"][0];
    assert_eq!(first["reference"], "2026-104512");
    assert_eq!(first["events"][0]["kind"], "document_request");
    assert!(first["events"][0]["text"]
        .as_str()
        .unwrap()
        .starts_with("Skicka in"));
    let en = server.get_auth("cases?lang=en", &substantial).await;
    assert!(en.body["cases"][0]["events"][0]["text"]
        .as_str()
        .unwrap()
        .starts_with("Send a copy"));
    let by_header = server
        .send(
            server
                .client
                .get(format!("{}/api/v1/cases", server.running.url()))
                .bearer_auth(&substantial)
                .header("accept-language", "en-GB,en;q=0.9,sv;q=0.5"),
        )
        .await;
    assert_eq!(by_header.body["lang"], "en");
}

#[tokio::test]
async fn login_sms_code_rules_apply_and_failures_count_towards_the_limit() {
    let server = TestServer::demo().await;
    let answer = server
        .post(
            "login/password",
            json!({"email": "amira@example.se", "password": DEMO_PASSWORD}),
        )
        .await;
    assert_eq!(answer.body["next"], "sms_code");
    let id = answer.body["id"].as_str().unwrap();
    let code = server.last_code(Channel::Sms, "+46701234567").await;
    let bad = server
        .post(
            "login/sms",
            json!({"challenge_id": id, "code": wrong(&code)}),
        )
        .await;
    assert_eq!(bad.body["tries_left"], 4);
    let resend = server
        .post("login/resend", json!({"challenge_id": id}))
        .await;
    assert_eq!(resend.code(), ErrorCode::ResendTooSoon.as_str());
    let ok = server
        .post("login/sms", json!({"challenge_id": id, "code": code}))
        .await;
    assert_eq!(ok.body["assurance"], "substantial");
    let reused = server
        .post("login/sms", json!({"challenge_id": id, "code": code}))
        .await;
    assert_eq!(
        reused.code(),
        ErrorCode::UnknownChallenge.as_str(),
        "a code works once"
    );
}

#[tokio::test]
async fn demo_outbox_and_json_errors() {
    let server = TestServer::demo().await;
    let missing = server.post("no-such-route", json!({})).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.code(), ErrorCode::NotFound.as_str());
    let no_token = server
        .send(
            server
                .client
                .get(format!("{}/api/v1/session", server.running.url())),
        )
        .await;
    assert_eq!(no_token.code(), ErrorCode::Unauthorized.as_str());
    assert!(server.outbox().await.is_empty());
}
