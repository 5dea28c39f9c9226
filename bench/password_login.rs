//! Password logins per second through the real server (HTTP, JSON, database, session) as a
//! ratio of raw argon2id hashes per second with the same parameters, at the same parallelism
//! (one worker per core). The goal is ≥ 0.9: the hash should be nearly all of a login's cost.
//! Logins run twice as many at a time as there are cores, as a server with many users does.
//! Bounded: `LOGINS` operations of each kind (default 400), on loopback only, in `ROUNDS`
//! alternating rounds (default 10): on a machine shared with other work, load that comes and
//! goes would otherwise land on one side of the ratio; alternating spreads it over both. The
//! figure is the median of the rounds' ratios (each round's logins against the hashes run
//! right before or after them), so one round that a burst of other work fell on does not move
//! it (`cargo xtask bench app` had one round at 0.65 among others at 0.9–0.99); the ratio of
//! the totals is printed beside it.
//! Run: `cargo bench -p legitimera-bench --bench password_login`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use legitimera_server::clock::SystemClock;
use legitimera_server::config::{Config, FileConfig, Overrides};
use legitimera_server::demo::DEMO_PASSWORD;
use legitimera_server::passwords;

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// CPU time this process has used so far (all threads; /proc/self/stat, in clock ticks of
/// 10 ms): unlike wall time, other programs on a shared machine hardly change it.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // Fields after the command name (which is in parentheses): utime and stime are 14 and 15.
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<u64> = after_name
        .split_whitespace()
        .skip(11)
        .take(2)
        .map(|f| f.parse().unwrap())
        .collect();
    Duration::from_millis((fields[0] + fields[1]) * 10)
}

/// The raw baseline: one long-lived hashing thread per worker, as the server has, so both
/// sides run on threads the scheduler has already spread over the cores (fresh threads each
/// round started on a busy machine sometimes shared one core for the whole round).
struct RawHashers {
    orders: Vec<std::sync::mpsc::Sender<usize>>,
    done: std::sync::mpsc::Receiver<()>,
}

impl RawHashers {
    fn start(workers: usize) -> Self {
        let (done_sender, done) = std::sync::mpsc::channel();
        let orders = (0..workers)
            .map(|_| {
                let (order, orders) = std::sync::mpsc::channel::<usize>();
                let done = done_sender.clone();
                std::thread::spawn(move || {
                    for count in orders {
                        for _ in 0..count {
                            passwords::hash_now(DEMO_PASSWORD.as_bytes()).unwrap();
                        }
                        done.send(()).unwrap();
                    }
                });
                order
            })
            .collect();
        RawHashers { orders, done }
    }

    /// `operations` raw hashes shared out over the threads; how long they took.
    fn round(&self, operations: usize) -> Duration {
        let workers = self.orders.len();
        let started = Instant::now();
        for (worker, order) in self.orders.iter().enumerate() {
            order
                .send((worker..operations).step_by(workers).count())
                .unwrap();
        }
        for _ in 0..workers {
            self.done.recv().unwrap();
        }
        started.elapsed()
    }
}

/// `operations` password logins, `in_flight` at a time; how long they took.
async fn login_round(
    client: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
    operations: usize,
    in_flight: usize,
) -> Duration {
    let started = Instant::now();
    let clients: Vec<_> = (0..in_flight)
        .map(|worker| {
            let (client, url, body) = (client.clone(), url.to_owned(), body.clone());
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
    started.elapsed()
}

#[tokio::main]
async fn main() {
    let operations = setting("LOGINS", 400);
    let rounds = setting("ROUNDS", 10).clamp(1, operations);
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());

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

    let raw = RawHashers::start(workers);
    let (mut hashing, mut logging_in) = (Duration::ZERO, Duration::ZERO);
    let (mut hashing_cpu, mut logging_in_cpu) = (Duration::ZERO, Duration::ZERO);
    let mut round_ratios = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let share = operations / rounds + usize::from(round < operations % rounds);
        // Alternate which goes first, so neither always follows the other's leftovers.
        let hash = || {
            let cpu = cpu_time();
            let wall = tokio::task::block_in_place(|| raw.round(share));
            (wall, cpu_time() - cpu)
        };
        let login = || async {
            let cpu = cpu_time();
            let wall = login_round(&client, &url, &body, share, in_flight).await;
            (wall, cpu_time() - cpu)
        };
        let ((hash_time, hash_cpu), (login_time, login_cpu)) = if round % 2 == 0 {
            let hashed = hash();
            (hashed, login().await)
        } else {
            let logged_in = login().await;
            (hash(), logged_in)
        };
        hashing_cpu += hash_cpu;
        logging_in_cpu += login_cpu;
        hashing += hash_time;
        logging_in += login_time;
        round_ratios.push(hash_time.as_secs_f64() / login_time.as_secs_f64());
    }
    server.stop().await.unwrap();

    let hashes_per_second = operations as f64 / hashing.as_secs_f64();
    let logins_per_second = operations as f64 / logging_in.as_secs_f64();
    let totals_ratio = logins_per_second / hashes_per_second;
    round_ratios.sort_by(f64::total_cmp);
    let middle = round_ratios.len() / 2;
    let ratio = if round_ratios.len() % 2 == 1 {
        round_ratios[middle]
    } else {
        (round_ratios[middle - 1] + round_ratios[middle]) / 2.0
    };
    let (low, high) = (round_ratios[0], round_ratios[round_ratios.len() - 1]);
    println!(
        "argon2id (m=19456 KiB, t=2, p=1), {workers} workers, {operations} operations each in {rounds} alternating rounds"
    );
    println!("raw hashes per second:     {hashes_per_second:.1}");
    println!("password logins per second: {logins_per_second:.1}");
    println!("rounds' ratios from {low:.2} to {high:.2} (the spread is the machine's noise)");
    println!("ratio of the totals: {totals_ratio:.2}");
    println!(
        "CPU time per hash / per login (whole process, client included): {:.2} ms / {:.2} ms = {:.2}",
        hashing_cpu.as_secs_f64() * 1000.0 / operations as f64,
        logging_in_cpu.as_secs_f64() * 1000.0 / operations as f64,
        hashing_cpu.as_secs_f64() / logging_in_cpu.as_secs_f64()
    );
    println!(
        "ratio: {ratio:.2} (median of {rounds} rounds; goal ≥ 0.9) {}",
        if ratio >= 0.9 { "ok" } else { "BELOW GOAL" }
    );
}
