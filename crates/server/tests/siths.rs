//! SITHS card login against the real server: challenges, the card's signature made by the
//! card crate over the virtual card, chain and key-usage checks, staff sessions and the staff
//! landing page.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use legitimera_card::KeyRole;
use legitimera_vcard::CertificateTimes;
use reqwest::StatusCode;
use serde_json::json;
use support::siths::{
    challenge, challenge_bytes, log_in, login_body, login_message, p256_identity, rsa_identity,
    server_trusting, sign,
};

#[tokio::test]
async fn rsa_card_logs_in_with_high_assurance_as_the_staff_member() {
    let identity = rsa_identity();
    let (server, _ca) = server_trusting(&[&identity]).await;
    let answer = log_in(&server, &identity).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{:?}", answer.body);
    assert_eq!(answer.body["assurance"], "high");
    assert_eq!(answer.body["idle_expires_in"], 1800);
    assert_eq!(answer.body["absolute_expires_in"], 43200);
    let token = answer.body["token"].as_str().unwrap();

    let status = server.get_auth("session", token).await;
    assert_eq!(status.status, StatusCode::OK, "{:?}", status.body);
    assert_eq!(status.body["assurance"], "high");
    assert_eq!(
        status.body["staff"],
        json!({"name": "Anna Testsson", "hsa_id": "SE2321000016-1234",
               "organisation": "Region Testland"})
    );
    assert!(status.body.get("email").is_none(), "{:?}", status.body);
}

#[tokio::test]
async fn p256_card_logs_in_and_sees_the_staff_landing_page() {
    let identity = p256_identity(CertificateTimes::Valid);
    let (server, _ca) = server_trusting(&[&identity]).await;
    let answer = log_in(&server, &identity).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{:?}", answer.body);
    assert_eq!(answer.body["assurance"], "high");
    let token = answer.body["token"].as_str().unwrap();

    let landing = server.get_auth("siths/landing", token).await;
    assert_eq!(landing.status, StatusCode::OK, "{:?}", landing.body);
    assert_eq!(landing.body["name"], "Anna Testsson");
    assert_eq!(landing.body["hsa_id"], "SE2321000016-1234");
    assert_eq!(landing.body["organisation"], "Region Testland");
    assert_eq!(landing.body["assurance"], "high");
    assert_eq!(landing.body["lang"], "sv");
    // The demo data: one case in progress, one waiting for the applicant, one decided.
    assert_eq!(
        landing.body["services"],
        json!([
            {"id": "cases_to_handle", "title": "Ärenden att handlägga", "count": 1},
            {"id": "waiting_for_applicant", "title": "Väntar på sökande", "count": 1},
            {"id": "decided", "title": "Beslutade ärenden", "count": 1},
        ])
    );
    let english = server.get_auth("siths/landing?lang=en", token).await;
    assert_eq!(english.body["services"][0]["title"], "Cases to handle");

    // A staff member has no applicant's cases, and an applicant no staff landing page.
    let cases = server.get_auth("cases", token).await;
    assert_eq!(cases.status, StatusCode::UNAUTHORIZED);
    let (applicant, _) = server
        .log_in("erik@example.se", support::DEMO_PASSWORD)
        .await;
    let refused = server.get_auth("siths/landing", &applicant).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.code(), "unauthorized");
    let status = server.get_auth("session", &applicant).await;
    assert_eq!(status.body["email"], "erik@example.se");
    assert!(status.body.get("staff").is_none(), "{:?}", status.body);
}

#[tokio::test]
async fn staff_session_keeps_the_idle_and_absolute_limits_and_logs_out() {
    let identity = p256_identity(CertificateTimes::Valid);
    let (server, _ca) = server_trusting(&[&identity]).await;
    let token = log_in(&server, &identity).await.body["token"]
        .as_str()
        .unwrap()
        .to_owned();
    server.advance(29 * 60);
    let touched = server
        .post_auth("session/activity", &token, json!({}))
        .await;
    assert_eq!(touched.status, StatusCode::OK, "{:?}", touched.body);
    assert_eq!(touched.body["idle_expires_in"], 1800);
    assert!(touched.body["staff"].is_object());
    server.advance(29 * 60);
    assert_eq!(
        server.get_auth("session", &token).await.status,
        StatusCode::OK
    );
    server.advance(60 + 1);
    let expired = server.get_auth("session", &token).await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    assert_eq!(expired.code(), "session_expired");
    assert_eq!(
        server.get_auth("siths/landing", &token).await.code(),
        "session_expired"
    );

    let token = log_in(&server, &identity).await.body["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = server.delete_auth("session", &token).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    let after = server.get_auth("session", &token).await;
    assert_eq!(after.code(), "unauthorized");
}

#[tokio::test]
async fn a_challenge_is_used_once_whatever_the_outcome() {
    let identity = p256_identity(CertificateTimes::Valid);
    let (server, _ca) = server_trusting(&[&identity]).await;
    let (id, bytes) = challenge(&server).await;
    let signed = sign(&identity, KeyRole::Authentication, &bytes);
    let first = server
        .post("siths/sessions", login_body(&id, &signed))
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
    let replay = server
        .post("siths/sessions", login_body(&id, &signed))
        .await;
    assert_eq!(replay.status, StatusCode::NOT_FOUND);
    assert_eq!(replay.code(), "siths_unknown_challenge");

    // A refused attempt spends it too: no second try with a fixed signature.
    let (id, bytes) = challenge(&server).await;
    let mut wrong = sign(&identity, KeyRole::Authentication, b"something else");
    let refused = server.post("siths/sessions", login_body(&id, &wrong)).await;
    assert_eq!(refused.code(), "siths_bad_signature");
    wrong = sign(&identity, KeyRole::Authentication, &bytes);
    let again = server.post("siths/sessions", login_body(&id, &wrong)).await;
    assert_eq!(again.code(), "siths_unknown_challenge");

    let unknown = server
        .post("siths/sessions", login_body("no-such-challenge", &wrong))
        .await;
    assert_eq!(unknown.code(), "siths_unknown_challenge");
}

#[tokio::test]
async fn a_challenge_expires_after_two_minutes() {
    let identity = p256_identity(CertificateTimes::Valid);
    let (server, _ca) = server_trusting(&[&identity]).await;
    let (id, bytes) = challenge(&server).await;
    let signed = sign(&identity, KeyRole::Authentication, &bytes);
    server.advance(3 * 60);
    let late = server
        .post("siths/sessions", login_body(&id, &signed))
        .await;
    assert_eq!(late.status, StatusCode::GONE, "{:?}", late.body);
    assert_eq!(late.code(), "siths_unknown_challenge");

    let (id, bytes) = challenge(&server).await;
    let signed = sign(&identity, KeyRole::Authentication, &bytes);
    server.advance(119);
    let in_time = server
        .post("siths/sessions", login_body(&id, &signed))
        .await;
    assert_eq!(in_time.status, StatusCode::CREATED, "{:?}", in_time.body);
}

#[tokio::test]
async fn a_signature_over_another_challenge_is_refused() {
    for identity in [rsa_identity(), p256_identity(CertificateTimes::Valid)] {
        let (server, _ca) = server_trusting(&[&identity]).await;
        let (id, _) = challenge(&server).await;
        let (_, other) = challenge(&server).await;
        let signed = sign(&identity, KeyRole::Authentication, &other);
        let answer = server
            .post("siths/sessions", login_body(&id, &signed))
            .await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        assert_eq!(answer.code(), "siths_bad_signature", "{:?}", answer.body);
    }
}

#[tokio::test]
async fn only_a_signature_over_the_login_message_for_this_server_logs_in() {
    // What a backend that is not ours could have the card sign: the bare challenge (the old
    // protocol), 64 bytes of its choosing that start with the challenge, or the message for
    // another origin (a signature it relays from the app that trusted it).
    let identity = p256_identity(CertificateTimes::Valid);
    let (server, _ca) = server_trusting(&[&identity]).await;
    let mut long = Vec::new();
    let other_origin = |bytes: &[u8]| {
        legitimera_protocol::siths_login_message("http://127.0.0.1:1", bytes.try_into().unwrap())
    };
    for signed_what in ["bare", "64 bytes", "another origin"] {
        let (id, bytes) = challenge_bytes(&server).await;
        let data = match signed_what {
            "bare" => bytes.clone(),
            "64 bytes" => {
                long.clone_from(&bytes);
                long.extend_from_slice(&bytes);
                long.clone()
            }
            _ => other_origin(&bytes),
        };
        let signed = sign(&identity, KeyRole::Authentication, &data);
        let answer = server
            .post("siths/sessions", login_body(&id, &signed))
            .await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{signed_what}");
        assert_eq!(
            answer.code(),
            "siths_bad_signature",
            "{signed_what}: {:?}",
            answer.body
        );
    }
    let (id, bytes) = challenge_bytes(&server).await;
    let signed = sign(
        &identity,
        KeyRole::Authentication,
        &login_message(&server, &bytes),
    );
    let answer = server
        .post("siths/sessions", login_body(&id, &signed))
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{:?}", answer.body);
}

#[tokio::test]
async fn an_algorithm_that_does_not_match_the_key_is_a_bad_signature() {
    let identity = p256_identity(CertificateTimes::Valid);
    let (server, _ca) = server_trusting(&[&identity]).await;
    let (id, bytes) = challenge(&server).await;
    let signed = sign(&identity, KeyRole::Authentication, &bytes);
    let mut body = login_body(&id, &signed);
    body["algorithm"] = json!("rsa_pkcs1_sha256");
    let answer = server.post("siths/sessions", body).await;
    assert_eq!(answer.code(), "siths_bad_signature", "{:?}", answer.body);
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_untrusted() {
    let trusted = p256_identity(CertificateTimes::Valid);
    let stranger = p256_identity(CertificateTimes::Valid);
    let (server, _ca) = server_trusting(&[&trusted]).await;
    let answer = log_in(&server, &stranger).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        answer.code(),
        "siths_untrusted_certificate",
        "{:?}",
        answer.body
    );

    // Sending the stranger's CA along as an "intermediate" does not make it trusted.
    let (id, bytes) = challenge(&server).await;
    let signed = sign(&stranger, KeyRole::Authentication, &bytes);
    let mut body = login_body(&id, &signed);
    body["certificates"]
        .as_array_mut()
        .unwrap()
        .push(json!(STANDARD.encode(stranger.ca.der())));
    let answer = server.post("siths/sessions", body).await;
    assert_eq!(
        answer.code(),
        "siths_untrusted_certificate",
        "{:?}",
        answer.body
    );
}

#[tokio::test]
async fn expired_and_not_yet_valid_certificates_are_refused() {
    let expired = p256_identity(CertificateTimes::Expired);
    let early = p256_identity(CertificateTimes::NotYetValid);
    let (server, _ca) = server_trusting(&[&expired, &early]).await;
    let answer = log_in(&server, &expired).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        answer.code(),
        "siths_certificate_expired",
        "{:?}",
        answer.body
    );
    let answer = log_in(&server, &early).await;
    assert_eq!(
        answer.code(),
        "siths_certificate_not_yet_valid",
        "{:?}",
        answer.body
    );

    // Validity is judged by the server's clock: two days on, the early card is good.
    server.advance(2 * 24 * 60 * 60);
    let answer = log_in(&server, &early).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{:?}", answer.body);
}

#[tokio::test]
async fn the_signing_certificate_is_not_for_logging_in() {
    let identity = p256_identity(CertificateTimes::Valid);
    let (server, _ca) = server_trusting(&[&identity]).await;
    let (id, bytes) = challenge(&server).await;
    let signed = sign(&identity, KeyRole::Signing, &bytes);
    assert_eq!(signed.certificate, identity.certificates.signing);
    let answer = server
        .post("siths/sessions", login_body(&id, &signed))
        .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.code(), "siths_wrong_key_usage", "{:?}", answer.body);
}

#[tokio::test]
async fn without_trust_anchors_siths_is_unavailable() {
    let identity = p256_identity(CertificateTimes::Valid);
    let (server, _ca) = server_trusting(&[]).await;
    let answer = server.post("siths/challenges", json!({})).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.code(), "siths_unavailable");
    let signed = sign(&identity, KeyRole::Authentication, &[0; 32]);
    let answer = server
        .post("siths/sessions", login_body("anything", &signed))
        .await;
    assert_eq!(answer.code(), "siths_unavailable");
}

#[tokio::test]
async fn malformed_requests_are_bad_requests() {
    let identity = p256_identity(CertificateTimes::Valid);
    let (server, _ca) = server_trusting(&[&identity]).await;
    let (id, bytes) = challenge(&server).await;
    let signed = sign(&identity, KeyRole::Authentication, &bytes);
    let mut body = login_body(&id, &signed);
    body["algorithm"] = json!("md5_with_hope");
    assert_eq!(
        server.post("siths/sessions", body).await.code(),
        "bad_request"
    );
    let (id, _) = challenge(&server).await;
    let mut body = login_body(&id, &signed);
    body["signature"] = json!("not base64!");
    assert_eq!(
        server.post("siths/sessions", body).await.code(),
        "bad_request"
    );
    let (id, _) = challenge(&server).await;
    let mut body = login_body(&id, &signed);
    body["certificates"] = json!([]);
    assert_eq!(
        server.post("siths/sessions", body).await.code(),
        "siths_untrusted_certificate"
    );
}

#[tokio::test]
async fn challenges_per_client_address_are_limited() {
    let identity = p256_identity(CertificateTimes::Valid);
    let (server, _ca) = server_trusting(&[&identity]).await;
    for _ in 0..legitimera_server::SITHS_CHALLENGES_PER_IP {
        let answer = server.post("siths/challenges", json!({})).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{:?}", answer.body);
    }
    let limited = server.post("siths/challenges", json!({})).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.code(), "rate_limited");
    server.advance(15 * 60);
    challenge(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_logins_with_one_challenge_give_one_session() {
    let identity = p256_identity(CertificateTimes::Valid);
    let (server, _ca) = server_trusting(&[&identity]).await;
    let (id, bytes) = challenge(&server).await;
    let body = login_body(&id, &sign(&identity, KeyRole::Authentication, &bytes));
    let url = format!("{}/api/v1/siths/sessions", server.running.url());
    let attempts: Vec<_> = (0..8)
        .map(|_| {
            let (client, url, body) = (server.client.clone(), url.clone(), body.clone());
            tokio::spawn(async move {
                let response = client.post(url).json(&body).send().await.unwrap();
                let status = response.status();
                let body: serde_json::Value = response.json().await.unwrap();
                (status, body)
            })
        })
        .collect();
    let mut created = 0;
    for attempt in attempts {
        let (status, body) = attempt.await.unwrap();
        if status == StatusCode::CREATED {
            created += 1;
        } else {
            assert_eq!(body["code"], "siths_unknown_challenge", "{body:?}");
        }
    }
    assert_eq!(created, 1, "one challenge, one session");
}
