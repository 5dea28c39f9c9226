//! `POST /api/v1/siths/test-logins` against the real server: a good signature answers that a
//! login would succeed without making a session; a refused one answers exactly what the login
//! answers for the same request.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use legitimera_card::KeyRole;
use legitimera_vcard::CertificateTimes;
use reqwest::StatusCode;
use serde_json::json;
use support::siths::{challenge, login_body, p256_identity, server_trusting, sign};

#[tokio::test]
async fn a_good_signature_would_log_in_and_makes_no_session() {
    let identity = p256_identity(CertificateTimes::Valid);
    let (server, _ca) = server_trusting(&[&identity]).await;
    let (id, bytes) = challenge(&server).await;
    let signed = sign(&identity, KeyRole::Authentication, &bytes);
    let body = login_body(&id, &signed);
    let answer = server.post("siths/test-logins", body.clone()).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    assert_eq!(
        answer.body,
        json!({"would_log_in": true, "assurance": "high"})
    );
    // The challenge is spent as a login spends it: neither can use it again.
    let again = server.post("siths/sessions", body).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND, "{:?}", again.body);
    assert_eq!(again.code(), "siths_unknown_challenge");
}

#[tokio::test]
async fn a_refused_test_login_answers_what_the_login_answers() {
    let expired = p256_identity(CertificateTimes::Expired);
    let valid = p256_identity(CertificateTimes::Valid);
    let (server, _ca) = server_trusting(&[&expired, &valid]).await;
    // An expired certificate, and a signature made with the signing key instead.
    let cases: [(&std::sync::Arc<legitimera_vcard::Identity>, KeyRole); 2] = [
        (&expired, KeyRole::Authentication),
        (&valid, KeyRole::Signing),
    ];
    for (identity, role) in cases {
        let mut answers = Vec::new();
        for path in ["siths/test-logins", "siths/sessions"] {
            let (id, bytes) = challenge(&server).await;
            let signed = sign(identity, role, &bytes);
            answers.push(server.post(path, login_body(&id, &signed)).await);
        }
        let (test, login) = (&answers[0], &answers[1]);
        assert!(test.status.is_client_error(), "{:?}", test.body);
        assert_eq!((test.status, test.code()), (login.status, login.code()));
    }
}
