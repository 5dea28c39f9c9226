//! Several instances on one database: two `legitimera-server` processes (the real binary) in
//! demo mode on one shared database — PostgreSQL when `LEGITIMERA_TEST_DATABASE_URL` is set
//! (`cargo xtask test`), else one SQLite file — and one BankID simulator, as a load balancer
//! would spread an app's requests over them. Real time throughout (the processes have the
//! system clock).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use legitimera_bankid::simulator::{Scan, Simulator, TestPerson};
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::{ServerProcess, DEMO_PASSWORD};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// Two instances on one fresh database (and the temporary directory of a SQLite one).
async fn two_instances(
    extra: &[String],
) -> (ServerProcess, ServerProcess, Option<tempfile::TempDir>) {
    let (url, dir) = match support::fresh_postgres_database().await {
        Some(url) => (url, None),
        None => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("shared.sqlite").display());
            (url, Some(dir))
        }
    };
    // Both at once: the migrations and the demo seed run under concurrency as they would when
    // a deployment starts several instances together.
    let (a, b) = tokio::join!(
        ServerProcess::start(&url, extra),
        ServerProcess::start(&url, extra)
    );
    (a, b, dir)
}

async fn send(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.unwrap();
    let status = response.status();
    let bytes = response.bytes().await.unwrap();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (status, body)
}

async fn log_in(http: &reqwest::Client, on: &ServerProcess, password: &str) -> (StatusCode, Value) {
    send(
        http.post(on.api("login/password"))
            .json(&json!({"email": "erik@example.se", "password": password})),
    )
    .await
}

#[tokio::test]
async fn both_instances_are_ready_and_a_session_made_on_one_ends_on_both() {
    let (a, b, _dir) = two_instances(&[]).await;
    let http = reqwest::Client::new();
    for instance in [&a, &b] {
        let (status, body) = send(http.get(instance.api("ready"))).await;
        assert_eq!(status, 200);
        assert_eq!(body["status"], "ready");
    }
    let (status, body) = log_in(&http, &a, DEMO_PASSWORD).await;
    assert_eq!(status, 200, "{body:?}");
    let token = body["token"].as_str().unwrap().to_owned();
    let (status, body) = send(http.get(b.api("session")).bearer_auth(&token)).await;
    assert_eq!(status, 200, "made on A, seen on B: {body:?}");
    assert_eq!(body["email"], "erik@example.se");
    // A has read it too (on SQLite in its request thread, and kept until the file's next
    // commit, store/inline.rs): nothing of that read may outlive a change made on B.
    let (status, body) = send(http.get(a.api("session")).bearer_auth(&token)).await;
    assert_eq!(status, 200, "{body:?}");
    // Activity on B starts the idle limit over, and A says so at once: a read A kept from
    // before it would count down from the login, 2 s ago.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, before) = send(http.get(a.api("session")).bearer_auth(&token)).await;
    assert_eq!(status, 200, "{before:?}");
    let (status, body) = send(http.post(b.api("session/activity")).bearer_auth(&token)).await;
    assert_eq!(status, 200, "{body:?}");
    let (status, after) = send(http.get(a.api("session")).bearer_auth(&token)).await;
    assert_eq!(status, 200, "{after:?}");
    assert!(
        after["idle_expires_in"].as_u64().unwrap() > before["idle_expires_in"].as_u64().unwrap(),
        "activity on B, idle limit started over on A: {before} then {after}"
    );
    let (status, _) = send(http.delete(b.api("session")).bearer_auth(&token)).await;
    assert_eq!(status, 204);
    let (status, body) = send(http.get(a.api("session")).bearer_auth(&token)).await;
    assert_eq!(status, 401, "logged out on B, ended on A: {body:?}");
    let (status, body) = send(http.get(a.api("cases")).bearer_auth(&token)).await;
    assert_eq!(status, 401, "logged out on B, no Min sida on A: {body:?}");

    // The demo outbox is shared too: a code e-mailed by A shows on B.
    let (status, body) = send(
        http.post(a.api("registrations"))
            .json(&json!({"email": "ny@example.se", "password": support::GOOD_PASSWORD})),
    )
    .await;
    assert_eq!(status, 201, "{body:?}");
    let (_, outbox) = send(http.get(format!("{}/demo/outbox", b.url))).await;
    assert!(
        outbox
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["to"] == "ny@example.se"),
        "{outbox:?}"
    );
}

#[tokio::test]
async fn wrong_passwords_spread_over_two_instances_hit_the_account_limit_at_five() {
    let (a, b, _dir) = two_instances(&[]).await;
    let http = reqwest::Client::new();
    for attempt in 0..5 {
        let on = if attempt % 2 == 0 { &a } else { &b };
        let (status, body) = log_in(&http, on, "fel lösenord").await;
        assert_eq!(status, 401, "attempt {attempt}: {body:?}");
    }
    for on in [&a, &b] {
        let (status, body) = log_in(&http, on, DEMO_PASSWORD).await;
        assert_eq!(status, 429, "the sixth, even right: {body:?}");
        assert_eq!(body["code"], "rate_limited");
    }
}

/// The BankID RP configuration of a simulator this test holds, as command-line arguments.
fn bankid_args(sim: &Simulator, dir: &std::path::Path) -> Vec<String> {
    let write = |name: &str, text: &str| -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    vec![
        "--bankid-url".into(),
        sim.base_url().to_string(),
        "--bankid-client-cert".into(),
        write("rp.pem", sim.rp_cert_pem()).display().to_string(),
        "--bankid-client-key".into(),
        write("rp.key", sim.rp_key_pem()).display().to_string(),
        "--bankid-server-ca".into(),
        write("bankid-ca.pem", sim.server_ca_pem())
            .display()
            .to_string(),
    ]
}

#[tokio::test]
async fn a_bankid_order_whose_collecting_instance_is_killed_completes_through_the_other() {
    let sim = Simulator::start(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let pem_dir = tempfile::tempdir().unwrap();
    let (mut a, b, _dir) = two_instances(&bankid_args(&sim, pem_dir.path())).await;
    let http = reqwest::Client::new();

    let (status, order) = send(
        http.post(a.api("bankid/orders"))
            .json(&json!({"mode": "this_device"})),
    )
    .await;
    assert_eq!(status, 201, "{order:?}");
    let id = order["id"].as_str().unwrap().to_owned();
    let scan = Scan::AutoStart(order["autostarttoken"].as_str().unwrap().parse().unwrap());

    // A holds the order's lease; it dies before ever collecting (that starts 2 s in).
    let collects_before = sim.collect_calls();
    a.child.start_kill().unwrap();
    a.child.wait().await.unwrap();
    let killed = Instant::now();
    sim.app().sign(&scan, &TestPerson::demo()).unwrap();

    // B takes the order over once A's lease has run out, and collects it.
    while sim.collect_calls() == collects_before {
        assert!(
            killed.elapsed() < Duration::from_secs(10),
            "no instance took the order over"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let take_over = killed.elapsed();
    println!("take-over after SIGKILL: {take_over:?} (first collect by the other instance)");
    assert!(
        take_over <= Duration::from_secs(5),
        "took {take_over:?} to take over"
    );

    // The app's polls, all on B now: the token comes exactly once.
    let mut tokens = Vec::new();
    let mut body = Value::Null;
    let deadline = Instant::now() + Duration::from_secs(15);
    while body["status"] != "complete" {
        assert!(Instant::now() < deadline, "never completed: {body:?}");
        let version = body["version"].as_u64().unwrap_or(0);
        let (status, answer) =
            send(http.get(b.api(&format!("bankid/orders/{id}?wait=5&since={version}")))).await;
        assert_eq!(status, 200, "{answer:?}");
        tokens.extend(answer["token"].as_str().map(str::to_owned));
        body = answer;
    }
    for _ in 0..3 {
        let (_, again) = send(http.get(b.api(&format!("bankid/orders/{id}")))).await;
        tokens.extend(again["token"].as_str().map(str::to_owned));
    }
    assert_eq!(tokens.len(), 1, "the token is handed out once: {tokens:?}");
    let (status, session) = send(http.get(b.api("session")).bearer_auth(&tokens[0])).await;
    assert_eq!(status, 200, "{session:?}");
    assert_eq!(session["assurance"], "high");
}

#[tokio::test]
async fn an_instance_stopped_with_sigterm_hands_its_bankid_orders_over_at_once() {
    let sim = Simulator::start(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let pem_dir = tempfile::tempdir().unwrap();
    let (mut a, _b, _dir) = two_instances(&bankid_args(&sim, pem_dir.path())).await;
    let http = reqwest::Client::new();
    let (status, order) = send(
        http.post(a.api("bankid/orders"))
            .json(&json!({"mode": "this_device"})),
    )
    .await;
    assert_eq!(status, 201, "{order:?}");
    let collects_before = sim.collect_calls();
    let pid = a.child.id().unwrap().to_string();
    let stopped = Instant::now();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    a.child.wait().await.unwrap();
    while sim.collect_calls() == collects_before {
        assert!(
            stopped.elapsed() < Duration::from_secs(10),
            "no instance took the order over"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let take_over = stopped.elapsed();
    println!("take-over after SIGTERM: {take_over:?}");
    assert!(
        take_over < Duration::from_millis(2_500),
        "the lease was not handed back: {take_over:?}"
    );
}

#[tokio::test]
async fn the_bankid_simulator_runs_as_its_own_process_for_servers_to_share() {
    let out = tempfile::tempdir().unwrap();
    let mut simulator = Command::new(env!("CARGO_BIN_EXE_legitimera-server"))
        .arg("bankid-simulator")
        .arg("--out")
        .arg(out.path())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(simulator.stdout.take().unwrap()).lines();
    let rp_url = lines.next_line().await.unwrap().unwrap();
    let rp_url = rp_url.strip_prefix("listening on ").unwrap().to_owned();
    let app_url = lines.next_line().await.unwrap().unwrap();
    let app_url = app_url.strip_prefix("test app on ").unwrap().to_owned();
    let file = |name: &str| out.path().join(name).display().to_string();
    let args: Vec<String> = vec![
        "--bankid-url".into(),
        rp_url,
        "--bankid-client-cert".into(),
        file("rp.pem"),
        "--bankid-client-key".into(),
        file("rp.key"),
        "--bankid-server-ca".into(),
        file("bankid-ca.pem"),
    ];
    let (a, b, _dir) = two_instances(&args).await;
    let http = reqwest::Client::new();
    let (status, order) = send(
        http.post(a.api("bankid/orders"))
            .json(&json!({"mode": "this_device"})),
    )
    .await;
    assert_eq!(status, 201, "{order:?}");
    let (status, signed) = send(
        http.post(format!("{app_url}/sign"))
            .json(&json!({"autostarttoken": order["autostarttoken"]})),
    )
    .await;
    assert_eq!(status, 200, "{signed:?}");
    let id = order["id"].as_str().unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, body) = send(http.get(b.api(&format!("bankid/orders/{id}?wait=5&since=0")))).await;
        if body["status"] == "complete" {
            assert!(body["token"].is_string(), "{body:?}");
            break;
        }
        assert!(Instant::now() < deadline, "never completed: {body:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
