//! SITHS revocation against the real server: the virtual card's certificate is issued under a
//! test CA with a CRL distribution point on this test's own HTTP route (the CA's CRL server,
//! which the test can empty, break or take down), and the server fetches, caches and checks
//! the CRL as it would SITHS's. Also `POST /siths/check`, which says the same without a login.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use legitimera_server::config::RevocationMode;
use legitimera_testkit::logs::LogCapture;
use legitimera_vcard::{CardKeys, CertificateTimes, Identity, TestCa};
use serde_json::json;
use support::siths::{log_in, server_trusting_with};
use support::{demo_overrides, TestServer};
use time::OffsetDateTime;

/// What the CA's CRL server answers: the CRL, or an error status.
type Published = Arc<Mutex<Result<Vec<u8>, StatusCode>>>;

/// The CA's CRL server: `GET /ca.crl` answers what the test published. Dropping it (or
/// [`CrlServer::take_down`]) closes the port.
struct CrlServer {
    url: String,
    published: Published,
    task: tokio::task::JoinHandle<()>,
}

impl CrlServer {
    async fn start() -> Self {
        let published: Published = Arc::new(Mutex::new(Err(StatusCode::NOT_FOUND)));
        let app = axum::Router::new()
            .route(
                "/ca.crl",
                axum::routing::get(|State(published): State<Published>| async move {
                    match published.lock().unwrap().clone() {
                        Ok(crl) => crl.into_response(),
                        Err(status) => status.into_response(),
                    }
                }),
            )
            .with_state(published.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/ca.crl", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        CrlServer {
            url,
            published,
            task,
        }
    }

    fn publish(&self, crl: Vec<u8>) {
        *self.published.lock().unwrap() = Ok(crl);
    }

    fn take_down(&self) {
        self.task.abort();
    }
}

impl Drop for CrlServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A card whose certificate names `crl`'s URL as its distribution point.
fn card_under(crl: &CrlServer) -> Arc<Identity> {
    Arc::new(
        Identity::issued_by(
            TestCa::generate().unwrap(),
            CardKeys::generate_p256(),
            CertificateTimes::Valid,
            Some(&crl.url),
        )
        .unwrap(),
    )
}

fn good_crl(identity: &Identity) -> Vec<u8> {
    identity.ca.crl_for_days(&[], 1).unwrap()
}

fn revoking_crl(identity: &Identity) -> Vec<u8> {
    identity
        .ca
        .crl_for_days(&[&identity.certificates.authentication_serial], 1)
        .unwrap()
}

async fn server_for(
    identity: &Identity,
    mode: RevocationMode,
) -> (TestServer, tempfile::NamedTempFile) {
    let mut over = demo_overrides();
    over.siths_revocation = Some(mode);
    server_trusting_with(&[identity], over).await
}

async fn check(server: &TestServer, identity: &Identity) -> serde_json::Value {
    let answer = server
        .post(
            "siths/check",
            json!({"certificates": [STANDARD.encode(&identity.certificates.authentication)]}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    answer.body
}

#[tokio::test]
async fn a_card_on_a_current_crl_logs_in_and_a_revoked_one_is_refused() {
    let crl = CrlServer::start().await;
    let identity = card_under(&crl);
    crl.publish(good_crl(&identity));
    let (server, _ca) = server_for(&identity, RevocationMode::Require).await;
    let answer = log_in(&server, &identity).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{:?}", answer.body);
    let checked = check(&server, &identity).await;
    assert_eq!(checked["revocation"], "good", "{checked}");
    assert!(checked.get("code").is_none(), "{checked}");
    let published = checked["crl_updated_at"].as_i64().unwrap();
    assert!((OffsetDateTime::now_utc().unix_timestamp() - published).abs() < 2 * 3600);

    // The CA revokes the card; a new server (no cache) fetches the new list.
    crl.publish(revoking_crl(&identity));
    let (server, _ca) = server_for(&identity, RevocationMode::Require).await;
    let answer = log_in(&server, &identity).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{:?}", answer.body);
    assert_eq!(answer.code(), "siths_certificate_revoked");
    let checked = check(&server, &identity).await;
    assert_eq!(checked["revocation"], "revoked", "{checked}");
    assert_eq!(checked["code"], "siths_certificate_revoked", "{checked}");
    // Revoked is refused under `prefer` too: only a missing answer is let through.
    let (server, _ca) = server_for(&identity, RevocationMode::Prefer).await;
    assert_eq!(
        log_in(&server, &identity).await.code(),
        "siths_certificate_revoked"
    );
}

#[tokio::test]
async fn with_the_crl_server_down_require_refuses_and_prefer_lets_in_and_logs() {
    let capture = LogCapture::start();
    let crl = CrlServer::start().await;
    let identity = card_under(&crl);
    crl.take_down();
    let (server, _ca) = server_for(&identity, RevocationMode::Require).await;
    let answer = log_in(&server, &identity).await;
    assert_eq!(
        answer.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{:?}",
        answer.body
    );
    assert_eq!(answer.code(), "siths_revocation_unavailable");
    let checked = check(&server, &identity).await;
    assert_eq!(checked["revocation"], "unavailable", "{checked}");
    assert_eq!(checked["code"], "siths_revocation_unavailable", "{checked}");

    let (server, _ca) = server_for(&identity, RevocationMode::Prefer).await;
    let answer = log_in(&server, &identity).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{:?}", answer.body);
    let checked = check(&server, &identity).await;
    assert_eq!(checked["revocation"], "unavailable", "{checked}");
    assert!(checked.get("code").is_none(), "{checked}");
    let log = capture.text();
    assert!(
        log.contains("SITHS revocation could not be checked; let in (siths_revocation = prefer)"),
        "prefer let a login in without saying so:\n{log}"
    );
}

#[tokio::test]
async fn a_stale_crl_past_its_next_update_is_no_answer() {
    let crl = CrlServer::start().await;
    let identity = card_under(&crl);
    let now = OffsetDateTime::now_utc();
    crl.publish(
        identity
            .ca
            .crl(
                &[],
                now - time::Duration::days(2),
                now - time::Duration::days(1),
            )
            .unwrap(),
    );
    let (server, _ca) = server_for(&identity, RevocationMode::Require).await;
    let answer = log_in(&server, &identity).await;
    assert_eq!(
        answer.code(),
        "siths_revocation_unavailable",
        "{:?}",
        answer.body
    );
}

#[tokio::test]
async fn a_cached_crl_serves_until_its_next_update_and_not_after() {
    let crl = CrlServer::start().await;
    let identity = card_under(&crl);
    crl.publish(good_crl(&identity));
    let (server, _ca) = server_for(&identity, RevocationMode::Require).await;
    assert_eq!(log_in(&server, &identity).await.status, StatusCode::CREATED);
    // The CA's server goes away: the cached list still answers for later logins.
    crl.take_down();
    assert_eq!(log_in(&server, &identity).await.status, StatusCode::CREATED);
    // Past its nextUpdate (a day) the cached list is no answer, and none can be fetched.
    server.advance(25 * 3600);
    let answer = log_in(&server, &identity).await;
    assert_eq!(
        answer.code(),
        "siths_revocation_unavailable",
        "{:?}",
        answer.body
    );
}

#[tokio::test]
async fn a_crl_not_signed_by_the_issuer_or_none_named_is_no_answer() {
    let crl = CrlServer::start().await;
    let identity = card_under(&crl);
    // A list under the CA's name from another key: what an attacker on the path could serve.
    let impostor = Identity::issued_by(
        TestCa::generate().unwrap(),
        CardKeys::generate_p256(),
        CertificateTimes::Valid,
        None,
    )
    .unwrap();
    crl.publish(impostor.ca.crl_for_days(&[], 1).unwrap());
    let (server, _ca) = server_for(&identity, RevocationMode::Require).await;
    let answer = log_in(&server, &identity).await;
    assert_eq!(
        answer.code(),
        "siths_revocation_unavailable",
        "{:?}",
        answer.body
    );
    // Once the real list is there, the next login fetches it (the bad one was not kept).
    crl.publish(good_crl(&identity));
    assert_eq!(log_in(&server, &identity).await.status, StatusCode::CREATED);

    // A certificate without a distribution point has no revocation answer under `require`.
    let no_cdp =
        Arc::new(Identity::generate(CardKeys::generate_p256(), CertificateTimes::Valid).unwrap());
    let (server, _ca) = server_for(&no_cdp, RevocationMode::Require).await;
    let answer = log_in(&server, &no_cdp).await;
    assert_eq!(
        answer.code(),
        "siths_revocation_unavailable",
        "{:?}",
        answer.body
    );
}

#[tokio::test]
async fn check_answers_for_an_untrusted_certificate_and_makes_no_session() {
    let crl = CrlServer::start().await;
    let identity = card_under(&crl);
    crl.publish(good_crl(&identity));
    let stranger = card_under(&crl);
    let (server, _ca) = server_for(&identity, RevocationMode::Require).await;
    let checked = check(&server, &stranger).await;
    assert_eq!(checked["code"], "siths_untrusted_certificate", "{checked}");
    assert_eq!(checked["revocation"], "not_checked", "{checked}");
    let checked = check(&server, &identity).await;
    assert_eq!(checked["revocation"], "good", "{checked}");
    assert!(checked.get("token").is_none());
    let malformed = server
        .post("siths/check", json!({"certificates": ["not base64!"]}))
        .await;
    assert_eq!(malformed.code(), "bad_request");
}

/// Prints what a CRL download and check add to a login (run with `--nocapture` for the
/// numbers): the first login after start fetches the list, later ones use the cache. Asserts
/// only that both work; the numbers go in the closing note.
#[tokio::test]
async fn timing_of_the_first_and_later_logins_with_revocation() {
    let crl = CrlServer::start().await;
    let identity = card_under(&crl);
    crl.publish(good_crl(&identity));
    let (off, _ca) = server_for(&identity, RevocationMode::Off).await;
    let (on, _ca2) = server_for(&identity, RevocationMode::Require).await;
    async fn timed(server: &TestServer, identity: &Arc<Identity>) -> Duration {
        let started = Instant::now();
        let answer = log_in(server, identity).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{:?}", answer.body);
        started.elapsed()
    }
    timed(&off, &identity).await;
    let mut without = Vec::new();
    for _ in 0..5 {
        without.push(timed(&off, &identity).await);
    }
    let first = timed(&on, &identity).await;
    let mut later = Vec::new();
    for _ in 0..5 {
        later.push(timed(&on, &identity).await);
    }
    let median = |times: &mut Vec<Duration>| {
        times.sort();
        times[times.len() / 2]
    };
    println!(
        "SITHS login (challenge + signature + session): revocation off {:?} (median of 5); \
         require, first login (CRL fetched) {first:?}; require, later logins (cached) {:?} \
         (median of 5)",
        median(&mut without),
        median(&mut later)
    );
}
