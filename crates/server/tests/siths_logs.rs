//! Runs every SITHS flow with all logging on (TRACE, every crate) and scans what was logged:
//! no HSA-id, name, organisation, challenge, signature or session token may appear.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use legitimera_card::KeyRole;
use legitimera_testkit::logs::LogCapture;
use legitimera_vcard::CertificateTimes;
use serde_json::json;
use support::siths::{challenge, login_body, p256_identity, rsa_identity, server_trusting, sign};

/// What one attempt must not leave in the logs: the challenge id, the challenge in every
/// likely spelling, and the signature.
fn remember(id: &str, bytes: &[u8], signature: &[u8], forbidden: &mut Vec<String>) {
    forbidden.push(id.to_owned());
    forbidden.push(STANDARD.encode(bytes));
    forbidden.push(URL_SAFE_NO_PAD.encode(bytes));
    forbidden.push(bytes.iter().map(|b| format!("{b:02x}")).collect());
    forbidden.push(
        format!("{:?}", &bytes[..8])
            .trim_end_matches(']')
            .to_owned(),
    );
    forbidden.push(STANDARD.encode(signature));
}

#[tokio::test]
async fn no_staff_identity_challenge_or_token_reaches_the_logs() {
    let capture = LogCapture::start();

    let rsa = rsa_identity();
    let p256 = p256_identity(CertificateTimes::Valid);
    let expired = p256_identity(CertificateTimes::Expired);
    let stranger = p256_identity(CertificateTimes::Valid);
    let (server, _ca) = server_trusting(&[&rsa, &p256, &expired]).await;
    let mut forbidden: Vec<String> = vec![
        "SE2321000016-1234".into(),
        "Anna".into(),
        "Testsson".into(),
        "Region Testland".into(),
    ];

    // Logins that work, then use the session: status, activity, landing, logout.
    for identity in [&rsa, &p256] {
        let (id, bytes) = challenge(&server).await;
        let signed = sign(identity, KeyRole::Authentication, &bytes);
        remember(&id, &bytes, &signed.signature, &mut forbidden);
        let session = server
            .post("siths/sessions", login_body(&id, &signed))
            .await;
        assert_eq!(session.status.as_u16(), 201, "{:?}", session.body);
        let token = session.body["token"].as_str().unwrap().to_owned();
        server.get_auth("session", &token).await;
        server
            .post_auth("session/activity", &token, json!({}))
            .await;
        server.get_auth("siths/landing", &token).await;
        server.get_auth("cases", &token).await;
        server.delete_auth("session", &token).await;
        server.get_auth("session", &token).await;
        forbidden.push(token);
    }
    // Every refusal: replay, bad signature, untrusted, expired, signing certificate, late.
    let (id, bytes) = challenge(&server).await;
    let signed = sign(&p256, KeyRole::Authentication, &bytes);
    remember(&id, &bytes, &signed.signature, &mut forbidden);
    server
        .post("siths/sessions", login_body(&id, &signed))
        .await;
    let replay = server
        .post("siths/sessions", login_body(&id, &signed))
        .await;
    assert_eq!(replay.code(), "siths_unknown_challenge");
    let cases = [
        (&p256, KeyRole::Authentication, false, "siths_bad_signature"),
        (
            &stranger,
            KeyRole::Authentication,
            true,
            "siths_untrusted_certificate",
        ),
        (
            &expired,
            KeyRole::Authentication,
            true,
            "siths_certificate_expired",
        ),
        (&p256, KeyRole::Signing, true, "siths_wrong_key_usage"),
    ];
    for (identity, role, right_challenge, code) in cases {
        let (id, bytes) = challenge(&server).await;
        let signed = if right_challenge {
            sign(identity, role, &bytes)
        } else {
            sign(identity, role, b"another challenge")
        };
        remember(&id, &bytes, &signed.signature, &mut forbidden);
        let answer = server
            .post("siths/sessions", login_body(&id, &signed))
            .await;
        assert_eq!(answer.code(), code, "{:?}", answer.body);
    }
    let (id, bytes) = challenge(&server).await;
    let signed = sign(&p256, KeyRole::Authentication, &bytes);
    remember(&id, &bytes, &signed.signature, &mut forbidden);
    server.advance(121);
    let late = server
        .post("siths/sessions", login_body(&id, &signed))
        .await;
    assert_eq!(late.code(), "siths_unknown_challenge");
    server.running.stop().await.unwrap();

    let logs = capture.text();
    assert!(
        logs.contains("/api/v1/siths/sessions") && logs.contains("SITHS login refused"),
        "the capture must hold the server's request and SITHS logs"
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
