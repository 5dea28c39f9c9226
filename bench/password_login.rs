//! Password logins per second through the real server (HTTP, JSON, database, session) as a
//! ratio of raw argon2id hashes per second with the same parameters, at the same parallelism
//! (one worker per core). The goal is ≥ 0.9: the hash should be nearly all of a login's cost.
//! Logins run twice as many at a time as there are cores, as a server with many users does.
//! Bounded: `LOGINS` operations of each kind (default 200), on loopback only.
//! Run: `cargo bench -p legitimera-bench --bench password_login`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Instant;

use legitimera_server::clock::SystemClock;
use legitimera_server::config::{Config, FileConfig, Overrides};
use legitimera_server::demo::DEMO_PASSWORD;
use legitimera_server::passwords;

#[tokio::main]
async fn main() {
    let operations: usize = std::env::var("LOGINS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());

    let started = Instant::now();
    let hashers: Vec<_> = (0..workers)
        .map(|worker| {
            std::thread::spawn(move || {
                for _ in (worker..operations).step_by(workers) {
                    passwords::hash_now(DEMO_PASSWORD.as_bytes()).unwrap();
                }
            })
        })
        .collect();
    for hasher in hashers {
        hasher.join().unwrap();
    }
    let hashes_per_second = operations as f64 / started.elapsed().as_secs_f64();

    let config = Config::resolve(
        FileConfig::default(),
        Overrides {
            demo: true,
            listen: Some("127.0.0.1:0".parse().unwrap()),
            ..Default::default()
        },
    )
    .unwrap();
    let server = legitimera_server::start(config, Arc::new(SystemClock))
        .await
        .unwrap();
    let url = format!("{}/api/v1/login/password", server.url());
    let client = reqwest::Client::new();
    let body = serde_json::json!({"email": "erik@example.se", "password": DEMO_PASSWORD});
    // One login first, so connection set-up and the first database page are not measured.
    client.post(&url).json(&body).send().await.unwrap();

    // Twice as many logins in flight as cores, as a server with many users has: while one
    // request is between its hash and its answer, another's hash keeps the core busy.
    let in_flight = workers * 2;
    let started = Instant::now();
    let clients: Vec<_> = (0..in_flight)
        .map(|worker| {
            let (client, url, body) = (client.clone(), url.clone(), body.clone());
            tokio::spawn(async move {
                for _ in (worker..operations).step_by(in_flight) {
                    let response = client.post(&url).json(&body).send().await.unwrap();
                    assert!(response.status().is_success(), "{}", response.status());
                }
            })
        })
        .collect();
    for client in clients {
        client.await.unwrap();
    }
    let logins_per_second = operations as f64 / started.elapsed().as_secs_f64();
    server.stop().await.unwrap();

    let ratio = logins_per_second / hashes_per_second;
    println!("argon2id (m=19456 KiB, t=2, p=1), {workers} workers, {operations} operations each");
    println!("raw hashes per second:     {hashes_per_second:.1}");
    println!("password logins per second: {logins_per_second:.1}");
    println!(
        "ratio: {ratio:.2} (goal ≥ 0.9) {}",
        if ratio >= 0.9 { "ok" } else { "BELOW GOAL" }
    );
}
