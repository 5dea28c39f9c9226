//! SITHS test helpers: virtual-card identities (keys and certificates under a fresh test CA),
//! signing through the card crate's real code path (`CardSession` over the in-process
//! `Loopback` card, so the signature has exactly the card's format), and a server that trusts
//! given test CAs.

use std::io::Write as _;
use std::sync::{Arc, OnceLock};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use legitimera_card::{CardSession, KeyRole, Pin, SignedChallenge};
use legitimera_vcard::{CardKeys, CertificateTimes, Config, Identity, Loopback};
use reqwest::StatusCode;
use serde_json::{json, Value};

use legitimera_server::config::{Overrides, RevocationMode};

use super::{demo_overrides, TestServer};

pub const PIN: &str = "123456";

/// A P-256 card (fast to make).
pub fn p256_identity(times: CertificateTimes) -> Arc<Identity> {
    Arc::new(Identity::generate(CardKeys::generate_p256(), times).unwrap())
}

/// One RSA-2048 card for the whole test binary: prime generation is the slow part.
pub fn rsa_identity() -> Arc<Identity> {
    static RSA: OnceLock<Arc<Identity>> = OnceLock::new();
    RSA.get_or_init(|| {
        Arc::new(
            Identity::generate(
                CardKeys::generate_rsa2048().unwrap(),
                CertificateTimes::Valid,
            )
            .unwrap(),
        )
    })
    .clone()
}

/// PIN, VERIFY and sign SHA-256(`challenge`) with `role`'s key, as the card does for the app.
pub fn sign(identity: &Arc<Identity>, role: KeyRole, challenge: &[u8]) -> SignedChallenge {
    let card = Loopback::new(Config::default(), identity.clone()).unwrap();
    let mut session = CardSession::open(card).unwrap();
    session
        .sign(role, &Pin::parse(PIN).unwrap(), challenge)
        .unwrap()
}

/// A server in demo mode trusting the test CAs of `trusted` (none: SITHS off) as anchors and
/// issuing CAs, without revocation checking: these identities' certificates name no CRL
/// (revocation is `siths_revocation.rs`'s, with a CRL server). Keep the file.
pub async fn server_trusting(trusted: &[&Identity]) -> (TestServer, tempfile::NamedTempFile) {
    let mut over = demo_overrides();
    over.siths_revocation = Some(RevocationMode::Off);
    server_trusting_with(trusted, over).await
}

/// A server with `over`, trusting the test CAs of `trusted` as anchors and issuing CAs.
pub async fn server_trusting_with(
    trusted: &[&Identity],
    mut over: Overrides,
) -> (TestServer, tempfile::NamedTempFile) {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    for identity in trusted {
        file.write_all(identity.ca.pem().as_bytes()).unwrap();
    }
    if !trusted.is_empty() {
        over.siths_trust_anchors = Some(vec![file.path().to_owned()]);
        over.siths_issuing_cas = Some(vec![file.path().display().to_string()]);
    }
    (TestServer::with(over).await, file)
}

/// A new challenge: its id and what the app has the card sign for it (the login message for
/// the server's origin, `legitimera_protocol::siths_login_message`).
pub async fn challenge(server: &TestServer) -> (String, Vec<u8>) {
    let (id, bytes) = challenge_bytes(server).await;
    (id, login_message(server, &bytes))
}

/// The login message for `challenge` and the server's origin, as the app makes it.
pub fn login_message(server: &TestServer, challenge: &[u8]) -> Vec<u8> {
    legitimera_protocol::siths_login_message(
        &server.running.url(),
        challenge.try_into().expect("a 32-byte challenge"),
    )
}

/// A new challenge: its id and its decoded bytes.
pub async fn challenge_bytes(server: &TestServer) -> (String, Vec<u8>) {
    let answer = server.post("siths/challenges", json!({})).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{:?}", answer.body);
    assert_eq!(answer.body["expires_in"], 120);
    let bytes = STANDARD
        .decode(answer.body["challenge"].as_str().unwrap())
        .unwrap();
    assert_eq!(bytes.len(), 32);
    (answer.body["id"].as_str().unwrap().to_owned(), bytes)
}

/// The login request the app sends for a signed challenge.
pub fn login_body(challenge_id: &str, signed: &SignedChallenge) -> Value {
    json!({
        "challenge_id": challenge_id,
        "certificates": [STANDARD.encode(&signed.certificate)],
        "signature": STANDARD.encode(&signed.signature),
        // The card crate's own name for it: the server must accept exactly those names.
        "algorithm": serde_json::to_value(signed.algorithm).unwrap(),
    })
}

/// Challenge, card signature with the authentication key, login: the answer.
pub async fn log_in(server: &TestServer, identity: &Arc<Identity>) -> super::Answer {
    let (id, bytes) = challenge(server).await;
    let signed = sign(identity, KeyRole::Authentication, &bytes);
    server
        .post("siths/sessions", login_body(&id, &signed))
        .await
}
