//! `cargo xtask bench load`: the release server under load, as a ratio of an axum hello-world
//! (bench/hello_axum.rs) built in the same run with the same profile and served the same way.
//! `wrk` (Debian's package) holds 100 connections against
//!
//! - the hello-world (`GET /`), the baseline,
//! - the session check, `GET /api/v1/session` with a session logged in through the real API
//!   (`POST /api/v1/login/password`, a demo account),
//! - the BankID order status as the app polls it, `GET /api/v1/bankid/orders/{id}?wait=25&
//!   since=…`, on a pending order of the demo server's BankID simulator; `since` names a
//!   version the order has moved past, so every poll is answered at once and what is measured
//!   is the server's cost of an answer, not the long poll's wait.
//!
//! Each route gets 20 s in all, in [`ROUNDS`] alternating rounds of [`ROUND_SECONDS`]: hello,
//! session, BankID, hello, BankID, session, hello, … hello (the routes' order turns each round,
//! and a hello run closes every round). On a shared machine the hello-world alone moved ±15 %
//! between runs minutes apart, and one 20 s run per route set a route's figure against a
//! baseline measured up to a minute away. Here each round's ratio is the route's requests/s
//! against the mean of the two hello runs on either side of it, 5 s away; the reported ratio
//! is the median of the rounds' ratios (one round that a burst of other work fell on does not
//! move it), and the ratio of the totals is printed beside it. p50 and p99 are the medians of
//! the runs' own (wrk's percentiles of each run; the hello-world's over all its runs); errors
//! are summed over every run. Each round's BankID run has an order of its own, made just
//! before it and cancelled after it, so it is pending throughout (the simulator fails an
//! order nobody opened after 30 s).
//!
//! Each reports requests/s, p50 and p99 latency and errors (wrk's socket errors — connect,
//! read, write, timeout — and answers with status ≥ 400; the routes answer no 3xx). wrk's own
//! summary comes back as one JSON line from a Lua `done` hook ([`WRK_SCRIPT`]).
//! Goals: requests/s ≥ 0.5× the hello-world's, p99 ≤ 2× the hello-world's, zero errors.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::Value;

/// Connections wrk holds open.
pub const CONNECTIONS: u32 = 100;
/// How long each route is measured in all.
pub const SECONDS: u32 = 20;
/// The alternating rounds the measurement is made in.
pub const ROUNDS: u32 = 4;
/// Each route's wrk run in a round (and each hello-world run).
pub const ROUND_SECONDS: u32 = SECONDS / ROUNDS;
/// Goal: requests/s at least this share of the hello-world's.
pub const RATIO_GOAL: f64 = 0.5;
/// Goal: p99 at most this many times the hello-world's.
pub const P99_GOAL: f64 = 2.0;
/// The demo account the session check logs in with (password only: `low` at once).
const DEMO_EMAIL: &str = "erik@example.se";
const DEMO_PASSWORD: &str = "demo-lösenord-2026";

/// Prints wrk's summary as one line: `wrk-json {…}` (latencies in microseconds).
pub const WRK_SCRIPT: &str = r#"-- cargo xtask bench load: wrk's summary as one JSON line
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'wrk-json {"requests":%.0f,"duration_us":%.0f,"connect":%.0f,"read":%.0f,"write":%.0f,' ..
    '"status":%.0f,"timeout":%.0f,"p50_us":%.0f,"p99_us":%.0f,"max_us":%.0f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"#;

/// One wrk run's figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadRun {
    pub requests: u64,
    pub seconds: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Socket errors (connect, read, write, timeout) and answers with status ≥ 400.
    pub errors: u64,
}

impl LoadRun {
    pub fn per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.requests as f64 / self.seconds
        } else {
            0.0
        }
    }
}

/// The `wrk-json` line of wrk's output (what [`WRK_SCRIPT`] prints).
pub fn parse_wrk(output: &str) -> Result<LoadRun> {
    let line = output
        .lines()
        .find_map(|line| line.trim().strip_prefix("wrk-json "))
        .context("wrk printed no wrk-json line (was the script given?)")?;
    let json: Value = serde_json::from_str(line).with_context(|| format!("wrk said {line}"))?;
    let number = |key: &str| {
        json.get(key)
            .and_then(Value::as_f64)
            .filter(|n| n.is_finite() && *n >= 0.0)
            .with_context(|| format!("wrk-json without a number {key}: {line}"))
    };
    let errors = ["connect", "read", "write", "status", "timeout"]
        .iter()
        .map(|key| number(key))
        .sum::<Result<f64>>()?;
    Ok(LoadRun {
        requests: number("requests")? as u64,
        seconds: number("duration_us")? / 1e6,
        p50_ms: number("p50_us")? / 1000.0,
        p99_ms: number("p99_us")? / 1000.0,
        errors: errors as u64,
    })
}

/// The median of `values` (the mean of the middle two for an even count); 0 for none.
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[middle],
        _ => (sorted[middle - 1] + sorted[middle]) / 2.0,
    }
}

/// Several runs as one: requests, time and errors summed; p50 and p99 the medians of the
/// runs' own (wrk gives percentiles per run, not the latencies to pool).
pub fn combined(runs: &[LoadRun]) -> LoadRun {
    let p50: Vec<f64> = runs.iter().map(|run| run.p50_ms).collect();
    let p99: Vec<f64> = runs.iter().map(|run| run.p99_ms).collect();
    LoadRun {
        requests: runs.iter().map(|run| run.requests).sum(),
        seconds: runs.iter().map(|run| run.seconds).sum(),
        p50_ms: median(&p50),
        p99_ms: median(&p99),
        errors: runs.iter().map(|run| run.errors).sum(),
    }
}

/// Each round's ratio: the route's requests/s in round `r` against the mean of the hello-world
/// runs on either side of it (`hello[r]` and `hello[r + 1]`: one more hello run than rounds).
pub fn round_ratios(hello: &[LoadRun], route: &[LoadRun]) -> Vec<f64> {
    route
        .iter()
        .zip(hello.windows(2))
        .map(|(run, around)| {
            let baseline = (around[0].per_second() + around[1].per_second()) / 2.0;
            if baseline > 0.0 {
                run.per_second() / baseline
            } else {
                0.0
            }
        })
        .collect()
}

/// What the lead's `bench app` table and `bench/results/latest.json` take.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerFigures {
    /// Every hello-world run as one ([`combined`]).
    pub hello: LoadRun,
    /// Every session check run as one.
    pub session_check: LoadRun,
    /// Every BankID status run as one.
    pub bankid_status: LoadRun,
    /// The rounds the runs were made in.
    pub rounds: usize,
    pub hello_rps: f64,
    pub hello_p50_ms: f64,
    pub hello_p99_ms: f64,
    pub session_check_rps: f64,
    /// The median of the rounds' ratios.
    pub session_check_ratio: f64,
    /// Each round's ratio, in the order measured.
    pub session_check_round_ratios: Vec<f64>,
    /// All session check requests/s against all hello-world requests/s.
    pub session_check_ratio_of_totals: f64,
    pub session_check_p50_ms: f64,
    pub session_check_p99_ms: f64,
    pub bankid_status_rps: f64,
    /// The median of the rounds' ratios.
    pub bankid_status_ratio: f64,
    pub bankid_status_round_ratios: Vec<f64>,
    pub bankid_status_ratio_of_totals: f64,
    pub bankid_status_p50_ms: f64,
    pub bankid_status_p99_ms: f64,
    /// Over every run, the hello-world's included.
    pub errors: u64,
    /// bench/password_login.rs: password logins/s against raw argon2id hashes/s (goal ≥ 0.9);
    /// `None` when not gathered (LEGITIMERA_BENCH_PASSWORD_LOGIN=0).
    pub password_login_ratio: Option<f64>,
    /// bench/card_read.rs, per card kind (no goal: what a card costs, beside the rest); empty
    /// when not gathered (LEGITIMERA_BENCH_CARD=0).
    pub card: Vec<CardFigure>,
    /// How long the release builds of the server and the hello-world took in this run.
    pub build_seconds: f64,
    /// /proc/loadavg before and after the runs (the machine is shared).
    pub load_before: String,
    pub load_after: String,
}

impl ServerFigures {
    /// From the rounds' runs: `hello` has one run more than each route (one before every
    /// round and one after the last), `session_check` and `bankid_status` one per round.
    pub fn from_rounds(
        hello: &[LoadRun],
        session_check: &[LoadRun],
        bankid_status: &[LoadRun],
    ) -> Self {
        let session_check_round_ratios = round_ratios(hello, session_check);
        let bankid_status_round_ratios = round_ratios(hello, bankid_status);
        let (hello, session_check, bankid_status) = (
            combined(hello),
            combined(session_check),
            combined(bankid_status),
        );
        let of_totals = |run: &LoadRun| {
            if hello.per_second() > 0.0 {
                run.per_second() / hello.per_second()
            } else {
                0.0
            }
        };
        ServerFigures {
            hello,
            session_check,
            bankid_status,
            rounds: session_check_round_ratios.len(),
            hello_rps: hello.per_second(),
            hello_p50_ms: hello.p50_ms,
            hello_p99_ms: hello.p99_ms,
            session_check_rps: session_check.per_second(),
            session_check_ratio: median(&session_check_round_ratios),
            session_check_ratio_of_totals: of_totals(&session_check),
            session_check_round_ratios,
            session_check_p50_ms: session_check.p50_ms,
            session_check_p99_ms: session_check.p99_ms,
            bankid_status_rps: bankid_status.per_second(),
            bankid_status_ratio: median(&bankid_status_round_ratios),
            bankid_status_ratio_of_totals: of_totals(&bankid_status),
            bankid_status_round_ratios,
            bankid_status_p50_ms: bankid_status.p50_ms,
            bankid_status_p99_ms: bankid_status.p99_ms,
            errors: hello.errors + session_check.errors + bankid_status.errors,
            password_login_ratio: None,
            card: Vec::new(),
            build_seconds: 0.0,
            load_before: String::new(),
            load_after: String::new(),
        }
    }

    /// Whether every goal holds.
    pub fn goals_met(&self) -> bool {
        table_rows(self).iter().all(|(_, _, _, met)| *met)
    }

    /// The keys for bench/results/latest.json.
    pub fn latest_json(&self) -> Value {
        serde_json::json!({
            "session_check_ratio": round(self.session_check_ratio, 3),
            "session_check_ratio_of_totals": round(self.session_check_ratio_of_totals, 3),
            "session_check_p50_ms": round(self.session_check_p50_ms, 2),
            "session_check_p99_ms": round(self.session_check_p99_ms, 2),
            "bankid_status_ratio": round(self.bankid_status_ratio, 3),
            "bankid_status_ratio_of_totals": round(self.bankid_status_ratio_of_totals, 3),
            "bankid_status_p50_ms": round(self.bankid_status_p50_ms, 2),
            "bankid_status_p99_ms": round(self.bankid_status_p99_ms, 2),
            "hello_p99_ms": round(self.hello_p99_ms, 2),
            "load_rounds": self.rounds,
            "errors": self.errors,
            "password_login_ratio": self.password_login_ratio.map(|r| round(r, 3)),
            "card_ready_ms": self
                .card
                .iter()
                .map(|c| (c.kind.clone(), Value::from(round(c.ready_median_ms, 1))))
                .collect::<serde_json::Map<String, Value>>(),
        })
    }
}

/// `value` to `places` decimals (for the results files).
pub(crate) fn round(value: f64, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    (value * scale).round() / scale
}

/// The rows for a markdown table: measure, figure, goal, met.
pub fn table_rows(figures: &ServerFigures) -> Vec<(String, String, String, bool)> {
    let f = figures;
    let p99_goal = P99_GOAL * f.hello_p99_ms;
    let mut rows = vec![
        (
            format!("server: session check (GET /api/v1/session), {CONNECTIONS} connections, {SECONDS} s"),
            format!(
                "{:.0} req/s vs hello-world {:.0} = {:.2}× (median of {} rounds; of the totals {:.2}×)",
                f.session_check_rps,
                f.hello_rps,
                f.session_check_ratio,
                f.rounds,
                f.session_check_ratio_of_totals
            ),
            format!("≥ {RATIO_GOAL}×"),
            f.session_check_ratio >= RATIO_GOAL,
        ),
        (
            "server: session check latency p50 / p99".to_owned(),
            format!(
                "{:.2} / {:.2} ms (hello-world {:.2} / {:.2} ms; medians of the runs)",
                f.session_check_p50_ms, f.session_check_p99_ms, f.hello_p50_ms, f.hello_p99_ms
            ),
            format!("p99 ≤ {P99_GOAL}× hello-world's ({p99_goal:.2} ms)"),
            f.session_check_p99_ms <= p99_goal,
        ),
        (
            format!("server: BankID order status (GET /api/v1/bankid/orders/{{id}}), {CONNECTIONS} connections, {SECONDS} s"),
            format!(
                "{:.0} req/s vs hello-world {:.0} = {:.2}× (median of {} rounds; of the totals {:.2}×)",
                f.bankid_status_rps,
                f.hello_rps,
                f.bankid_status_ratio,
                f.rounds,
                f.bankid_status_ratio_of_totals
            ),
            format!("≥ {RATIO_GOAL}×"),
            f.bankid_status_ratio >= RATIO_GOAL,
        ),
        (
            "server: BankID order status latency p50 / p99".to_owned(),
            format!(
                "{:.2} / {:.2} ms (medians of the runs)",
                f.bankid_status_p50_ms, f.bankid_status_p99_ms
            ),
            format!("p99 ≤ {P99_GOAL}× hello-world's ({p99_goal:.2} ms)"),
            f.bankid_status_p99_ms <= p99_goal,
        ),
        (
            "server: errors under load (status ≥ 400, socket errors)".to_owned(),
            f.errors.to_string(),
            "0".to_owned(),
            f.errors == 0,
        ),
    ];
    if let Some(ratio) = f.password_login_ratio {
        rows.push((
            "server: password logins/s vs raw argon2id hashes/s".to_owned(),
            format!("{ratio:.2}"),
            "≥ 0.9".to_owned(),
            ratio >= 0.9,
        ));
    }
    for card in &f.card {
        rows.push((
            format!(
                "card, {}: inserted → certificate ready (pcscd, virtual card; bench/card_read.rs)",
                card.kind
            ),
            card.ready.clone(),
            "—".to_owned(),
            true,
        ));
        rows.push((
            format!("card, {}: reading it against its floor", card.kind),
            card.against_floor.clone(),
            "—".to_owned(),
            true,
        ));
    }
    rows.push((
        "server: release builds (server + hello-world)".to_owned(),
        format!("{:.0} s", f.build_seconds),
        "—".to_owned(),
        true,
    ));
    rows
}

/// A markdown table of [`table_rows`].
pub fn markdown(figures: &ServerFigures) -> String {
    let mut out = String::from("| Measure | Figure | Goal | Met |\n| --- | --- | --- | --- |\n");
    for (measure, figure, goal, met) in table_rows(figures) {
        let met = match (goal.as_str(), met) {
            ("—", _) => "—",
            (_, true) => "yes",
            (_, false) => "**no**",
        };
        out.push_str(&format!("| {measure} | {figure} | {goal} | {met} |\n"));
    }
    out
}

/// A program that announces `listening on URL` as its first line on stdout; stopped on drop
/// (SIGTERM, so a demo server removes its temporary database; SIGKILL after 10 s).
#[derive(Debug)]
pub struct Served {
    child: Child,
    url: String,
}

impl Served {
    /// Starts `command` (stdout piped; stderr to `log` when given) and waits for its URL.
    pub fn start(mut command: Command, log: Option<&Path>) -> Result<Self> {
        command.stdout(Stdio::piped());
        if let Some(log) = log {
            let file = std::fs::File::create(log)
                .with_context(|| format!("could not create {}", log.display()))?;
            command.stderr(Stdio::from(file));
        }
        let mut child = command
            .spawn()
            .with_context(|| format!("could not start {command:?}"))?;
        let mut line = String::new();
        if let Some(stdout) = child.stdout.take() {
            let _ = BufReader::new(stdout).read_line(&mut line);
        }
        match line.trim().strip_prefix("listening on ") {
            Some(url) => Ok(Served {
                url: url.to_owned(),
                child,
            }),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                bail!("{command:?} did not start (said {line:?})")
            }
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        crate::terminate(&mut self.child, Duration::from_secs(10));
    }
}

/// The release builds of the server and the hello-world, in one cargo run so their shared
/// dependencies (tokio, hyper, axum) are built once with the same features; how long it took.
pub fn build_release() -> Result<(PathBuf, Duration)> {
    let started = Instant::now();
    crate::run(
        "release build of the server and the axum hello-world",
        crate::cargo()
            .args([
                "build",
                "--release",
                "-p",
                "legitimera-server",
                "--bin",
                "legitimera-server",
                "-p",
                "legitimera-bench",
                "--bin",
                "hello-axum",
            ])
            .env("CARGO_INCREMENTAL", "0"),
    )?;
    Ok((crate::target_dir().join("release"), started.elapsed()))
}

/// Where the benches keep their scripts and logs.
pub fn work_dir() -> Result<PathBuf> {
    let dir = crate::target_dir().join("bench-load");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// The demo server (release, temporary SQLite database unless `database_url`), its log in the
/// bench directory.
pub fn start_server(release: &Path, database_url: Option<&str>, log: &Path) -> Result<Served> {
    let mut command = Command::new(release.join("legitimera-server"));
    command.args(["--demo", "--listen", "127.0.0.1:0"]);
    if let Some(url) = database_url {
        command.args(["--database-url", url]);
    }
    Served::start(command, Some(log))
}

/// The machine's load averages (1, 5, 15 minutes), as /proc/loadavg says them.
pub(crate) fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// One wrk run against `url` with extra headers.
fn wrk(script: &Path, url: &str, headers: &[String], seconds: u32) -> Result<LoadRun> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut command = Command::new("wrk");
    command
        .arg(format!("-t{threads}"))
        .arg(format!("-c{CONNECTIONS}"))
        .arg(format!("-d{seconds}s"))
        .arg("-s")
        .arg(script);
    for header in headers {
        command.arg("-H").arg(header);
    }
    let output = command
        .arg(url)
        .output()
        .context("could not run wrk (apt-get install wrk)")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "wrk failed ({}): {stdout}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    parse_wrk(&stdout)
}

async fn log_in(client: &reqwest::Client, base: &str) -> Result<String> {
    let answer: Value = client
        .post(format!("{base}/api/v1/login/password"))
        .json(&serde_json::json!({"email": DEMO_EMAIL, "password": DEMO_PASSWORD}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    answer["token"]
        .as_str()
        .map(str::to_owned)
        .context("the login's answer has no token")
}

/// A pending BankID order of the simulator, and the status URL the app would poll it at.
struct BankIdOrder {
    url: String,
    status_url: String,
}

impl BankIdOrder {
    /// Its status now (`pending` while the runs need it), then cancelled: the server forgets it
    /// and its collector stops.
    async fn end(self, client: &reqwest::Client) -> Result<String> {
        let now: Value = client
            .get(&self.url)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        client.delete(&self.url).send().await?.error_for_status()?;
        Ok(now["status"].as_str().unwrap_or("?").to_owned())
    }
}

async fn bankid_order(client: &reqwest::Client, base: &str) -> Result<BankIdOrder> {
    let answer: Value = client
        .post(format!("{base}/api/v1/bankid/orders"))
        .json(&serde_json::json!({"mode": "other_device"}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let id = answer["id"].as_str().context("an order without id")?;
    let version = answer["version"]
        .as_u64()
        .context("an order without version")?;
    let url = format!("{base}/api/v1/bankid/orders/{id}");
    Ok(BankIdOrder {
        status_url: format!("{url}?wait=25&since={}", version.saturating_sub(1)),
        url,
    })
}

/// The whole measurement: builds, starts the hello-world and the server, runs wrk.
pub fn server_figures(install: bool) -> Result<ServerFigures> {
    crate::packages::ensure(crate::packages::LOAD, install)?;
    let (release, build_time) = build_release()?;
    let dir = work_dir()?;
    let script = dir.join("wrk-json.lua");
    std::fs::write(&script, WRK_SCRIPT)?;
    let hello = Served::start(Command::new(release.join("hello-axum")), None)?;
    let mut server = start_server(&release, None, &dir.join("server-load.log"))?;
    let base = server.url().to_owned();
    let runtime = tokio::runtime::Runtime::new()?;
    let client = reqwest::Client::new();
    let token = runtime.block_on(log_in(&client, &base))?;
    let bearer = format!("Authorization: Bearer {token}");
    let session_url = format!("{base}/api/v1/session");
    let hello_url = format!("{}/", hello.url());

    // Warm-up: connections, the first database pages, the allocator's arenas.
    wrk(&script, &hello_url, &[], 2)?;
    wrk(&script, &session_url, std::slice::from_ref(&bearer), 2)?;
    let warm_up = runtime.block_on(bankid_order(&client, &base))?;
    wrk(&script, &warm_up.status_url, &[], 2)?;
    runtime.block_on(warm_up.end(&client))?;

    let load_before = loadavg();
    println!(
        "\n==> wrk: {CONNECTIONS} connections, {ROUNDS} alternating rounds of {ROUND_SECONDS} s \
         each ({SECONDS} s per route; load {load_before})"
    );
    let mut hello_runs = Vec::new();
    let (mut session_runs, mut bankid_runs) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        println!("  round {}/{ROUNDS}", round + 1);
        let hello_run = wrk(&script, &hello_url, &[], ROUND_SECONDS)?;
        println!("  hello-world:        {hello_run:?}");
        hello_runs.push(hello_run);
        // The routes' order turns each round, so neither is always the one right after hello.
        for route in [round % 2, 1 - round % 2] {
            if route == 0 {
                let run = wrk(
                    &script,
                    &session_url,
                    std::slice::from_ref(&bearer),
                    ROUND_SECONDS,
                )?;
                println!("  session check:      {run:?}");
                session_runs.push(run);
            } else {
                // A fresh order, pending for the whole run.
                let order = runtime.block_on(bankid_order(&client, &base))?;
                let run = wrk(&script, &order.status_url, &[], ROUND_SECONDS)?;
                println!("  BankID status:      {run:?}");
                let status = runtime.block_on(order.end(&client))?;
                println!("  (the order was {status} at the end)");
                if status != "pending" {
                    bail!("the BankID order was {status} at the end of its run, not pending");
                }
                bankid_runs.push(run);
            }
        }
    }
    let hello_after = wrk(&script, &hello_url, &[], ROUND_SECONDS)?;
    println!("  hello-world after:  {hello_after:?}");
    hello_runs.push(hello_after);
    let load_after = loadavg();
    // The session still answers: the runs changed nothing.
    let check = runtime.block_on(async {
        client
            .get(&session_url)
            .header("Authorization", format!("Bearer {token}"))
            .send()
            .await
    })?;
    if !check.status().is_success() || !server.alive() {
        bail!(
            "the session or the server did not survive the load ({})",
            check.status()
        );
    }
    drop(server);
    drop(hello);

    let mut figures = ServerFigures::from_rounds(&hello_runs, &session_runs, &bankid_runs);
    for (name, ratios, ratio, of_totals) in [
        (
            "session check",
            &figures.session_check_round_ratios,
            figures.session_check_ratio,
            figures.session_check_ratio_of_totals,
        ),
        (
            "BankID status",
            &figures.bankid_status_round_ratios,
            figures.bankid_status_ratio,
            figures.bankid_status_ratio_of_totals,
        ),
    ] {
        let each: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
        println!(
            "  {name}: rounds' ratios {} (each against the hello runs either side); median \
             {ratio:.2}, of the totals {of_totals:.2}",
            each.join(" ")
        );
    }
    figures.build_seconds = build_time.as_secs_f64();
    figures.load_before = load_before;
    figures.load_after = load_after;
    if std::env::var("LEGITIMERA_BENCH_PASSWORD_LOGIN").as_deref() != Ok("0") {
        figures.password_login_ratio = Some(password_login_ratio()?);
    }
    if std::env::var("LEGITIMERA_BENCH_CARD").as_deref() != Ok("0") {
        figures.card = card_figures()?;
    }
    Ok(figures)
}

/// One card kind's figures from bench/card_read.rs.
#[derive(Debug, Clone, PartialEq)]
pub struct CardFigure {
    /// "PIV", "PKCS#15", …
    pub kind: String,
    /// Inserted → certificate ready: `median … ms, p95 … ms, max … ms (n = …)`.
    pub ready: String,
    pub ready_median_ms: f64,
    /// The APDUs and the read time against the fewest a reader could send.
    pub against_floor: String,
}

/// Runs bench/card_read.rs (pcscd and the virtual card; it starts pcscd when needed).
fn card_figures() -> Result<Vec<CardFigure>> {
    let stdout = bench_output("card_read", "card bench")?;
    let figures = parse_card_bench(&stdout);
    if figures.is_empty() {
        bail!("the card bench printed no card kind's figures");
    }
    Ok(figures)
}

/// bench/card_read.rs's output: a `KIND:` line, then its indented figures.
fn parse_card_bench(output: &str) -> Vec<CardFigure> {
    let mut figures: Vec<CardFigure> = Vec::new();
    let mut apdus = String::new();
    for line in output.lines() {
        let text = line.trim();
        if !line.starts_with(' ') && text.ends_with(':') {
            figures.push(CardFigure {
                kind: text.trim_end_matches(':').to_owned(),
                ready: String::new(),
                ready_median_ms: f64::NAN,
                against_floor: String::new(),
            });
        } else if let Some(figure) = figures.last_mut() {
            let ratio = |rest: &str| rest.rsplit("ratio ").next().unwrap_or_default().to_owned();
            if let Some(ready) = text.strip_prefix("inserted → certificate ready:") {
                figure.ready = ready.trim().to_owned();
                figure.ready_median_ms = ready
                    .trim()
                    .strip_prefix("median ")
                    .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
                    .unwrap_or(f64::NAN);
            } else if text.starts_with("APDUs to read it:") {
                apdus = ratio(text);
            } else if text.starts_with("read median") {
                figure.against_floor = format!("APDUs {apdus}×, time {}× the floor", ratio(text));
            }
        }
    }
    figures.retain(|figure| figure.ready_median_ms.is_finite());
    figures
}

/// bench/password_login.rs's ratio (its last line: `ratio: 0.93 (median of 10 rounds; goal ≥ 0.9) ok`).
fn password_login_ratio() -> Result<f64> {
    let stdout = bench_output("password_login", "password login bench")?;
    parse_ratio_line(&stdout).context("the password login bench printed no `ratio:` line")
}

/// Runs bench/`name`.rs (release, `cargo bench`), echoes its stdout and returns it.
fn bench_output(name: &str, what: &str) -> Result<String> {
    println!("\n==> {what} (bench/{name}.rs)");
    let output = crate::cargo()
        .args(["bench", "-p", "legitimera-bench", "--bench", name])
        .env("CARGO_INCREMENTAL", "0")
        .stderr(Stdio::inherit())
        .output()
        .context("could not run cargo bench")?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    print!("{stdout}");
    if !output.status.success() {
        bail!("the {what} failed ({})", output.status);
    }
    Ok(stdout)
}

/// The figure of a bench's `ratio: X …` line.
pub fn parse_ratio_line(output: &str) -> Option<f64> {
    output
        .lines()
        .filter_map(|line| line.trim().strip_prefix("ratio:"))
        .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
        .next_back()
}

/// `cargo xtask bench load`.
pub fn command(install: bool) -> Result<()> {
    let figures = server_figures(install)?;
    println!(
        "\n==> server under load (release builds took {:.0} s; load average {} before, {} after)\n",
        figures.build_seconds, figures.load_before, figures.load_after
    );
    print!("{}", markdown(&figures));
    println!("\n{}", figures.latest_json());
    if !figures.goals_met() {
        bail!("a goal of the server under load is not met");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const WRK_OUTPUT: &str = "Running 20s test @ http://127.0.0.1:4000/\n  2 threads and 100 connections\n\
        Requests/sec:  30000.00\n\
        wrk-json {\"requests\":600000,\"duration_us\":20000000,\"connect\":0,\"read\":1,\"write\":0,\"status\":2,\"timeout\":3,\"p50_us\":1500,\"p99_us\":6700,\"max_us\":20000}\n";

    #[test]
    fn wrk_json_is_read_with_every_kind_of_error() {
        let run = parse_wrk(WRK_OUTPUT).unwrap();
        assert_eq!(run.requests, 600_000);
        assert!((run.per_second() - 30_000.0).abs() < 1e-6);
        assert!((run.p50_ms - 1.5).abs() < 1e-9);
        assert!((run.p99_ms - 6.7).abs() < 1e-9);
        assert_eq!(run.errors, 6);
    }

    #[test]
    fn wrk_output_without_the_line_or_with_a_missing_field_is_an_error() {
        assert!(parse_wrk("Requests/sec: 30000\n").is_err());
        assert!(parse_wrk("wrk-json {\"requests\":1}\n").is_err());
        assert!(parse_wrk("wrk-json not json\n").is_err());
    }

    fn run(rps: f64, p99_ms: f64, errors: u64) -> LoadRun {
        LoadRun {
            requests: (rps * 5.0) as u64,
            seconds: 5.0,
            p50_ms: p99_ms / 4.0,
            p99_ms,
            errors,
        }
    }

    #[test]
    fn the_median_is_the_middle_value_or_the_mean_of_the_middle_two() {
        assert!((median(&[0.7, 0.2, 0.5]) - 0.5).abs() < 1e-12);
        assert!((median(&[0.9, 0.1, 0.6, 0.4]) - 0.5).abs() < 1e-12);
        assert!((median(&[0.3]) - 0.3).abs() < 1e-12);
        assert_eq!(median(&[]), 0.0);
    }

    #[test]
    fn each_round_is_against_the_hello_runs_either_side_of_it() {
        let hello = [
            run(30_000.0, 6.0, 0),
            run(20_000.0, 6.0, 0),
            run(40_000.0, 6.0, 0),
        ];
        let route = [run(12_500.0, 6.0, 0), run(15_000.0, 6.0, 0)];
        let ratios = round_ratios(&hello, &route);
        assert_eq!(ratios.len(), 2);
        assert!((ratios[0] - 0.5).abs() < 1e-9, "{ratios:?}");
        assert!((ratios[1] - 0.5).abs() < 1e-9, "{ratios:?}");
        assert_eq!(round_ratios(&[run(0.0, 1.0, 0); 2], &route[..1]), [0.0]);
    }

    #[test]
    fn combined_runs_sum_requests_time_and_errors_and_take_the_median_latencies() {
        let all = combined(&[
            run(10_000.0, 4.0, 1),
            run(30_000.0, 8.0, 0),
            run(20_000.0, 20.0, 2),
        ]);
        assert_eq!(all.requests, 300_000);
        assert!((all.per_second() - 20_000.0).abs() < 1e-6);
        assert!((all.p99_ms - 8.0).abs() < 1e-9);
        assert!((all.p50_ms - 2.0).abs() < 1e-9);
        assert_eq!(all.errors, 3);
    }

    #[test]
    fn ratios_are_the_median_of_the_rounds_and_goals_are_judged() {
        // Five hello runs (one before each of four rounds, one after), each route four.
        let hello = [
            run(30_000.0, 6.0, 0),
            run(30_000.0, 8.0, 0),
            run(20_000.0, 7.0, 0),
            run(20_000.0, 7.0, 0),
            run(30_000.0, 9.0, 0),
        ];
        // Rounds' baselines 30k, 25k, 20k, 25k.
        let session = [
            run(18_000.0, 12.0, 0), // 0.60
            run(15_000.0, 11.0, 0), // 0.60
            run(6_000.0, 30.0, 0),  // 0.30: a burst of other work
            run(16_250.0, 13.0, 0), // 0.65
        ];
        let bankid = [
            run(14_400.0, 13.0, 0), // 0.48
            run(12_000.0, 13.0, 0), // 0.48
            run(9_400.0, 13.0, 0),  // 0.47
            run(12_250.0, 13.0, 0), // 0.49
        ];
        let figures = ServerFigures::from_rounds(&hello, &session, &bankid);
        assert_eq!(figures.rounds, 4);
        assert!((figures.hello_rps - 26_000.0).abs() < 1e-6);
        assert!((figures.session_check_ratio - 0.6).abs() < 1e-9);
        // Of the totals: 55,250 / 4 / 26,000.
        assert!((figures.session_check_ratio_of_totals - 55_250.0 / 4.0 / 26_000.0).abs() < 1e-9);
        assert!((figures.bankid_status_ratio - 0.48).abs() < 1e-9);
        assert!((figures.hello_p99_ms - 7.0).abs() < 1e-9);
        assert!((figures.session_check_p99_ms - 12.5).abs() < 1e-9);
        let rows = table_rows(&figures);
        let met: Vec<bool> = rows.iter().map(|row| row.3).collect();
        // Session ratio 0.6 ok, p99 12.5 ≤ 14 ok; BankID 0.48 not, 13 ≤ 14 ok; errors 0 ok.
        assert_eq!(&met[..5], &[true, true, false, true, true]);
        assert!(rows[0]
            .1
            .contains("= 0.60× (median of 4 rounds; of the totals 0.53×)"));
        assert!(!figures.goals_met());
        let json = figures.latest_json();
        assert_eq!(json["session_check_ratio"], 0.6);
        assert_eq!(json["bankid_status_ratio"], 0.48);
        assert_eq!(json["session_check_p99_ms"], 12.5);
        assert_eq!(json["errors"], 0);

        let mut with_errors = hello;
        with_errors[4].errors = 1;
        let mut bankid_errors = session;
        bankid_errors[1].errors = 2;
        let with_errors = ServerFigures::from_rounds(&with_errors, &session, &bankid_errors);
        assert_eq!(with_errors.errors, 3);
        assert!(!with_errors.goals_met());
        assert!(markdown(&with_errors).contains("| **no** |"));
    }

    #[test]
    fn the_card_bench_figures_are_read_per_kind() {
        let output = "card inserted → authentication certificate ready to show; RSA-2048 keys, \
                      certificate 1290 bytes, 20 insertions per card

PIV:
  inserted → CardInserted event:      median 210.00 ms, p95 400.00 ms, max 401.00 ms (n = 20)
  inserted → certificate ready:       median 230.50 ms, p95 420.10 ms, max 430.00 ms (n = 20)
  event → certificate read (connect, transaction, APDUs): median 20.00 ms, p95 21.00 ms, max 22.00 ms (n = 20)
  one round trip (SELECT, 200×):        median 0.40 ms, p95 0.50 ms, max 0.90 ms (n = 200)
  APDUs to read it: 8 (the card's count; the session counted 8); floor 7; ratio 1.14
  read median 20.00 ms vs floor 7 × 0.400 ms = 2.80 ms; ratio 7.14

PKCS#15:
  inserted → certificate ready:       median 240.00 ms, p95 430.00 ms, max 440.00 ms (n = 20)
  APDUs to read it: 9 (the card's count; the session counted 9); floor 9; ratio 1.00
  read median 10.00 ms vs floor 9 × 0.400 ms = 3.60 ms; ratio 2.78
";
        let figures = parse_card_bench(output);
        assert_eq!(figures.len(), 2, "{figures:?}");
        assert_eq!(figures[0].kind, "PIV");
        assert_eq!(figures[0].ready_median_ms, 230.5);
        assert!(figures[0]
            .ready
            .starts_with("median 230.50 ms, p95 420.10 ms"));
        assert_eq!(
            figures[0].against_floor,
            "APDUs 1.14×, time 7.14× the floor"
        );
        assert_eq!(figures[1].kind, "PKCS#15");
        assert_eq!(
            figures[1].against_floor,
            "APDUs 1.00×, time 2.78× the floor"
        );
        assert!(parse_card_bench("no figures here\n").is_empty());
    }

    #[test]
    fn the_password_bench_ratio_line_is_read() {
        let output = "raw hashes per second: 40.1\nratio: 0.93 (goal ≥ 0.9) ok\n";
        assert_eq!(parse_ratio_line(output), Some(0.93));
        assert_eq!(parse_ratio_line("no ratio here\n"), None);
    }
}
