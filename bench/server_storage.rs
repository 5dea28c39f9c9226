//! The server on PostgreSQL as a ratio of the server on SQLite: password logins per second and
//! session checks (`GET /session`) per second, one instance each, same machine, same run, in
//! alternating rounds so load that comes and goes lands on both sides. Logins are argon2id
//! bound, so their ratio shows what the database adds to a login; session checks are nearly
//! all database, so theirs shows the database itself (and sqlx's `Any` layer, the same on both).
//! PostgreSQL is `LEGITIMERA_BENCH_DATABASE_URL` (any database on a server this bench may
//! create databases on); `cargo xtask bench server` starts a throwaway cluster for it.
//! Without it, only SQLite is measured.
//! Run: `cargo xtask bench server`, or `cargo bench -p legitimera-bench --bench server_storage`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use legitimera_server::clock::SystemClock;
use legitimera_server::config::{Config, FileConfig, Overrides};
use legitimera_server::demo::DEMO_PASSWORD;
use legitimera_server::Running;
use sqlx::{Connection as _, Executor as _};

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn start(database_url: String) -> Running {
    let config = Config::resolve(
        FileConfig::default(),
        Overrides {
            demo: true,
            listen: Some("127.0.0.1:0".parse().unwrap()),
            database_url: Some(database_url),
            ..Default::default()
        },
    )
    .unwrap();
    legitimera_server::start(config, Arc::new(SystemClock))
        .await
        .unwrap()
}

/// A fresh database on the bench's PostgreSQL server.
async fn fresh_postgres(admin: &str) -> String {
    let name = format!("legitimera_bench_{}", std::process::id());
    let mut connection = sqlx::PgConnection::connect(admin).await.unwrap();
    connection
        .execute(format!("DROP DATABASE IF EXISTS {name}").as_str())
        .await
        .unwrap();
    connection
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap();
    connection.close().await.unwrap();
    let (base, _) = admin.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

async fn log_in(client: &reqwest::Client, url: &str) -> String {
    let answer: serde_json::Value = client
        .post(format!("{url}/api/v1/login/password"))
        .json(&serde_json::json!({"email": "erik@example.se", "password": DEMO_PASSWORD}))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["token"].as_str().unwrap().to_owned()
}

/// `count` operations, `parallel` at a time; the wall time they took.
async fn run<F, Fut>(count: usize, parallel: usize, operation: F) -> Duration
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let started = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let workers: Vec<_> = (0..parallel)
        .map(|_| {
            let next = next.clone();
            let operation = operation.clone();
            tokio::spawn(async move {
                while next.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < count {
                    operation().await;
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    started.elapsed()
}

#[derive(Default)]
struct Totals {
    logins: Duration,
    checks: Duration,
}

#[tokio::main]
async fn main() {
    let logins = setting("LOGINS", 100);
    let checks = setting("CHECKS", 3000);
    let rounds = setting("ROUNDS", 3);
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let sqlite_dir = tempfile::tempdir().unwrap();
    let mut servers = vec![(
        "SQLite",
        start(format!(
            "sqlite://{}",
            sqlite_dir.path().join("bench.sqlite").display()
        ))
        .await,
    )];
    match std::env::var("LEGITIMERA_BENCH_DATABASE_URL") {
        Ok(admin) => servers.push(("PostgreSQL", start(fresh_postgres(&admin).await).await)),
        Err(_) => println!("LEGITIMERA_BENCH_DATABASE_URL unset: SQLite only"),
    }
    let client = reqwest::Client::new();
    let mut totals: Vec<Totals> = servers.iter().map(|_| Totals::default()).collect();
    for round in 0..rounds {
        for (index, (_, server)) in servers.iter().enumerate() {
            let url = server.url();
            let c = client.clone();
            let u = url.clone();
            totals[index].logins += run(logins / rounds, cores * 2, move || {
                let (c, u) = (c.clone(), u.clone());
                async move {
                    log_in(&c, &u).await;
                }
            })
            .await;
            let token = log_in(&client, &url).await;
            let c = client.clone();
            totals[index].checks += run(checks / rounds, 16, move || {
                let (c, u, t) = (c.clone(), url.clone(), token.clone());
                async move {
                    c.get(format!("{u}/api/v1/session"))
                        .bearer_auth(&t)
                        .send()
                        .await
                        .unwrap()
                        .error_for_status()
                        .unwrap();
                }
            })
            .await;
        }
        println!("round {} of {rounds} done", round + 1);
    }
    let per_second = |n: usize, took: Duration| (n / rounds * rounds) as f64 / took.as_secs_f64();
    println!("\nserver storage, one instance each, {cores} cores, {rounds} alternating rounds:");
    let mut rates = Vec::new();
    for ((name, _), total) in servers.iter().zip(&totals) {
        let login_rate = per_second(logins, total.logins);
        let check_rate = per_second(checks, total.checks);
        println!("  {name:<10}  {login_rate:>8.1} logins/s  {check_rate:>8.0} session checks/s");
        rates.push((login_rate, check_rate));
    }
    if let [sqlite, postgres] = rates[..] {
        println!(
            "  PostgreSQL / SQLite: logins {:.2}, session checks {:.2}",
            postgres.0 / sqlite.0,
            postgres.1 / sqlite.1
        );
    }
    for (_, server) in servers {
        server.stop().await.unwrap();
    }
}
