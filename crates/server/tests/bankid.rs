//! BankID login end to end: the real server over HTTP, configured through `[bankid]` with PEM
//! files, talking mutual TLS to the BankID simulator, both on one ManualClock so 30-second and
//! 3-minute limits take no wall time. The test BankID app plays the user. The server's 2 s
//! collect interval is real time, so waits here are real too (a few seconds per test).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use legitimera_bankid::simulator::{
    AppError, Scan, Simulator, TestPerson, QR_MAX_AGE, USER_TIMEOUT,
};
use legitimera_bankid::{Error as RpError, ErrorCode, OrderRef, Personnummer};
use legitimera_server::clock::ManualClock;
use legitimera_server::config::{BankIdFile, Config, FileConfig};
use serde_json::{json, Value};
use support::{demo_overrides, Answer, TestServer};

/// The simulator's demo person, seeded with cases in demo mode.
const AMIRA: &str = "199001012385";

struct Setup {
    server: TestServer,
    sim: Simulator,
    _pem_dir: tempfile::TempDir,
}

/// A demo-seeded server whose `[bankid]` points at a simulator this test holds.
async fn start() -> Setup {
    start_with(None).await
}

async fn start_with(trusted_proxy_header: Option<&str>) -> Setup {
    let clock = Arc::new(ManualClock::new());
    let sim = Simulator::start_with_clock(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        // The test's ManualClock: one time for BankID and the server.
        clock.clone(),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let file = FileConfig {
        bankid: BankIdFile {
            url: Some(sim.base_url().clone()),
            client_cert: Some(write("rp.pem", sim.rp_cert_pem())),
            client_key: Some(write("rp.key", sim.rp_key_pem())),
            server_ca: Some(write("bankid-ca.pem", sim.server_ca_pem())),
            ..Default::default()
        },
        trusted_proxy_header: trusted_proxy_header.map(str::to_owned),
        ..Default::default()
    };
    let config = Config::resolve(file, demo_overrides()).unwrap();
    let server = TestServer::with_config_and_clock(config, clock).await;
    Setup {
        server,
        sim,
        _pem_dir: dir,
    }
}

impl Setup {
    async fn order(&self, mode: &str) -> Answer {
        self.server
            .post("bankid/orders", json!({"mode": mode}))
            .await
    }

    async fn started(&self, mode: &str) -> Value {
        let answer = self.order(mode).await;
        assert_eq!(answer.status, 201, "{:?}", answer.body);
        answer.body
    }

    async fn get(&self, id: &str) -> Answer {
        self.server.get(&format!("bankid/orders/{id}")).await
    }

    /// Long-polls until `done` holds for the order, 15 s at most.
    async fn wait_until(&self, id: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut body = self.get(id).await.body;
        while !done(&body) {
            assert!(Instant::now() < deadline, "order never got there: {body:?}");
            let version = body["version"].as_u64().unwrap();
            body = self
                .server
                .get(&format!("bankid/orders/{id}?wait=5&since={version}"))
                .await
                .body;
        }
        body
    }

    async fn wait_for_status(&self, id: &str, status: &str) -> Value {
        self.wait_until(id, |body| body["status"] == status).await
    }

    fn advance(&self, by: Duration) {
        self.server.clock.advance(by);
    }
}

fn id_of(order: &Value) -> String {
    order["id"].as_str().unwrap().to_owned()
}

fn autostart(order: &Value) -> Scan {
    Scan::AutoStart(order["autostarttoken"].as_str().unwrap().parse().unwrap())
}

fn qr_of(order: &Value) -> String {
    order["qr"]
        .as_str()
        .expect("a pending other-device order has qr")
        .to_owned()
}

fn person(number: &str) -> TestPerson {
    TestPerson::with_number(Personnummer::parse(number).unwrap())
}

fn std(duration: time::Duration) -> Duration {
    Duration::try_from(duration).unwrap()
}

/// What "Min sida" shows the session: assurance and whether case events are there.
async fn assert_high_assurance_with_case_details(server: &TestServer, token: &str) {
    let session = server.get_auth("session", token).await;
    assert_eq!(session.status, 200, "{:?}", session.body);
    assert_eq!(session.body["assurance"], "high");
    assert_eq!(session.body["name"], "Amira Demosson");
    assert_eq!(session.body["personal_number"], "19900101-****");
    assert!(session.body.get("email").is_none(), "{:?}", session.body);
    let cases = server.get_auth("cases?lang=en", token).await;
    assert_eq!(cases.status, 200);
    assert_eq!(cases.body["assurance"], "high");
    assert_eq!(cases.body["details_hidden"], false);
    let list = cases.body["cases"].as_array().unwrap();
    assert!(!list.is_empty(), "the demo person has cases");
    assert!(list.iter().any(|case| case["events"]
        .as_array()
        .is_some_and(|events| !events.is_empty())));
    for body in [&session.body, &cases.body] {
        assert!(!body.to_string().contains("01012385"), "{body}");
    }
}

#[tokio::test]
async fn other_device_login_with_the_qr_code_from_get_gives_a_high_assurance_session() {
    let t = start().await;
    let order = t.started("other_device").await;
    assert_eq!(order["mode"], "other_device");
    assert_eq!(order["status"], "pending");
    assert_eq!(order["hint"], "outstandingTransaction");
    assert_eq!(order["message"], "RFA1");
    assert!(order.get("autostarttoken").is_none());
    assert!(qr_of(&order).starts_with("bankid."));
    let id = id_of(&order);

    t.advance(Duration::from_secs(2));
    let now = t.get(&id).await.body;
    t.sim
        .app()
        .sign(&Scan::Qr(qr_of(&now)), &TestPerson::demo())
        .unwrap();
    let done = t.wait_for_status(&id, "complete").await;
    let token = done["token"].as_str().expect("the token, once").to_owned();
    assert_eq!(
        done["user"],
        json!({"name": "Amira Demosson", "personal_number": "19900101-****"})
    );
    for gone in ["hint", "message", "qr", "autostarttoken"] {
        assert!(done.get(gone).is_none(), "{gone} in {done}");
    }
    assert!(!done.to_string().contains(AMIRA));

    let again = t.get(&id).await.body;
    assert_eq!(again["status"], "complete");
    assert!(again.get("token").is_none(), "the token is handed out once");
    assert_eq!(again["user"]["name"], "Amira Demosson");
    assert_high_assurance_with_case_details(&t.server, &token).await;
}

#[tokio::test]
async fn this_device_login_with_the_autostart_token_shows_each_step() {
    let t = start().await;
    let order = t.started("this_device").await;
    assert_eq!(order["message"], "RFA13");
    assert!(order.get("qr").is_none());
    let id = id_of(&order);
    let opened = t
        .sim
        .app()
        .open(&autostart(&order), &TestPerson::demo())
        .unwrap();
    let started = t.wait_until(&id, |body| body["hint"] == "started").await;
    assert_eq!(started["message"], "RFA15A");
    assert!(started["version"].as_u64().unwrap() > order["version"].as_u64().unwrap());
    opened.ask_user().unwrap();
    let signing = t.wait_until(&id, |body| body["hint"] == "userSign").await;
    assert_eq!(signing["message"], "RFA9");
    opened.complete().unwrap();
    let done = t.wait_for_status(&id, "complete").await;
    assert_high_assurance_with_case_details(&t.server, done["token"].as_str().unwrap()).await;
}

#[tokio::test]
async fn a_person_without_cases_gets_a_session_of_their_own() {
    let t = start().await;
    let order = t.started("this_device").await;
    t.sim
        .app()
        .sign(&autostart(&order), &person("200001010107"))
        .unwrap();
    let done = t.wait_for_status(&id_of(&order), "complete").await;
    assert_eq!(done["user"]["personal_number"], "20000101-****");
    let token = done["token"].as_str().unwrap();
    let cases = t.server.get_auth("cases", token).await;
    assert_eq!(cases.body["cases"], json!([]));
    let session = t.server.get_auth("session", token).await;
    assert_eq!(session.body["name"], "Tess Testsson");
}

#[tokio::test]
async fn user_cancel_in_the_app_fails_the_order_with_rfa6() {
    let t = start().await;
    let order = t.started("this_device").await;
    t.sim
        .app()
        .cancel(&autostart(&order), &TestPerson::demo())
        .unwrap();
    let failed = t.wait_for_status(&id_of(&order), "failed").await;
    assert_eq!(failed["hint"], "userCancel");
    assert_eq!(failed["message"], "RFA6");
    assert!(failed.get("token").is_none() && failed.get("user").is_none());
}

#[tokio::test]
async fn nobody_opening_the_order_in_30_seconds_is_start_failed_per_flow() {
    let t = start().await;
    let this_device = t.started("this_device").await;
    let other_device = t.started("other_device").await;
    t.advance(Duration::from_secs(31));
    let failed = t.wait_for_status(&id_of(&this_device), "failed").await;
    assert_eq!(failed["hint"], "startFailed");
    assert_eq!(failed["message"], "RFA17A");
    let failed = t.wait_for_status(&id_of(&other_device), "failed").await;
    assert_eq!(failed["hint"], "startFailed");
    assert_eq!(failed["message"], "RFA17B");
    assert!(
        failed.get("qr").is_none(),
        "no QR code once the order ended"
    );
}

#[tokio::test]
async fn an_opened_order_the_user_leaves_expires_with_rfa8() {
    let t = start().await;
    let order = t.started("this_device").await;
    let id = id_of(&order);
    t.sim
        .app()
        .open(&autostart(&order), &TestPerson::demo())
        .unwrap();
    t.wait_until(&id, |body| body["hint"] == "started").await;
    t.advance(std(USER_TIMEOUT) + Duration::from_secs(1));
    let failed = t.wait_for_status(&id, "failed").await;
    assert_eq!(failed["hint"], "expiredTransaction");
    assert_eq!(failed["message"], "RFA8");
}

#[tokio::test]
async fn bankid_refusing_the_order_is_409_already_in_progress_or_503_unavailable() {
    let t = start().await;
    t.sim.refuse_next_order(ErrorCode::AlreadyInProgress);
    let refused = t.order("this_device").await;
    assert_eq!(refused.status, 409);
    assert_eq!(refused.code(), "bankid_already_in_progress");
    assert_eq!(refused.body["rfa"], "RFA4");
    t.sim.refuse_next_order(ErrorCode::Maintenance);
    let refused = t.order("other_device").await;
    assert_eq!(refused.status, 503);
    assert_eq!(refused.code(), "bankid_unavailable");
    assert_eq!(refused.body["rfa"], "RFA5");
    assert_eq!(t.order("other_device").await.status, 201);
}

#[tokio::test]
async fn a_second_order_opened_by_the_same_person_cancels_the_first_with_rfa3() {
    let t = start().await;
    let first = t.started("this_device").await;
    let second = t.started("this_device").await;
    t.sim
        .app()
        .open(&autostart(&first), &TestPerson::demo())
        .unwrap();
    t.wait_until(&id_of(&first), |body| body["hint"] == "started")
        .await;
    t.sim
        .app()
        .open(&autostart(&second), &TestPerson::demo())
        .unwrap();
    let failed = t.wait_for_status(&id_of(&first), "failed").await;
    assert_eq!(failed["hint"], "cancelled");
    assert_eq!(failed["message"], "RFA3");
    let second = t.get(&id_of(&second)).await.body;
    assert_eq!(second["status"], "pending");
}

#[tokio::test]
async fn collect_runs_every_two_seconds_whatever_the_app_asks_and_stops_at_the_end() {
    let t = start().await;
    let order = t.started("this_device").await;
    let id = id_of(&order);
    // The app asks often; BankID is still asked every 2 s only.
    let asked = Instant::now();
    for _ in 0..25 {
        t.get(&id).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let elapsed = asked.elapsed().as_secs_f64();
    let collects = t.sim.collect_calls();
    assert!(
        collects >= 1 && (collects as f64) <= elapsed / 2.0 + 1.0,
        "{collects} collects in {elapsed:.1} s"
    );

    t.sim
        .app()
        .cancel(&autostart(&order), &TestPerson::demo())
        .unwrap();
    t.wait_for_status(&id, "failed").await;
    let at_end = t.sim.collect_calls();
    tokio::time::sleep(Duration::from_millis(5_500)).await;
    t.get(&id).await;
    assert_eq!(
        t.sim.collect_calls(),
        at_end,
        "a collect after the order ended"
    );
}

#[tokio::test]
async fn delete_cancels_at_bankid_and_polling_stops() {
    let t = start().await;
    let order = t.started("this_device").await;
    let id = id_of(&order);
    let opened = t
        .sim
        .app()
        .open(&autostart(&order), &TestPerson::demo())
        .unwrap();
    let order_ref: OrderRef = opened.order_ref();

    let deleted = t.server.delete(&format!("bankid/orders/{id}")).await;
    assert_eq!(deleted.status, 204);
    let collects = t.sim.collect_calls();
    // BankID no longer has the order: the test app cannot go on with it and the RP API
    // answers invalidParameters, as for any cancelled order.
    assert_eq!(opened.ask_user(), Err(AppError::NoSuchOrder));
    let rp = t.sim.client().unwrap();
    assert!(matches!(
        rp.collect(&order_ref).await,
        Err(RpError::Rp {
            code: ErrorCode::InvalidParameters,
            ..
        })
    ));
    assert!(matches!(
        rp.cancel(&order_ref).await,
        Err(RpError::Rp {
            code: ErrorCode::InvalidParameters,
            ..
        })
    ));
    assert_eq!(t.get(&id).await.status, 404);
    assert_eq!(
        t.server.delete(&format!("bankid/orders/{id}")).await.status,
        404
    );
    tokio::time::sleep(Duration::from_millis(4_500)).await;
    // Only the test's own collect above: the server asked nothing more.
    assert_eq!(t.sim.collect_calls(), collects + 1);
}

#[tokio::test]
async fn the_qr_code_changes_every_second_and_each_second_has_its_own() {
    let t = start().await;
    let order = t.started("other_device").await;
    let id = id_of(&order);
    let mut seen = HashSet::new();
    let mut by_second = Vec::new();
    for second in 0..6u64 {
        // Two looks within the same second give the same code.
        let first = qr_of(&t.get(&id).await.body);
        let second_look = qr_of(&t.get(&id).await.body);
        assert_eq!(first, second_look);
        let parts: Vec<&str> = first.split('.').collect();
        assert_eq!(parts.len(), 4, "{first}");
        assert_eq!(parts[2], second.to_string(), "time field of {first}");
        assert!(seen.insert(parts[3].to_owned()), "code repeated: {first}");
        by_second.push(first);
        t.advance(Duration::from_secs(1));
    }
    // Codes are real: BankID's app accepts the current one and refuses an old one.
    t.advance(std(QR_MAX_AGE));
    assert_eq!(
        t.sim
            .app()
            .open(&Scan::Qr(by_second[0].clone()), &TestPerson::demo())
            .err(),
        Some(AppError::StaleQr)
    );
    let now = qr_of(&t.get(&id).await.body);
    t.sim
        .app()
        .sign(&Scan::Qr(now), &TestPerson::demo())
        .unwrap();
    t.wait_for_status(&id, "complete").await;
}

#[tokio::test]
async fn long_poll_answers_on_a_change_and_otherwise_at_the_deadline() {
    let t = start().await;
    let order = t.started("this_device").await;
    let id = id_of(&order);
    let version = order["version"].as_u64().unwrap();

    let waited = Instant::now();
    let same = t
        .server
        .get(&format!("bankid/orders/{id}?wait=1&since={version}"))
        .await;
    assert!(waited.elapsed() >= Duration::from_millis(950));
    assert_eq!(same.body["version"], version);

    // An out-of-date `since` answers at once.
    let waited = Instant::now();
    t.server
        .get(&format!("bankid/orders/{id}?wait=20&since={}", version + 7))
        .await;
    assert!(waited.elapsed() < Duration::from_millis(500));

    let poll = {
        let url = format!("bankid/orders/{id}?wait=20&since={version}");
        let server = &t.server;
        async move {
            let started = Instant::now();
            (server.get(&url).await, started.elapsed())
        }
    };
    let sign = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        t.sim
            .app()
            .sign(&autostart(&order), &TestPerson::demo())
            .unwrap();
    };
    let ((answer, took), ()) = tokio::join!(poll, sign);
    assert_ne!(answer.body["version"], version);
    assert!(took < Duration::from_secs(4), "answered after {took:?}");

    // An other-device order answers by the next QR second at the latest.
    let other = t.started("other_device").await;
    let waited = Instant::now();
    let answer = t
        .server
        .get(&format!(
            "bankid/orders/{}?wait=20&since={}",
            id_of(&other),
            other["version"]
        ))
        .await;
    assert!(waited.elapsed() <= Duration::from_millis(1_500));
    assert!(answer.body["qr"].is_string());
}

#[tokio::test]
async fn the_token_goes_to_exactly_one_of_many_concurrent_pollers() {
    let t = start().await;
    let order = t.started("this_device").await;
    let id = id_of(&order);
    let url = format!(
        "{}/api/v1/bankid/orders/{id}?wait=10&since={}",
        t.server.running.url(),
        order["version"]
    );
    let polls: Vec<_> = (0..6)
        .map(|_| {
            let (client, url) = (t.server.client.clone(), url.clone());
            tokio::spawn(async move {
                let response = client.get(url).send().await.unwrap();
                response.json::<Value>().await.unwrap()
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    t.sim
        .app()
        .sign(&autostart(&order), &TestPerson::demo())
        .unwrap();
    let mut answers = Vec::new();
    for poll in polls {
        answers.push(poll.await.unwrap());
    }
    answers.push(t.wait_for_status(&id, "complete").await);
    answers.push(t.get(&id).await.body);
    assert!(
        answers.iter().all(|answer| answer["status"] == "complete"),
        "{answers:?}"
    );
    let tokens = answers
        .iter()
        .filter(|answer| answer.get("token").is_some())
        .count();
    assert_eq!(tokens, 1, "{answers:?}");
}

#[tokio::test]
async fn no_answer_carries_the_qr_start_secret_or_another_bankid_id() {
    let t = start().await;
    let mut bodies = Vec::new();
    for mode in ["this_device", "other_device"] {
        let order = t.started(mode).await;
        let id = id_of(&order);
        bodies.push(order.clone());
        t.advance(Duration::from_secs(1));
        let current = t.get(&id).await.body;
        bodies.push(current.clone());
        let scan = if mode == "this_device" {
            autostart(&order)
        } else {
            Scan::Qr(qr_of(&current))
        };
        t.sim.app().sign(&scan, &TestPerson::demo()).unwrap();
        bodies.push(t.wait_for_status(&id, "complete").await);
    }
    // The only UUIDs an answer may hold are the autostart token and, inside the QR data,
    // the qrStartToken; qrStartSecret and orderRef (UUIDs too) must never appear.
    let mut allowed = HashSet::new();
    for body in &bodies {
        if let Some(token) = body["autostarttoken"].as_str() {
            allowed.insert(token.to_owned());
        }
        if let Some(qr) = body["qr"].as_str() {
            allowed.insert(qr.split('.').nth(1).unwrap().to_owned());
        }
    }
    let every_uuid: Vec<String> = bodies
        .iter()
        .flat_map(|b| uuids_in(&b.to_string()))
        .collect();
    assert!(
        every_uuid.len() >= 4 && allowed.iter().all(|id| every_uuid.contains(id)),
        "the scan finds the ids that are there: {every_uuid:?}"
    );
    for body in &bodies {
        let text = body.to_string();
        for uuid in uuids_in(&text) {
            assert!(
                allowed.contains(&uuid),
                "unexpected BankID id {uuid} in {text}"
            );
        }
        let lowercase = text.to_lowercase();
        assert!(!lowercase.contains("secret") && !lowercase.contains("orderref"));
        assert!(!text.contains(AMIRA));
    }
}

#[tokio::test]
async fn one_address_may_start_60_orders_in_15_minutes() {
    let t = start().await;
    for _ in 0..60 {
        assert_eq!(t.order("this_device").await.status, 201);
    }
    let refused = t.order("this_device").await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.code(), "rate_limited");
    t.advance(Duration::from_secs(15 * 60));
    assert_eq!(t.order("other_device").await.status, 201);
}

/// Starts an order with `X-Forwarded-For`, completes it in the test app and asks BankID (as
/// the RP may for 3 minutes) which end-user IP the server sent.
async fn end_user_ip_sent(t: &Setup) -> String {
    let request = t
        .server
        .client
        .post(format!("{}/api/v1/bankid/orders", t.server.running.url()))
        .header("X-Forwarded-For", "203.0.113.9, 198.51.100.7")
        .json(&json!({"mode": "this_device"}));
    let order = t.server.send(request).await.body;
    let opened = t
        .sim
        .app()
        .open(&autostart(&order), &TestPerson::demo())
        .unwrap();
    let order_ref = opened.order_ref();
    opened.ask_user().unwrap();
    opened.complete().unwrap();
    let answer = t.sim.client().unwrap().collect(&order_ref).await.unwrap();
    answer.completion_data.unwrap().device.ip_address
}

#[tokio::test]
async fn the_end_user_ip_is_the_peer_or_the_rightmost_address_of_a_trusted_proxy_header() {
    let untrusting = start().await;
    assert_eq!(end_user_ip_sent(&untrusting).await, "127.0.0.1");
    let behind_proxy = start_with(Some("X-Forwarded-For")).await;
    assert_eq!(end_user_ip_sent(&behind_proxy).await, "198.51.100.7");
}

#[tokio::test]
async fn unknown_orders_are_404() {
    let t = start().await;
    assert_eq!(t.get("no-such-order").await.status, 404);
    assert_eq!(
        t.server.delete("bankid/orders/no-such-order").await.status,
        404
    );
    let bad = t
        .server
        .post("bankid/orders", json!({"mode": "phone"}))
        .await;
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn without_bankid_configured_orders_are_503_and_the_demo_app_is_not_mounted() {
    let dir = tempfile::tempdir().unwrap();
    let file = FileConfig::parse(&format!(
        "listen = \"127.0.0.1:0\"\n\
         database_url = \"sqlite://{}/db.sqlite\"\n\
         [smtp]\nhost = \"127.0.0.1\"\nfrom = \"test@example.se\"\nsecurity = \"none\"\n\
         [sms]\nurl = \"http://127.0.0.1:9/\"\nfrom = \"Test\"\n",
        dir.path().display()
    ))
    .unwrap();
    let config = Config::resolve(file, Default::default()).unwrap();
    let server = TestServer::with_config(config).await;
    let answer = server
        .post("bankid/orders", json!({"mode": "other_device"}))
        .await;
    assert_eq!(answer.status, 503);
    assert_eq!(answer.code(), "bankid_unavailable");
    let demo = server
        .post("/demo/bankid/sign", json!({"autostarttoken": "x"}))
        .await;
    assert_eq!(demo.status, 404);
}

#[tokio::test]
async fn demo_mode_runs_the_simulator_and_its_test_app_over_http() {
    let server = TestServer::demo().await;
    let order = server
        .post("bankid/orders", json!({"mode": "other_device"}))
        .await;
    assert_eq!(order.status, 201);
    let id = order.body["id"].as_str().unwrap().to_owned();
    let current = server.get(&format!("bankid/orders/{id}")).await.body;
    let signed = server
        .post("/demo/bankid/sign", json!({"qr": current["qr"]}))
        .await;
    assert_eq!(signed.status, 200, "{:?}", signed.body);

    let deadline = Instant::now() + Duration::from_secs(10);
    let done = loop {
        let body = server
            .get(&format!(
                "bankid/orders/{id}?wait=5&since={}",
                current["version"]
            ))
            .await
            .body;
        if body["status"] == "complete" {
            break body;
        }
        assert!(Instant::now() < deadline, "{body:?}");
    };
    assert_high_assurance_with_case_details(&server, done["token"].as_str().unwrap()).await;

    let order = server
        .post("bankid/orders", json!({"mode": "this_device"}))
        .await;
    let cancelled = server
        .post(
            "/demo/bankid/cancel",
            json!({"autostarttoken": order.body["autostarttoken"], "personal_number": "198112289874"}),
        )
        .await;
    assert_eq!(cancelled.status, 200, "{:?}", cancelled.body);
    let stale = server
        .post("/demo/bankid/sign", json!({"qr": current["qr"]}))
        .await;
    assert_ne!(stale.status, 200, "an ended order's QR code is refused");
}

/// Every UUID-shaped run (8-4-4-4-12 hex) in `text`.
fn uuids_in(text: &str) -> Vec<String> {
    let bytes = text.as_bytes();
    let shape = [8, 4, 4, 4, 12];
    let mut found = Vec::new();
    let mut start = 0;
    while start + 36 <= bytes.len() {
        let mut at = start;
        let ok = shape.iter().enumerate().all(|(index, len)| {
            let run = bytes[at..at + len].iter().all(u8::is_ascii_hexdigit);
            at += len;
            let dash = index == 4 || bytes.get(at) == Some(&b'-');
            at += usize::from(index < 4);
            run && dash
        });
        if ok {
            found.push(text[start..start + 36].to_owned());
            start += 36;
        } else {
            start += 1;
        }
    }
    found
}

#[tokio::test]
async fn a_completed_order_nobody_collects_is_ended_after_60_seconds() {
    let t = start().await;
    let order = t.started("this_device").await;
    let id = id_of(&order);
    t.sim
        .app()
        .sign(&autostart(&order), &TestPerson::demo())
        .unwrap();
    // The server collects (every 2 s) and records the completion; nobody asks for it.
    tokio::time::sleep(Duration::from_millis(4_500)).await;
    t.advance(Duration::from_secs(61));
    let late = t.get(&id).await.body;
    assert_eq!(late["status"], "failed", "{late:?}");
    assert_eq!(late["message"], "RFA5");
    assert!(late.get("token").is_none_or(Value::is_null), "{late:?}");
}

/// A relayed login: the autostart link of "BankID on this computer" taken to someone else's
/// BankID app, which BankID then reports at another address than the `endUserIp` sent.
#[tokio::test]
async fn this_device_completed_from_another_address_is_refused_with_its_own_code() {
    let t = start().await;
    let order = t.started("this_device").await;
    let id = id_of(&order);
    t.sim
        .app()
        .sign_from(
            &autostart(&order),
            &TestPerson::demo(),
            "203.0.113.44".parse().unwrap(),
        )
        .unwrap();
    let done = t.wait_until(&id, |body| body["status"] != "pending").await;
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(done["code"], "bankid_ip_mismatch");
    assert_eq!(done["message"], "RFA22");
    assert!(done.get("token").is_none(), "{done}");
    assert!(done.get("user").is_none(), "{done}");
    let again = t.get(&id).await.body;
    assert_eq!(again["code"], "bankid_ip_mismatch");
    assert!(again.get("token").is_none());

    // The same person from this computer logs in: only the address made the difference.
    let order = t.started("this_device").await;
    t.sim
        .app()
        .sign(&autostart(&order), &TestPerson::demo())
        .unwrap();
    let done = t.wait_for_status(&id_of(&order), "complete").await;
    assert!(done.get("code").is_none(), "{done}");
    assert!(done["token"].is_string());
}

/// Mobilt BankID is a phone elsewhere by design: its address is not compared.
#[tokio::test]
async fn other_device_completed_from_another_address_logs_in() {
    let t = start().await;
    let order = t.started("other_device").await;
    t.sim
        .app()
        .sign_from(
            &Scan::Qr(qr_of(&order)),
            &TestPerson::demo(),
            "203.0.113.44".parse().unwrap(),
        )
        .unwrap();
    let done = t.wait_for_status(&id_of(&order), "complete").await;
    assert!(done.get("code").is_none(), "{done}");
    assert_high_assurance_with_case_details(&t.server, done["token"].as_str().unwrap()).await;
}

/// The demo's HTTP test app takes the BankID app's address too, for the app's E2E tests.
#[tokio::test]
async fn the_demo_test_app_signs_from_another_address_over_http() {
    let server = TestServer::demo().await;
    let order = server
        .post("bankid/orders", json!({"mode": "this_device"}))
        .await
        .body;
    let id = order["id"].as_str().unwrap().to_owned();
    let bad = server
        .post(
            "/demo/bankid/sign",
            json!({"autostarttoken": order["autostarttoken"], "device_ip": "nowhere"}),
        )
        .await;
    assert_eq!(bad.status, 400, "{:?}", bad.body);
    let signed = server
        .post(
            "/demo/bankid/sign",
            json!({"autostarttoken": order["autostarttoken"], "device_ip": "198.51.100.23"}),
        )
        .await;
    assert_eq!(signed.status, 200, "{:?}", signed.body);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut body = server.get(&format!("bankid/orders/{id}")).await.body;
    while body["status"] == "pending" {
        assert!(Instant::now() < deadline, "{body:?}");
        body = server
            .get(&format!(
                "bankid/orders/{id}?wait=5&since={}",
                body["version"]
            ))
            .await
            .body;
    }
    assert_eq!(body["code"], "bankid_ip_mismatch", "{body}");
}
