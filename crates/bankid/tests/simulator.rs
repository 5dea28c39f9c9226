//! The real client against the simulator over mutual TLS on 127.0.0.1: every order outcome,
//! the trust rules on both sides, the retention rules, and the test app's QR check. Time is a
//! ManualClock, so 30-second and minutes-long limits take no wall time.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use legitimera_bankid::simulator::{
    AppError, ManualClock, Scan, Simulator, TestPerson, COMPLETE_RETENTION, FAILED_RETENTION,
    RP_PKCS12_PASSWORD, START_TIMEOUT, USER_TIMEOUT,
};
use legitimera_bankid::{
    qr_data, AuthRequest, ClientConfig, Error, ErrorCode, HintCode, OrderRef, OrderResponse,
    Personnummer, Requirement, RfaCode, Risk, RpClient, RpIdentity, ServerCa, SignRequest, Status,
    UserDevice, UserVisibleData,
};

const END_USER_IP: &str = "192.0.2.10";

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

async fn start() -> (Simulator, Arc<ManualClock>, RpClient) {
    let clock = Arc::new(ManualClock::new());
    let simulator = Simulator::start_with_clock(loopback(), clock.clone())
        .await
        .expect("simulator starts");
    let client = simulator.client().expect("client builds");
    (simulator, clock, client)
}

fn auth_request() -> AuthRequest {
    AuthRequest::new(END_USER_IP.parse().expect("ip"))
}

fn std_duration(duration: time::Duration) -> Duration {
    Duration::try_from(duration).expect("positive duration")
}

async fn state(client: &RpClient, order: &OrderRef) -> (Status, Option<HintCode>) {
    let answer = client.collect(order).await.expect("collect answers");
    (answer.status, answer.hint_code)
}

fn assert_no_such_order(result: Result<impl std::fmt::Debug, Error>) {
    match result {
        Err(Error::Rp {
            status: 400,
            code: ErrorCode::InvalidParameters,
            ..
        }) => {}
        other => panic!("expected 400 invalidParameters, got {other:?}"),
    }
}

/// The first rustls error under a reqwest error, however deeply wrapped.
fn rustls_cause(error: &reqwest::Error) -> Option<rustls::Error> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = cause {
        if let Some(tls) = current.downcast_ref::<rustls::Error>() {
            return Some(tls.clone());
        }
        // io::Error's `source()` skips the error it wraps (hyper nests io errors in io errors).
        cause = match current
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner),
            None => current.source(),
        };
    }
    None
}

#[tokio::test]
async fn completed_auth_on_this_device_returns_completion_data() {
    let (simulator, _clock, client) = start().await;
    let mut request = auth_request();
    request.return_risk = Some(true);
    let order = client.auth(&request).await.expect("auth");

    let pending = client.collect(&order.order_ref).await.expect("collect");
    assert_eq!(pending.status, Status::Pending);
    assert_eq!(pending.hint_code, Some(HintCode::OutstandingTransaction));
    assert_eq!(pending.rfa(UserDevice::ThisDevice), Some(RfaCode::Rfa13));

    let opened = simulator
        .app()
        .open(
            &Scan::AutoStart(order.auto_start_token),
            &TestPerson::demo(),
        )
        .expect("app opens the order");
    let started = client.collect(&order.order_ref).await.expect("collect");
    assert_eq!(started.hint_code, Some(HintCode::Started));
    assert_eq!(started.rfa(UserDevice::ThisDevice), Some(RfaCode::Rfa15A));

    opened.ask_user().expect("asks for the code");
    let signing = client.collect(&order.order_ref).await.expect("collect");
    assert_eq!(signing.hint_code, Some(HintCode::UserSign));
    assert_eq!(signing.rfa(UserDevice::ThisDevice), Some(RfaCode::Rfa9));

    opened.complete().expect("completes");
    let complete = client.collect(&order.order_ref).await.expect("collect");
    assert_eq!(complete.status, Status::Complete);
    assert_eq!(complete.rfa(UserDevice::ThisDevice), None);
    let data = complete.completion_data.expect("completion data");
    assert_eq!(
        data.user.personal_number,
        TestPerson::demo().personal_number
    );
    assert_eq!(data.user.given_name, "Amira");
    assert_eq!(data.user.name, "Amira Demosson");
    assert_eq!(data.device.ip_address, END_USER_IP);
    assert_eq!(data.risk, Some(Risk::Low));
    assert_eq!(data.bank_id_issue_date.len(), 10);
    assert!(base64::engine::general_purpose::STANDARD
        .decode(&data.ocsp_response)
        .is_ok());
    simulator.stop().await;
}

#[tokio::test]
async fn signed_on_another_device_by_scanning_the_qr_code() {
    let (simulator, clock, client) = start().await;
    let text = UserVisibleData::new("Jag godkänner villkoren").expect("text");
    let order = client
        .sign(&SignRequest::new(
            END_USER_IP.parse().expect("ip"),
            text.clone(),
        ))
        .await
        .expect("sign");
    assert_eq!(
        client
            .collect(&order.order_ref)
            .await
            .expect("collect")
            .rfa(UserDevice::OtherDevice),
        Some(RfaCode::Rfa1)
    );

    clock.advance(Duration::from_secs(4));
    let scanned = qr_data(&order.qr_start_token, &order.qr_start_secret, 4);
    let erik = TestPerson::with_number(Personnummer::parse("198112289874").expect("valid"));
    let signed = simulator
        .app()
        .sign(&Scan::Qr(scanned), &erik)
        .expect("app signs");
    assert_eq!(signed, order.order_ref);

    let data = client
        .collect(&order.order_ref)
        .await
        .expect("collect")
        .completion_data
        .expect("complete");
    assert_eq!(data.user.personal_number.expose(), "198112289874");
    assert_eq!(data.user.surname, "Provsson");
    let xml = base64::engine::general_purpose::STANDARD
        .decode(&data.signature)
        .expect("base64 signature");
    let xml = String::from_utf8(xml).expect("utf-8 XML");
    assert!(
        xml.contains(text.encoded()),
        "the signed text is in the signature"
    );
    simulator.stop().await;
}

#[tokio::test]
async fn user_cancels_in_the_app() {
    let (simulator, _clock, client) = start().await;
    let order = client.auth(&auth_request()).await.expect("auth");
    simulator
        .app()
        .cancel(
            &Scan::AutoStart(order.auto_start_token),
            &TestPerson::demo(),
        )
        .expect("app cancels");
    let answer = client.collect(&order.order_ref).await.expect("collect");
    assert_eq!(
        (answer.status, answer.hint_code.clone()),
        (Status::Failed, Some(HintCode::UserCancel))
    );
    assert_eq!(answer.rfa(UserDevice::OtherDevice), Some(RfaCode::Rfa6));
    simulator.stop().await;
}

#[tokio::test]
async fn order_nobody_opens_fails_with_start_failed_after_thirty_seconds() {
    let (simulator, clock, client) = start().await;
    let order = client.auth(&auth_request()).await.expect("auth");
    clock.advance(std_duration(START_TIMEOUT) - Duration::from_secs(1));
    assert_eq!(state(&client, &order.order_ref).await.0, Status::Pending);
    clock.advance(Duration::from_secs(1));
    let answer = client.collect(&order.order_ref).await.expect("collect");
    assert_eq!(answer.hint_code, Some(HintCode::StartFailed));
    assert_eq!(answer.rfa(UserDevice::ThisDevice), Some(RfaCode::Rfa17A));
    assert_eq!(answer.rfa(UserDevice::OtherDevice), Some(RfaCode::Rfa17B));

    // Too late for the app as well.
    let late = simulator.app().open(
        &Scan::AutoStart(order.auto_start_token),
        &TestPerson::demo(),
    );
    assert_eq!(
        late.map(|opened| opened.order_ref()),
        Err(AppError::NotPending)
    );
    simulator.stop().await;
}

#[tokio::test]
async fn opened_order_the_user_leaves_fails_with_expired_transaction() {
    let (simulator, clock, client) = start().await;
    let order = client.auth(&auth_request()).await.expect("auth");
    clock.advance(Duration::from_secs(20));
    let opened = simulator
        .app()
        .open(
            &Scan::AutoStart(order.auto_start_token),
            &TestPerson::demo(),
        )
        .expect("opens");
    opened.ask_user().expect("asks");
    // Opening stopped the 30-second start limit.
    clock.advance(std_duration(USER_TIMEOUT) - Duration::from_secs(1));
    assert_eq!(
        state(&client, &order.order_ref).await,
        (Status::Pending, Some(HintCode::UserSign))
    );
    clock.advance(Duration::from_secs(1));
    let answer = client.collect(&order.order_ref).await.expect("collect");
    assert_eq!(
        (answer.status, answer.hint_code.clone()),
        (Status::Failed, Some(HintCode::ExpiredTransaction))
    );
    assert_eq!(answer.rfa(UserDevice::OtherDevice), Some(RfaCode::Rfa8));
    assert_eq!(opened.complete(), Err(AppError::NotPending));
    simulator.stop().await;
}

#[tokio::test]
async fn second_order_for_the_same_person_is_already_in_progress_and_aborts_the_first() {
    let (simulator, _clock, client) = start().await;
    let person = TestPerson::demo();
    let mut requirement = Requirement::default();
    requirement.personal_number = Some(person.personal_number.clone());
    let mut request = auth_request();
    request.requirement = Some(requirement);
    let first = client.auth(&request).await.expect("first auth");

    let error = client
        .auth(&request)
        .await
        .expect_err("second auth refused");
    assert!(
        matches!(
            &error,
            Error::Rp {
                status: 400,
                code: ErrorCode::AlreadyInProgress,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(error.rfa(), RfaCode::Rfa4);
    let first_state = client.collect(&first.order_ref).await.expect("collect");
    assert_eq!(first_state.hint_code, Some(HintCode::Cancelled));
    assert_eq!(first_state.rfa(UserDevice::ThisDevice), Some(RfaCode::Rfa3));

    // Nothing pending any more: a new order for the person goes through, and another
    // person's order never clashes.
    client.auth(&request).await.expect("third auth");
    client
        .auth(&auth_request())
        .await
        .expect("order without a person");
    simulator.stop().await;
}

#[tokio::test]
async fn client_refuses_a_server_certificate_from_another_ca() {
    let (simulator, _clock, _client) = start().await;
    let other = Simulator::start(loopback())
        .await
        .expect("second simulator");
    let config = ClientConfig::new(
        simulator.base_url().clone(),
        simulator.rp_identity().expect("identity"),
        other.server_ca(),
    );
    let client = RpClient::new(config).expect("client builds");
    let error = client.auth(&auth_request()).await.expect_err("refused");
    assert!(
        matches!(error, Error::Tls(rustls::Error::InvalidCertificate(_))),
        "{error:?}"
    );
    assert_eq!(error.rfa(), RfaCode::Rfa5);
    other.stop().await;
    simulator.stop().await;
}

#[tokio::test]
async fn server_refuses_a_client_certificate_from_another_rp_ca() {
    let (simulator, _clock, _client) = start().await;
    let other = Simulator::start(loopback())
        .await
        .expect("second simulator");
    let config = ClientConfig::new(
        simulator.base_url().clone(),
        other.rp_identity().expect("foreign identity"),
        simulator.server_ca(),
    );
    let client = RpClient::new(config).expect("client builds");
    let error = client.auth(&auth_request()).await.expect_err("refused");
    assert!(
        matches!(error, Error::Tls(rustls::Error::AlertReceived(_))),
        "{error:?}"
    );
    other.stop().await;
    simulator.stop().await;
}

#[tokio::test]
async fn server_refuses_a_client_without_a_certificate() {
    let (simulator, _clock, _client) = start().await;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(simulator.server_ca_der().to_vec().into())
        .expect("CA added");
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let http = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .build()
        .expect("client builds");
    let url = simulator.base_url().join("auth").expect("url");
    let error = http
        .post(url)
        .json(&auth_request())
        .send()
        .await
        .expect_err("no answer without a client certificate");
    assert_eq!(
        rustls_cause(&error),
        Some(rustls::Error::AlertReceived(
            rustls::AlertDescription::CertificateRequired
        )),
        "{error:?}"
    );
    simulator.stop().await;
}

#[tokio::test]
async fn pkcs12_identity_from_the_simulator_works() {
    let (simulator, _clock, _client) = start().await;
    let identity =
        RpIdentity::from_pkcs12(simulator.rp_pkcs12(), RP_PKCS12_PASSWORD).expect("PKCS#12 opens");
    assert_eq!(identity.certificate_chain().len(), 2, "leaf and RP CA");
    let server_ca = ServerCa::from_pem(simulator.server_ca_pem().as_bytes()).expect("PEM CA");
    let client = RpClient::new(ClientConfig::new(
        simulator.base_url().clone(),
        identity,
        server_ca,
    ))
    .expect("client builds");
    client
        .auth(&auth_request())
        .await
        .expect("auth over PKCS#12 identity");
    simulator.stop().await;
}

#[tokio::test]
async fn test_app_refuses_a_stale_or_forged_qr_code() {
    let (simulator, clock, client) = start().await;
    let order = client.auth(&auth_request()).await.expect("auth");
    let person = TestPerson::demo();
    let first_code = qr_data(&order.qr_start_token, &order.qr_start_secret, 0);
    clock.advance(Duration::from_secs(10));

    let stale = simulator.app().sign(&Scan::Qr(first_code), &person);
    assert_eq!(stale, Err(AppError::StaleQr));
    let forged = qr_data(
        &order.qr_start_token,
        &legitimera_bankid::QrStartSecret::new("guessed"),
        10,
    );
    assert_eq!(
        simulator.app().sign(&Scan::Qr(forged), &person),
        Err(AppError::InvalidQrCode)
    );
    assert_eq!(
        simulator
            .app()
            .sign(&Scan::Qr("https://example.se".into()), &person),
        Err(AppError::UnreadableQr)
    );
    assert_eq!(state(&client, &order.order_ref).await.0, Status::Pending);

    let current = qr_data(&order.qr_start_token, &order.qr_start_secret, 10);
    simulator
        .app()
        .sign(&Scan::Qr(current), &person)
        .expect("the current code works");
    assert_eq!(state(&client, &order.order_ref).await.0, Status::Complete);
    simulator.stop().await;
}

#[tokio::test]
async fn cancel_twice_is_invalid_parameters_and_the_order_is_gone() {
    let (simulator, _clock, client) = start().await;
    let order = client.auth(&auth_request()).await.expect("auth");
    client.cancel(&order.order_ref).await.expect("first cancel");
    assert_no_such_order(client.cancel(&order.order_ref).await);
    assert_no_such_order(client.collect(&order.order_ref).await);
    assert_eq!(
        simulator
            .app()
            .open(
                &Scan::AutoStart(order.auto_start_token),
                &TestPerson::demo()
            )
            .map(|opened| opened.order_ref()),
        Err(AppError::NoSuchOrder)
    );
    assert_no_such_order(client.collect(&OrderRef::random()).await);
    simulator.stop().await;
}

#[tokio::test]
async fn completed_order_is_collectable_for_three_minutes_then_gone() {
    let (simulator, clock, client) = start().await;
    let order = client.auth(&auth_request()).await.expect("auth");
    simulator
        .app()
        .sign(
            &Scan::AutoStart(order.auto_start_token),
            &TestPerson::demo(),
        )
        .expect("signs");
    clock.advance(std_duration(COMPLETE_RETENTION) - Duration::from_secs(1));
    assert_eq!(state(&client, &order.order_ref).await.0, Status::Complete);
    clock.advance(Duration::from_secs(1));
    assert_no_such_order(client.collect(&order.order_ref).await);
    simulator.stop().await;
}

#[tokio::test]
async fn failed_order_is_collectable_for_five_minutes_then_gone() {
    let (simulator, clock, client) = start().await;
    let order = client.auth(&auth_request()).await.expect("auth");
    clock.advance(std_duration(START_TIMEOUT));
    assert_eq!(state(&client, &order.order_ref).await.0, Status::Failed);
    clock.advance(std_duration(FAILED_RETENTION) - Duration::from_secs(1));
    assert_eq!(
        state(&client, &order.order_ref).await,
        (Status::Failed, Some(HintCode::StartFailed))
    );
    clock.advance(Duration::from_secs(1));
    assert_no_such_order(client.collect(&order.order_ref).await);
    simulator.stop().await;
}

#[tokio::test]
async fn generated_certificates_are_valid_for_at_least_fourteen_days() {
    // Bundled test certificates expire silently; these are generated at start, and this test
    // fails if they would not last a fortnight.
    let (simulator, _clock, _client) = start().await;
    let certificates = simulator.certificates_der();
    assert_eq!(certificates.len(), 4);
    let now = time::OffsetDateTime::now_utc();
    for der in certificates {
        let (_, cert) = x509_parser::parse_x509_certificate(der).expect("DER certificate");
        let validity = cert.validity();
        let not_before = validity.not_before.to_datetime();
        let not_after = validity.not_after.to_datetime();
        assert!(not_before <= now, "{} not yet valid", cert.subject());
        assert!(
            not_after >= now + time::Duration::days(14),
            "{} expires {not_after}",
            cert.subject()
        );
    }
    simulator.stop().await;
}

#[tokio::test]
async fn rp_api_answers_bad_requests_as_bankid_does() {
    let (simulator, _clock, _client) = start().await;
    let identity = reqwest_identity(&simulator);
    let base = simulator.base_url().clone();

    let not_json = identity
        .post(base.join("auth").expect("url"))
        .body("endUserIp=192.0.2.10")
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .expect("answer");
    assert_eq!(not_json.status(), 415);
    assert_eq!(error_code(not_json).await, "unsupportedMediaType");

    let bad_number = identity
        .post(base.join("auth").expect("url"))
        .json(&serde_json::json!({
            "endUserIp": END_USER_IP,
            "requirement": {"personalNumber": "199001012384"}
        }))
        .send()
        .await
        .expect("answer");
    assert_eq!(bad_number.status(), 400);
    assert_eq!(error_code(bad_number).await, "invalidParameters");

    let no_ip = identity
        .post(base.join("auth").expect("url"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("answer");
    assert_eq!(error_code(no_ip).await, "invalidParameters");

    let unknown = identity
        .post(base.join("nothing").expect("url"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("answer");
    assert_eq!(unknown.status(), 404);
    assert_eq!(error_code(unknown).await, "notFound");

    let get = identity
        .get(base.join("collect").expect("url"))
        .send()
        .await
        .expect("answer");
    assert_eq!(get.status(), 405);
    assert_eq!(error_code(get).await, "methodNotAllowed");
    simulator.stop().await;
}

#[tokio::test]
async fn test_app_http_control_signs_and_refuses_stale_codes() {
    let (simulator, clock, client) = start().await;
    let http = reqwest_identity(&simulator);
    let control = simulator
        .base_url()
        .join("/test-app/sign")
        .expect("control url");

    let order = client.auth(&auth_request()).await.expect("auth");
    let signed = http
        .post(control.clone())
        .json(&serde_json::json!({
            "autostarttoken": order.auto_start_token.to_string(),
            "personal_number": "200001010107"
        }))
        .send()
        .await
        .expect("answer");
    assert_eq!(signed.status(), 200);
    let body: serde_json::Value = signed.json().await.expect("json");
    assert_eq!(body["order_ref"], order.order_ref.to_string());
    let data = client
        .collect(&order.order_ref)
        .await
        .expect("collect")
        .completion_data
        .expect("complete");
    assert_eq!(data.user.given_name, "Tess");

    let OrderResponse {
        qr_start_token,
        qr_start_secret,
        order_ref,
        ..
    } = client.auth(&auth_request()).await.expect("auth");
    let old_code = qr_data(&qr_start_token, &qr_start_secret, 0);
    clock.advance(Duration::from_secs(30 - 1));
    let stale = http
        .post(control.clone())
        .json(&serde_json::json!({"qr": old_code}))
        .send()
        .await
        .expect("answer");
    assert_eq!(stale.status(), 409);
    let body: serde_json::Value = stale.json().await.expect("json");
    assert_eq!(body["code"], "stale_qr");

    let cancel = simulator
        .base_url()
        .join("/test-app/cancel")
        .expect("control url");
    let current = qr_data(&qr_start_token, &qr_start_secret, 29);
    let cancelled = http
        .post(cancel)
        .json(&serde_json::json!({"qr": current}))
        .send()
        .await
        .expect("answer");
    assert_eq!(cancelled.status(), 200);
    assert_eq!(
        state(&client, &order_ref).await,
        (Status::Failed, Some(HintCode::UserCancel))
    );

    let both = http
        .post(control.clone())
        .json(&serde_json::json!({"qr": "x", "autostarttoken": "y"}))
        .send()
        .await
        .expect("answer");
    assert_eq!(both.status(), 400);

    let not_json = http
        .post(control)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("answer");
    assert_eq!(not_json.status(), 400);
    let body: serde_json::Value = not_json.json().await.expect("an error body, also here");
    assert_eq!(body["code"], "invalid_request");
    simulator.stop().await;
}

/// A plain reqwest client with the simulator's RP identity, for raw HTTP checks.
fn reqwest_identity(simulator: &Simulator) -> reqwest::Client {
    let identity = simulator.rp_identity().expect("identity");
    let tls = legitimera_bankid::client_tls_config(&identity, &simulator.server_ca())
        .expect("tls config");
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .build()
        .expect("client builds")
}

async fn error_code(response: reqwest::Response) -> String {
    let body: serde_json::Value = response.json().await.expect("BankID error body is JSON");
    body["errorCode"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn collect_requests_are_counted_even_when_refused() {
    let (simulator, _clock, client) = start().await;
    assert_eq!(simulator.collect_calls(), 0);
    let order = client.auth(&auth_request()).await.expect("auth");
    state(&client, &order.order_ref).await;
    assert_no_such_order(client.collect(&OrderRef::random()).await);
    assert_eq!(simulator.collect_calls(), 2);
    client.cancel(&order.order_ref).await.expect("cancel");
    assert_eq!(simulator.collect_calls(), 2, "cancel is not a collect");
}

#[tokio::test]
async fn a_requested_refusal_answers_the_next_order_only() {
    let (simulator, _clock, client) = start().await;
    simulator.refuse_next_order(ErrorCode::AlreadyInProgress);
    match client.auth(&auth_request()).await {
        Err(Error::Rp {
            status: 400,
            code: ErrorCode::AlreadyInProgress,
            ..
        }) => {}
        other => panic!("expected 400 alreadyInProgress, got {other:?}"),
    }
    simulator.refuse_next_order(ErrorCode::Maintenance);
    match client.auth(&auth_request()).await {
        Err(error @ Error::Rp { status: 503, .. }) => assert!(error.may_retry_quietly()),
        other => panic!("expected 503 maintenance, got {other:?}"),
    }
    assert!(client.auth(&auth_request()).await.is_ok());
}
