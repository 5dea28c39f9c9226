//! Writes seed corpora from real traffic: the virtual card's answers (the answer script of
//! whole PIV — plain and compressed, P-256 and RSA — and PKCS#15 sessions, and the files and
//! objects inside them), the request bodies, queries and headers the app sends the server, the
//! virtual card's signed SITHS challenges with its chain and CA, and the BankID simulator's
//! answers over mutual TLS. `cargo fuzz build` builds it with the targets; README.md says how
//! to run it. Writes fuzz/corpus/<target>/.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use legitimera_bankid::simulator::{Scan, Simulator, TestPerson};
use legitimera_bankid::{client_tls_config, AuthRequest, OrderResponse};
use legitimera_protocol::SithsAlgorithm;
use serde_json::json;

use legitimera_card::apdu::{Command, Response};
use legitimera_card::{piv, pkcs15, CardKind, CardSession, KeyRole, Pin, Transport};
use legitimera_fuzz::{record, BANKID_STATUSES};
use legitimera_vcard::{CardKeys, CertificateTimes, Config, Identity, Loopback, TestCa};

/// Passes commands to the virtual card and keeps the raw answers.
struct Recorder {
    card: Loopback,
    script: Vec<u8>,
}

impl Transport for Recorder {
    fn transmit(&mut self, command: &Command) -> legitimera_card::Result<Response> {
        let response = self.card.transmit(command)?;
        let raw = [&response.data[..], &response.sw.to_be_bytes()].concat();
        record(&mut self.script, &raw);
        Ok(response)
    }
}

/// The targets named on the command line (`seeds siths_crl …`), or every target when none is:
/// the others' corpora are left as they are.
fn wanted(target: &str) -> bool {
    let named: Vec<String> = std::env::args().skip(1).collect();
    named.is_empty() || named.iter().any(|name| name == target)
}

fn write(target: &str, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    if !wanted(target) {
        return Ok(());
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join(name), bytes)
}

fn main() -> Result<()> {
    let identities = [
        (
            "p256",
            Arc::new(Identity::generate(
                CardKeys::generate_p256(),
                CertificateTimes::Valid,
            )?),
        ),
        (
            "rsa",
            Arc::new(Identity::generate(
                CardKeys::generate_rsa2048()?,
                CertificateTimes::Valid,
            )?),
        ),
    ];
    let pin = Pin::parse("123456")?;
    for (key, identity) in &identities {
        for (kind, compress, name) in [
            (CardKind::Piv, false, "piv"),
            (CardKind::Piv, true, "piv_gzip"),
            (CardKind::Pkcs15, false, "pkcs15"),
        ] {
            let config = Config {
                kind,
                compress_certificates: compress,
                ..Config::default()
            };
            let recorder = Recorder {
                card: Loopback::new(config, identity.clone())?,
                script: Vec::new(),
            };
            let mut session = CardSession::open(recorder)?;
            session.certificate(KeyRole::Authentication)?;
            session.certificates()?;
            session.pin_status(KeyRole::Authentication)?;
            session.sign(KeyRole::Authentication, &pin, b"challenge")?;
            let script = session.into_transport().script;
            write("card_session", &format!("{name}_{key}"), &script)?;
        }
        for (role, name) in [
            (KeyRole::Authentication, "auth"),
            (KeyRole::Signing, "sign"),
        ] {
            let der = identity.certificates.authentication.clone();
            let der = if role == KeyRole::Signing {
                identity.certificates.signing.clone()
            } else {
                der
            };
            write("certificate_info", &format!("{name}_{key}"), &der)?;
            write("tlv", &format!("{name}_{key}"), &der)?;
            write(
                "piv_object",
                &format!("{name}_{key}"),
                &piv::certificate_object(&der, false)?,
            )?;
            write(
                "piv_object",
                &format!("{name}_{key}_gzip"),
                &piv::certificate_object(&der, true)?,
            )?;
        }
    }
    let cdf = [
        pkcs15::encode_certificate_entry("auth", &[1], [0x43, 0x01]),
        pkcs15::encode_certificate_entry("sign", &[2], [0x43, 0x02]),
    ]
    .concat();
    let prkdf = [
        pkcs15::encode_key_entry("auth", &[1], &[0x11], 0x81, false),
        pkcs15::encode_key_entry("sign", &[2], &[0x12], 0x82, true),
    ]
    .concat();
    for (name, file) in [
        (
            "ef_dir",
            pkcs15::encode_ef_dir_record(&pkcs15::AID, "SITHS"),
        ),
        (
            "odf",
            pkcs15::encode_odf([0x44, 0x00], [0x44, 0x04], [0x44, 0x08]),
        ),
        ("cdf", cdf),
        ("prkdf", prkdf),
        ("aodf", pkcs15::encode_pin_entry("PIN", &[0x11], 0x91)),
    ] {
        write("pkcs15_files", name, &file)?;
        write("tlv", name, &file)?;
    }
    for (key, identity) in &identities {
        siths_seeds(key, identity, &pin)?;
    }
    server_seeds()?;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async {
            bankid_seeds().await?;
            client_answer_seeds().await
        })?;
    client_files_seeds()?;
    crl_seeds()?;
    diagnostics_seeds(&identities)?;
    println!("seed corpora written under fuzz/corpus/");
    Ok(())
}

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The card's signature over a challenge, as the app makes it: the `siths_login` records
/// (head, anchor, challenge, signature, chain) and the `server_body` login request.
fn siths_seeds(key: &str, identity: &Arc<Identity>, pin: &Pin) -> Result<()> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let challenge: Vec<u8> = (0u8..32).map(|i| i.wrapping_mul(73)).collect();
    for (role, name) in [
        (KeyRole::Authentication, "auth"),
        (KeyRole::Signing, "sign"),
    ] {
        let mut session = CardSession::open(Loopback::new(Config::default(), identity.clone())?)?;
        // The login message for the fuzz target's origin, as the app has the card sign it.
        let message = legitimera_protocol::siths_login_message(
            "http://127.0.0.1:8787",
            challenge.as_slice().try_into()?,
        );
        let signed = session.sign(role, pin, &message)?;
        // The card's algorithm goes to the server under the same name (see the server's tests).
        let algorithm = match serde_json::from_value(serde_json::to_value(signed.algorithm)?)? {
            SithsAlgorithm::RsaPkcs1Sha256 => 0u8,
            SithsAlgorithm::EcdsaP256Sha256 => 1u8,
        };
        let mut script = Vec::new();
        record(
            &mut script,
            &[&[algorithm][..], &now.to_be_bytes()].concat(),
        );
        record(&mut script, identity.ca.der());
        record(&mut script, &challenge);
        record(&mut script, &signed.signature);
        record(&mut script, &signed.certificate);
        write("siths_login", &format!("{name}_{key}"), &script)?;
        let body = json!({
            "challenge_id": "q7FzW2m0yJx8vN4cR1tL5A",
            "certificates": [STANDARD.encode(&signed.certificate)],
            "signature": STANDARD.encode(&signed.signature),
            "algorithm": signed.algorithm,
        });
        write(
            "server_body",
            &format!("siths_{name}_{key}"),
            &[&[8u8][..], &serde_json::to_vec(&body)?].concat(),
        )?;
    }
    Ok(())
}

/// The bodies, queries and headers the app sends (as its API client and the server's tests
/// write them), with the `server_body` selector byte for each request type.
fn server_seeds() -> Result<()> {
    let bodies = [
        (
            0u8,
            "registration",
            json!({"email": "anna.testsson@example.se", "password": "correct horse battery staple", "phone": "+46701234567"}),
        ),
        (
            0,
            "registration_no_phone",
            json!({"email": "Anna@Example.se ", "password": "hunter2hunter2"}),
        ),
        (1, "code", json!({"code": "123456"})),
        (
            2,
            "login",
            json!({"email": "anna.testsson@example.se", "password": "correct horse battery staple"}),
        ),
        (
            2,
            "login_device",
            json!({"email": "anna.testsson@example.se", "password": "correct horse battery staple", "device_token": "dGhpcyBpcyBhIGRldmljZSB0b2tlbg"}),
        ),
        (
            3,
            "sms_login",
            json!({"challenge_id": "c2b1a0f4e3d2", "code": "654321", "trust_device": true, "device_label": "Annas dator"}),
        ),
        (4, "resend", json!({"challenge_id": "c2b1a0f4e3d2"})),
        (
            5,
            "phone_change",
            json!({"phone": "070-123 45 67", "email": "anna.testsson@example.se", "password": "correct horse battery staple"}),
        ),
        (
            6,
            "forget_device",
            json!({"device_token": "dGhpcyBpcyBhIGRldmljZSB0b2tlbg"}),
        ),
        (7, "bankid_this_device", json!({"mode": "this_device"})),
        (7, "bankid_other_device", json!({"mode": "other_device"})),
        (
            9,
            "email_code_login",
            json!({"challenge_id": "c2b1a0f4e3d2", "code": "123456"}),
        ),
        (
            10,
            "password_reset",
            json!({"email": "anna.testsson@example.se"}),
        ),
        (
            11,
            "new_password",
            json!({"password": "correct horse battery staple"}),
        ),
        (
            12,
            "password_change",
            json!({"current": "correct horse battery staple", "new": "Tr0ubadour&3 lösenord"}),
        ),
        (
            13,
            "siths_check",
            json!({"certificates": ["MIIBszCCAVmgAwIBAgIUDw==", "MIIBkTCCATegAwIBAgIU"]}),
        ),
    ];
    for (selector, name, body) in bodies {
        write(
            "server_body",
            name,
            &[&[selector][..], &serde_json::to_vec(&body)?].concat(),
        )?;
    }
    for (name, text) in [
        ("wait", "wait=25&since=3"),
        ("lang", "lang=sv"),
        (
            "bearer",
            "Bearer 3q2-7wAAAAB3aGF0IGEgdG9rZW4gbG9va3MgbGlrZQ",
        ),
        ("forwarded", "203.0.113.9, [2001:db8::1]:4711"),
    ] {
        write("server_query_and_headers", name, text.as_bytes())?;
    }
    Ok(())
}

/// One `bankid_answer` input: endpoint, status, the Content-Type, the body.
fn bankid_answer(endpoint: u8, status: u16, content_type: &str, body: &[u8]) -> Vec<u8> {
    let status = BANKID_STATUSES
        .iter()
        .position(|known| *known == status)
        .and_then(|index| u8::try_from(index).ok())
        .unwrap_or(0);
    let header = &content_type.as_bytes()[..content_type.len().min(255)];
    let header_len = u8::try_from(header.len()).unwrap_or(u8::MAX);
    [&[endpoint, status, header_len][..], header, body].concat()
}

/// Real answers of the BankID simulator over mutual TLS: an order, every collect state up to
/// completion data, a cancel, and the error bodies for an unknown order and a bad request.
async fn bankid_seeds() -> Result<()> {
    const AUTH: u8 = 0;
    const COLLECT: u8 = 1;
    const CANCEL: u8 = 2;
    let simulator = Simulator::start(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let tls = client_tls_config(&simulator.rp_identity()?, &simulator.server_ca())?;
    let http = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .build()?;
    let post = |endpoint: &'static str, body: serde_json::Value| {
        let http = http.clone();
        let url = simulator.base_url().join(endpoint);
        async move {
            let answer = http.post(url?).json(&body).send().await?;
            let status = answer.status().as_u16();
            let content_type = answer
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|value| value.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let body = answer.bytes().await?.to_vec();
            Result::Ok((status, content_type, body))
        }
    };
    let seed = |endpoint: u8, name: &str, (status, content_type, body): &(u16, String, Vec<u8>)| {
        write(
            "bankid_answer",
            name,
            &bankid_answer(endpoint, *status, content_type, body),
        )
    };
    let auth_request = serde_json::to_value(AuthRequest::new("192.0.2.10".parse()?))?;
    let auth = post("auth", auth_request.clone()).await?;
    seed(AUTH, "auth", &auth)?;
    let order: OrderResponse = serde_json::from_slice(&auth.2)?;
    let order_ref = json!({ "orderRef": order.order_ref });
    seed(
        COLLECT,
        "collect_outstanding",
        &post("collect", order_ref.clone()).await?,
    )?;
    let opened = simulator.app().open(
        &Scan::AutoStart(order.auto_start_token),
        &TestPerson::demo(),
    )?;
    seed(
        COLLECT,
        "collect_started",
        &post("collect", order_ref.clone()).await?,
    )?;
    opened.ask_user()?;
    seed(
        COLLECT,
        "collect_user_sign",
        &post("collect", order_ref.clone()).await?,
    )?;
    opened.complete()?;
    seed(
        COLLECT,
        "collect_complete",
        &post("collect", order_ref.clone()).await?,
    )?;

    let other: OrderResponse = serde_json::from_slice(&post("auth", auth_request).await?.2)?;
    let other_ref = json!({ "orderRef": other.order_ref });
    seed(CANCEL, "cancel", &post("cancel", other_ref.clone()).await?)?;
    seed(
        COLLECT,
        "collect_after_cancel",
        &post("collect", other_ref.clone()).await?,
    )?;
    seed(CANCEL, "cancel_unknown", &post("cancel", other_ref).await?)?;
    seed(
        AUTH,
        "auth_bad_request",
        &post("auth", json!({ "endUserIp": "not an address" })).await?,
    )?;
    simulator.stop().await;

    // What no test sees from the simulator but a proxy in front of BankID sends.
    let html = b"<html><body><h1>502 Bad Gateway</h1></body></html>".to_vec();
    seed(COLLECT, "proxy_html", &(503, "text/html".into(), html))?;
    let limited = bankid_answer(AUTH, 429, "30", b"");
    write("bankid_answer", "rate_limited", &limited)?;
    Ok(())
}

/// One `client_answer` input: the answer type, the status (as its index in
/// `CLIENT_STATUSES`), the body.
fn client_answer(kind: u8, status: u16, body: &[u8]) -> Result<Vec<u8>> {
    let index = legitimera_fuzz::CLIENT_STATUSES
        .iter()
        .position(|s| *s == status)
        .ok_or_else(|| format!("status {status} is not in CLIENT_STATUSES"))?;
    Ok([&[kind, u8::try_from(index)?][..], body].concat())
}

/// The demo server's real answers to what the app asks, each under the answer type the app
/// decodes it as (the `client_answer` target's kinds), and a proxy's page for good measure.
async fn client_answer_seeds() -> Result<()> {
    use legitimera_server::config::{Config, FileConfig, Overrides};
    let config = Config::resolve(
        FileConfig::default(),
        Overrides {
            demo: true,
            listen: Some("127.0.0.1:0".parse()?),
            ..Default::default()
        },
    )?;
    let server = legitimera_server::start(
        config,
        std::sync::Arc::new(legitimera_server::clock::SystemClock),
    )
    .await?;
    let base = server.url();
    let http = reqwest::Client::new();
    let mut seeds: Vec<(String, u8, u16, Vec<u8>)> = Vec::new();
    // Sends, keeps the answer as a seed of `kind`, and gives back its JSON.
    macro_rules! ask {
        ($name:expr, $kind:expr, $request:expr) => {{
            let response = $request.send().await?;
            let status = response.status().as_u16();
            let body = response.bytes().await?.to_vec();
            let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            seeds.push(($name.to_owned(), $kind, status, body));
            json
        }};
    }
    let url = |path: &str| format!("{base}{path}");
    let password = "demo-lösenord-2026";
    ask!("health", 0, http.get(url("/api/v1/health")));
    ask!(
        "registration",
        1,
        http.post(url("/api/v1/registrations")).json(&json!({
            "email": "fuzz.seed@example.se", "password": "correct horse battery staple",
            "phone": "+46701234599"
        }))
    );
    let low = ask!(
        "login_session",
        2,
        http.post(url("/api/v1/login/password"))
            .json(&json!({"email": "erik@example.se", "password": password}))
    );
    ask!(
        "login_wrong_password",
        2,
        http.post(url("/api/v1/login/password"))
            .json(&json!({"email": "erik@example.se", "password": "not the password"}))
    );
    let challenge = ask!(
        "login_sms_challenge",
        2,
        http.post(url("/api/v1/login/password"))
            .json(&json!({"email": "amira@example.se", "password": password}))
    );
    let challenge_id = challenge["id"].as_str().unwrap_or_default().to_owned();
    ask!(
        "login_sms_wrong_code",
        3,
        http.post(url("/api/v1/login/sms"))
            .json(&json!({"challenge_id": challenge_id, "code": "000000"}))
    );
    let outbox = ask!("outbox", 10, http.get(url("/demo/outbox")));
    let code = outbox
        .as_array()
        .and_then(|messages| messages.iter().rev().find(|m| m["channel"] == "sms"))
        .and_then(|m| m["body"].as_str())
        .and_then(|body| {
            body.split(|c: char| !c.is_ascii_digit())
                .find(|w| w.len() == 6)
        })
        .unwrap_or("000000")
        .to_owned();
    ask!(
        "login_resend_too_soon",
        4,
        http.post(url("/api/v1/login/resend"))
            .json(&json!({"challenge_id": challenge_id}))
    );
    ask!(
        "login_sms_session",
        3,
        http.post(url("/api/v1/login/sms")).json(&json!({
            "challenge_id": challenge_id, "code": code, "trust_device": true,
            "device_label": "Legitimera, Linux"
        }))
    );
    let token = low["token"].as_str().unwrap_or_default().to_owned();
    ask!(
        "session",
        5,
        http.get(url("/api/v1/session")).bearer_auth(&token)
    );
    ask!(
        "activity",
        5,
        http.post(url("/api/v1/session/activity"))
            .bearer_auth(&token)
    );
    ask!(
        "devices",
        6,
        http.get(url("/api/v1/devices")).bearer_auth(&token)
    );
    ask!(
        "cases",
        7,
        http.get(url("/api/v1/cases?lang=sv")).bearer_auth(&token)
    );
    ask!(
        "siths_challenge",
        8,
        http.post(url("/api/v1/siths/challenges"))
    );
    ask!(
        "staff_landing_not_staff",
        9,
        http.get(url("/api/v1/siths/landing?lang=sv"))
            .bearer_auth(&token)
    );
    let order = ask!(
        "bankid_order",
        11,
        http.post(url("/api/v1/bankid/orders"))
            .json(&json!({"mode": "other_device"}))
    );
    if let Some(id) = order["id"].as_str() {
        ask!(
            "bankid_order_status",
            11,
            http.get(url(&format!("/api/v1/bankid/orders/{id}")))
        );
    }
    ask!(
        "siths_check_unavailable",
        13,
        http.post(url("/api/v1/siths/check"))
            .json(&json!({"certificates": []}))
    );
    ask!(
        "siths_test_login_refused",
        14,
        http.post(url("/api/v1/siths/test-logins")).json(&json!({
            "challenge_id": "q7FzW2m0yJx8vN4cR1tL5A", "certificates": [],
            "signature": "", "algorithm": "ecdsa_p256_sha256"
        }))
    );
    ask!("not_found", 12, http.get(url("/api/v1/nothing-here")));
    ask!(
        "logout",
        12,
        http.delete(url("/api/v1/session")).bearer_auth(&token)
    );
    ask!(
        "session_ended",
        5,
        http.get(url("/api/v1/session")).bearer_auth(&token)
    );
    seeds.push((
        "proxy_page".to_owned(),
        5,
        502,
        b"<html><body><h1>502 Bad Gateway</h1></body></html>".to_vec(),
    ));
    // What the demo server cannot answer without a SITHS trust anchor: the answers a
    // configured one gives.
    for (name, kind, body) in [
        (
            "siths_check_good",
            13u8,
            json!({"revocation": "good", "crl_updated_at": 1_764_460_800}),
        ),
        (
            "siths_check_revoked",
            13,
            json!({"code": "siths_certificate_revoked", "revocation": "revoked"}),
        ),
        (
            "siths_test_login",
            14,
            json!({"would_log_in": true, "assurance": "high"}),
        ),
    ] {
        seeds.push((name.to_owned(), kind, 200, serde_json::to_vec(&body)?));
    }
    server.stop().await?;
    for (name, kind, status, body) in seeds {
        write("client_answer", &name, &client_answer(kind, status, &body)?)?;
    }
    Ok(())
}

/// The settings files the app writes (through the settings' own entries) and the example
/// policies IT is given (deploy/examples/), with the `client_files` selector byte.
fn client_files_seeds() -> Result<()> {
    for (name, settings) in [
        ("settings_default", json!({})),
        (
            "settings_personal",
            json!({"language": "sv", "preferred_method": "password", "mode": "personal",
                   "remembered_email": "anna.testsson@example.se",
                   "keyring_entries": ["device-token:anna.testsson@example.se"]}),
        ),
        (
            "settings_shared",
            json!({"language": "en", "preferred_method": "bankid_other", "mode": "shared"}),
        ),
    ] {
        let parsed =
            legitimera_client::internal::Settings::from_entries(|key| settings.get(key).cloned());
        let file: serde_json::Map<String, serde_json::Value> = parsed
            .to_entries()
            .into_iter()
            .filter_map(|(key, value)| Some((key.to_owned(), value?)))
            .collect();
        write(
            "client_files",
            name,
            &[&[0u8][..], &serde_json::to_vec(&file)?].concat(),
        )?;
    }
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/examples");
    for entry in std::fs::read_dir(examples)? {
        let path = entry?.path();
        let name = path
            .file_stem()
            .and_then(|stem| stem.to_str())
            .unwrap_or("policy");
        write(
            "client_files",
            &format!("policy_{name}"),
            &[&[1u8][..], &std::fs::read(&path)?].concat(),
        )?;
    }
    Ok(())
}

/// The test CA's CRLs for a card it issued, as the server would fetch them: the `siths_crl`
/// records (head: chain length − 1 and the time, the CA, the card's authentication certificate,
/// then the CRL bodies in the order the distribution points answer). Empty, listing the card,
/// listing others, a stale list before a fresh one, and a list from another CA with the same
/// name (another key) before the real one.
fn crl_seeds() -> Result<()> {
    let identity = Identity::generate(CardKeys::generate_p256(), CertificateTimes::Valid)?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let today = time::OffsetDateTime::now_utc();
    let ca = &identity.ca;
    let serial = identity.certificates.authentication_serial.as_slice();
    let impostor = TestCa::generate()?;
    let day = time::Duration::days(1);
    for (name, bodies) in [
        ("empty", vec![ca.crl_for_days(&[], 7)?]),
        (
            "revoked",
            vec![ca.crl_for_days(&[serial, &[0x01, 0x02]], 7)?],
        ),
        (
            "others_revoked",
            vec![ca.crl_for_days(&[&[0x42; 16], &[0x07]], 7)?],
        ),
        (
            "stale_then_fresh",
            vec![
                ca.crl(&[serial], today - 2 * day, today - day)?,
                ca.crl_for_days(&[], 7)?,
            ],
        ),
        (
            "forged_then_genuine",
            vec![
                impostor.crl_for_days(&[], 7)?,
                ca.crl_for_days(&[serial], 7)?,
            ],
        ),
    ] {
        let mut script = Vec::new();
        record(&mut script, &[&[0u8][..], &now.to_be_bytes()].concat());
        record(&mut script, ca.der());
        record(&mut script, &identity.certificates.authentication);
        for body in &bodies {
            record(&mut script, body);
        }
        write("siths_crl", name, &script)?;
    }
    Ok(())
}

/// The virtual card's certificates as the diagnostics read them: the `diagnostics_certificate`
/// head (language and "now" selector, the time), then the DER — authentication and signing
/// certificates (P-256 and RSA), expired and not yet valid ones, and the `certificate_info`
/// corpus.
fn diagnostics_seeds(identities: &[(&str, Arc<Identity>)]) -> Result<()> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let head = |selector: u8| [&[selector][..], &now.to_be_bytes()].concat();
    for (key, identity) in identities {
        write(
            "diagnostics_certificate",
            &format!("auth_{key}"),
            &[head(0), identity.certificates.authentication.clone()].concat(),
        )?;
        write(
            "diagnostics_certificate",
            &format!("sign_{key}"),
            &[head(1), identity.certificates.signing.clone()].concat(),
        )?;
    }
    for (times, name, selector) in [
        (CertificateTimes::Expired, "expired", 6u8),
        (CertificateTimes::NotYetValid, "not_yet_valid", 3u8),
    ] {
        let identity = Identity::generate(CardKeys::generate_p256(), times)?;
        write(
            "diagnostics_certificate",
            name,
            &[head(selector), identity.certificates.authentication.clone()].concat(),
        )?;
    }
    let certificate_info = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/certificate_info");
    for entry in std::fs::read_dir(certificate_info)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or("certificate");
        write(
            "diagnostics_certificate",
            &format!("certificate_info_{name}"),
            &[head(4), std::fs::read(&path)?].concat(),
        )?;
    }
    Ok(())
}
