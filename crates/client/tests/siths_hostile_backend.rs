//! A backend that is not ours, from the app's side, through real pcscd with vpcd's reader and
//! the virtual card: a challenge that is not 32 bytes is refused before the PIN goes anywhere
//! (the card's tries stay as they were), and a valid challenge relayed from another service is
//! signed over the message naming the backend the app reaches, so the signature is worthless
//! to that other service. A plain `cargo test` ignores them; `cargo xtask test` runs them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use legitimera_card::Pcsc;
use legitimera_client::device::Device;
use legitimera_client::keyring::MemoryKeyring;
use legitimera_client::settings::MemoryStore;
use legitimera_client::wipe::SessionMarker;
use legitimera_client::{ApiClient, BackendUrl, Client, Parts, Policy, Startup};
use legitimera_protocol::{
    siths_login_message, ErrorCode, SecretString, SithsAlgorithm, SithsLoginRequest,
    SITHS_CHALLENGE_LEN,
};
use legitimera_testkit::pcscd;
use legitimera_vcard::{CardKeys, CertificateTimes, Config, Identity, VirtualCard};
use serde_json::{json, Value};
use support::{linux_places, ManualClock, Recorder};

/// vpcd has one first reader and pcscd is one for the whole machine: the tests here take turns.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The service whose challenge the hostile backend relays: what it would verify against.
const OTHER_SERVICE: &str = "https://e-tjanst.example.se";

/// A backend that hands out `challenge` (raw bytes, any length) and keeps what the app sends.
#[derive(Clone)]
struct Hostile {
    challenge: Vec<u8>,
    challenges_asked: Arc<Mutex<usize>>,
    signed: Arc<Mutex<Option<SithsLoginRequest>>>,
}

async fn challenge(State(hostile): State<Hostile>) -> (StatusCode, Json<Value>) {
    *hostile.challenges_asked.lock().unwrap() += 1;
    (
        StatusCode::CREATED,
        Json(json!({
            "id": "relayed",
            "challenge": BASE64.encode(&hostile.challenge),
            "expires_in": 120,
        })),
    )
}

async fn session(
    State(hostile): State<Hostile>,
    Json(request): Json<SithsLoginRequest>,
) -> (StatusCode, Json<Value>) {
    *hostile.signed.lock().unwrap() = Some(request);
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({"code": "siths_bad_signature", "message": "kept for elsewhere"})),
    )
}

/// Serves the hostile backend on loopback: its URL (what the app is pointed at) and its state.
async fn hostile_backend(challenge: Vec<u8>) -> (String, Hostile) {
    let hostile = Hostile {
        challenge,
        challenges_asked: Arc::default(),
        signed: Arc::default(),
    };
    let router = Router::new()
        .route("/api/v1/siths/challenges", post(self::challenge))
        .route("/api/v1/siths/sessions", post(session))
        .with_state(hostile.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, hostile)
}

/// The app's logic pointed at `url`, as a wrong `--backend-url` would point it.
fn client_of(url: &str, home: &std::path::Path) -> Arc<Client> {
    let recorder = Arc::new(Recorder::default());
    Client::new(Parts {
        api: ApiClient::new(BackendUrl::parse(url).unwrap()).unwrap(),
        clock: ManualClock::new(),
        device: Device::governed(
            Arc::new(MemoryStore::default()),
            Arc::new(MemoryKeyring::default()),
            Policy::default(),
        ),
        marker: SessionMarker::new(linux_places(home).marker()),
        events: recorder.clone(),
        desktop: recorder,
        startup: Startup::default(),
    })
}

/// Waits until vpcd's first reader has (or has not) a card.
fn wait_for_card(present: bool) {
    let reader = legitimera_vcard::reader_name(legitimera_vcard::VPCD_PORT);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let readers = Pcsc::establish().unwrap().readers().unwrap();
        if readers
            .iter()
            .any(|r| r.name == reader && r.card_present == present)
        {
            return;
        }
        assert!(Instant::now() < deadline, "the card state did not settle");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn card() -> VirtualCard {
    let identity =
        Arc::new(Identity::generate(CardKeys::generate_p256(), CertificateTimes::Valid).unwrap());
    wait_for_card(false);
    let card = VirtualCard::start(Config::default(), identity).unwrap();
    wait_for_card(true);
    card
}

fn pin() -> SecretString {
    SecretString::new(Config::default().pin)
}

/// Whether `signature` (ECDSA P-256, DER) verifies over `message` with the key of the DER
/// `certificate`.
fn verifies(certificate: &[u8], message: &[u8], signature: &[u8]) -> bool {
    let (_, parsed) = x509_parser::parse_x509_certificate(certificate).unwrap();
    let key = parsed.public_key().subject_public_key.data.to_vec();
    ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_ASN1, key)
        .verify(message, signature)
        .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs pcscd"]
async fn a_33_byte_challenge_is_refused_before_the_pin_is_used() {
    let _turn = ONE_AT_A_TIME.lock().await;
    pcscd::require();
    let card = card();
    let tries_before = card.pin_tries_left();
    let (url, hostile) = hostile_backend(vec![7; SITHS_CHALLENGE_LEN + 1]).await;
    let home = tempfile::tempdir().unwrap();
    let client = client_of(&url, home.path());

    let refused = client.siths_login(&pin()).await.unwrap_err();
    assert_eq!(refused.code(), ErrorCode::SithsBadChallenge);
    assert_eq!(*hostile.challenges_asked.lock().unwrap(), 1);
    assert!(
        hostile.signed.lock().unwrap().is_none(),
        "something was signed"
    );
    assert_eq!(
        card.pin_tries_left(),
        tries_before,
        "the PIN was tried for a challenge the app refuses"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs pcscd"]
async fn a_relayed_challenge_is_signed_for_the_backend_the_app_reaches_only() {
    let _turn = ONE_AT_A_TIME.lock().await;
    pcscd::require();
    let card = card();
    // Another service's challenge, relayed as it is: 32 bytes, so the app signs.
    let relayed = [0x5a; SITHS_CHALLENGE_LEN];
    let (url, hostile) = hostile_backend(relayed.to_vec()).await;
    let home = tempfile::tempdir().unwrap();
    let client = client_of(&url, home.path());

    let refused = client.siths_login(&pin()).await.unwrap_err();
    assert_eq!(refused.code(), ErrorCode::SithsBadSignature);
    let signed = hostile
        .signed
        .lock()
        .unwrap()
        .clone()
        .expect("the app sent a signature");
    assert_eq!(signed.algorithm, SithsAlgorithm::EcdsaP256Sha256);
    let certificate = BASE64.decode(&signed.certificates[0]).unwrap();
    assert_eq!(certificate, card.identity().certificates.authentication);
    let signature = BASE64.decode(&signed.signature).unwrap();

    // What the card signed names the hostile backend (as the app reaches it) ...
    let own_origin = url.trim_end_matches('/');
    assert!(verifies(
        &certificate,
        &siths_login_message(own_origin, &relayed),
        &signature
    ));
    // ... so it proves nothing to the service the challenge came from, nor as a bare signature.
    assert!(!verifies(
        &certificate,
        &siths_login_message(OTHER_SERVICE, &relayed),
        &signature
    ));
    assert!(!verifies(&certificate, &relayed, &signature));
    assert_eq!(card.pin_tries_left(), Config::default().pin_tries);
}
