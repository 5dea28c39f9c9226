//! `cargo xtask bench soak`: 1,000 concurrent sessions against the release demo server for
//! 5 minutes, on SQLite and on PostgreSQL (the throwaway cluster of postgres.rs), at human
//! pace: each session logs in, then every 5–15 s (with jitter) pings activity
//! (`POST /api/v1/session/activity`) or reads Min sida (`GET /api/v1/cases`), alternately.
//!
//! Logins are as real users make them: nine in ten by BankID (the demo server's simulator:
//! an order, the simulator's test app signing it as a person of its own — 900 different
//! personnummer — and the app's long poll until the token), one in ten by password (the demo
//! account without two-step). Every session comes from its own loopback address
//! (127.10.x.y, reqwest's `local_address`), as users do from their own machines, so the
//! server's per-address limits (60 BankID orders in 15 minutes, …) apply per user as they
//! would in production and are not weakened; password logins are spread over the first
//! minute, so argon2id's queue is never full. Logins ramp up over [`RAMP`]; then all of them
//! run together for the given minutes.
//!
//! Judged: zero errors (any answer but the expected one, any transport error), no session lost
//! (a 401 before the end) or ended early (an activity answer whose idle time is not the full
//! idle limit); at the end every session still answers `GET /session`, logs out, and is
//! unknown afterwards. Measured: the server's RSS every 10 s (flat after warm-up: at most
//! [`RSS_GROWTH_LIMIT`] above the first sample after the ramp), p99 latency per minute (the
//! long poll's wait is not latency and is left out). Bounded: every request has a 30 s
//! timeout and the whole run a deadline; loopback only; the server is stopped on drop
//! (SIGTERM, then SIGKILL).

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::Value;
use tokio::time::Instant;

use crate::bench_load::{self, Served};

/// Over how long the logins are spread.
pub const RAMP: Duration = Duration::from_secs(60);
/// How much the RSS may grow after warm-up and still count as flat.
pub const RSS_GROWTH_LIMIT: f64 = 0.10;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a client keeps an idle connection: below the server's `header_read_timeout`
/// (10 s), which also closes a kept-alive connection that sends no next request. A client
/// that keeps it longer races the server's close: a request sent just as the server closes
/// fails with "connection closed before message completed" (the first soak runs: one session
/// whose pause was exactly 10.000 s, every time).
const CLIENT_IDLE_TIMEOUT: Duration = Duration::from_secs(8);
const DEMO_EMAIL: &str = "erik@example.se";
const DEMO_PASSWORD: &str = "demo-lösenord-2026";
/// Errors quoted in the report (the rest are counted).
const QUOTED_ERRORS: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Settings {
    minutes: u64,
    sessions: usize,
    sqlite_only: bool,
}

fn parse_args(args: &[String]) -> Result<Settings> {
    let mut settings = Settings {
        minutes: 5,
        sessions: 1000,
        sqlite_only: false,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--minutes" => {
                settings.minutes = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| (1..=60).contains(n))
                    .context("--minutes needs a whole number from 1 to 60")?;
            }
            "--sessions" => {
                settings.sessions = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| (1..=20_000).contains(n))
                    .context("--sessions needs a whole number from 1 to 20000")?;
            }
            "--sqlite-only" => settings.sqlite_only = true,
            "--no-install" => {}
            other => bail!("cargo xtask bench soak: unexpected {other}"),
        }
    }
    Ok(settings)
}

/// Session `i`'s own loopback address: 127.10.0.1, …, 127.10.0.200, 127.10.1.1, …
pub fn source_address(i: usize) -> Ipv4Addr {
    let block = u8::try_from(i / 200).unwrap_or(u8::MAX);
    let host = u8::try_from(i % 200 + 1).unwrap_or(1);
    Ipv4Addr::new(127, 10, block, host)
}

/// A valid personnummer (YYYYMMDDNNNC, Luhn over YYMMDDNNN) of its own for session `i`
/// (distinct for i below 16,800).
pub fn personnummer(i: usize) -> String {
    let year = 1950 + i % 50;
    let month = 1 + (i / 50) % 12;
    let day = 1 + (i / 600) % 28;
    let serial = 100 + i % 800;
    let body = format!("{year:04}{month:02}{day:02}{serial:03}");
    let digits: Vec<u32> = body[2..].bytes().map(|b| u32::from(b - b'0')).collect();
    let sum: u32 = digits
        .iter()
        .enumerate()
        .map(|(index, digit)| {
            let weighted = digit * if index % 2 == 0 { 2 } else { 1 };
            weighted / 10 + weighted % 10
        })
        .sum();
    format!("{body}{}", (10 - sum % 10) % 10)
}

/// A small deterministic generator for the jitter (xorshift64*).
struct Jitter(u64);

impl Jitter {
    fn new(seed: usize) -> Self {
        Jitter((seed as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// Uniform in [low, high).
    fn between(&mut self, low: Duration, high: Duration) -> Duration {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        let span = (high - low).as_millis() as u64;
        low + Duration::from_millis(if span == 0 { 0 } else { x % span })
    }
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// `VmRSS` in KiB from /proc/PID/status's text.
pub fn parse_vm_rss(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kb| kb.parse().ok())
}

/// Growth of the RSS after warm-up: (largest sample after `warm_up_s` − first sample after
/// it) / first; `None` without samples after it.
pub fn rss_growth(samples: &[(u64, u64)], warm_up_s: u64) -> Option<f64> {
    let after: Vec<u64> = samples
        .iter()
        .filter(|(at, _)| *at >= warm_up_s)
        .map(|(_, kb)| *kb)
        .collect();
    let first = *after.first()?;
    let largest = *after.iter().max()?;
    Some((largest as f64 - first as f64) / first.max(1) as f64)
}

/// What all sessions share.
#[derive(Debug, Default)]
struct Tally {
    requests: AtomicU64,
    errors: AtomicU64,
    lost: AtomicU64,
    ended_early: AtomicU64,
    logged_in: AtomicU64,
    bankid_logins: AtomicU64,
    password_logins: AtomicU64,
    logged_out: AtomicU64,
    quoted: Mutex<Vec<String>>,
}

impl Tally {
    fn error(&self, what: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let mut quoted = self.quoted.lock().unwrap_or_else(|e| e.into_inner());
        if quoted.len() < QUOTED_ERRORS {
            eprintln!("  error: {what}");
            quoted.push(what);
        }
    }
}

/// One request's latency: the minute it started in (from the soak's start) and milliseconds.
type Sample = (u32, f64);

struct Session {
    i: usize,
    base: String,
    client: reqwest::Client,
    started: Instant,
    tally: Arc<Tally>,
    samples: Vec<Sample>,
    login_ms: Vec<f64>,
}

impl Session {
    /// A request, timed; its status and JSON body (`Value::Null` when empty).
    async fn send(
        &mut self,
        request: reqwest::RequestBuilder,
        timed: bool,
    ) -> Result<(u16, Value)> {
        let sent = Instant::now();
        self.tally.requests.fetch_add(1, Ordering::Relaxed);
        let response = request.send().await?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await?;
        if timed {
            let minute = (sent - self.started).as_secs() / 60;
            self.samples.push((
                u32::try_from(minute).unwrap_or(u32::MAX),
                sent.elapsed().as_secs_f64() * 1000.0,
            ));
        }
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        };
        Ok((status, body))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn log_in(&mut self) -> Result<String> {
        let started = Instant::now();
        let token = if self.i % 10 == 0 {
            self.password_login().await?
        } else {
            self.bankid_login().await?
        };
        self.login_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        Ok(token)
    }

    async fn password_login(&mut self) -> Result<String> {
        let request = self
            .client
            .post(self.url("/api/v1/login/password"))
            .json(&serde_json::json!({"email": DEMO_EMAIL, "password": DEMO_PASSWORD}));
        let (status, body) = self.send(request, true).await?;
        if status != 200 {
            bail!("password login: {status} {body}");
        }
        self.tally.password_logins.fetch_add(1, Ordering::Relaxed);
        body["token"]
            .as_str()
            .map(str::to_owned)
            .context("password login without token")
    }

    async fn bankid_login(&mut self) -> Result<String> {
        let request = self
            .client
            .post(self.url("/api/v1/bankid/orders"))
            .json(&serde_json::json!({"mode": "this_device"}));
        let (status, order) = self.send(request, true).await?;
        if status != 201 {
            bail!("BankID order: {status} {order}");
        }
        let id = order["id"].as_str().context("order without id")?.to_owned();
        let autostart = order["autostarttoken"]
            .as_str()
            .context("order without autostarttoken")?
            .to_owned();
        let mut version = order["version"].as_u64().unwrap_or(0);
        let request = self.client.post(self.url("/demo/bankid/sign")).json(
            &serde_json::json!({"autostarttoken": autostart, "personal_number": personnummer(self.i)}),
        );
        let (status, body) = self.send(request, true).await?;
        if status != 200 {
            bail!("BankID sign: {status} {body}");
        }
        // The app's long poll, until the order completes (the simulator takes a few seconds).
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let request = self.client.get(self.url(&format!(
                "/api/v1/bankid/orders/{id}?wait=25&since={version}"
            )));
            let (status, body) = self.send(request, false).await?;
            if status != 200 {
                bail!("BankID status: {status} {body}");
            }
            match body["status"].as_str() {
                Some("complete") => {
                    self.tally.bankid_logins.fetch_add(1, Ordering::Relaxed);
                    return body["token"]
                        .as_str()
                        .map(str::to_owned)
                        .context("a complete order without token");
                }
                Some("pending") => version = body["version"].as_u64().unwrap_or(version),
                _ => bail!("BankID order ended: {body}"),
            }
        }
        bail!("BankID order not complete within 60 s")
    }
}

/// One user: logs in at `login_at`, is active at human pace until `end`, then checks that
/// the session is still there, logs out and checks that it is gone.
async fn user(mut session: Session, login_at: Instant, end: Instant) -> (Vec<Sample>, Vec<f64>) {
    tokio::time::sleep_until(login_at).await;
    let tally = session.tally.clone();
    let token = match session.log_in().await {
        Ok(token) => token,
        Err(error) => {
            tally.error(format!("session {}: login: {error:#}", session.i));
            return (session.samples, session.login_ms);
        }
    };
    tally.logged_in.fetch_add(1, Ordering::Relaxed);
    let bearer = format!("Bearer {token}");
    let mut jitter = Jitter::new(session.i);
    let mut step = 0u64;
    loop {
        let pause = jitter.between(Duration::from_secs(5), Duration::from_secs(15));
        if Instant::now() + pause >= end {
            break;
        }
        tokio::time::sleep(pause).await;
        step += 1;
        let (what, request) = if step % 2 == 1 {
            (
                "activity",
                session.client.post(session.url("/api/v1/session/activity")),
            )
        } else {
            ("cases", session.client.get(session.url("/api/v1/cases")))
        };
        let request = request.header("Authorization", &bearer);
        match session.send(request, true).await {
            Ok((200, body)) => {
                if what == "activity" {
                    let idle = body["idle_expires_in"].as_u64().unwrap_or(0);
                    let limit = body["idle_timeout"].as_u64().unwrap_or(u64::MAX);
                    if idle + 2 < limit {
                        tally.ended_early.fetch_add(1, Ordering::Relaxed);
                        tally.error(format!(
                            "session {}: activity left {idle} s of {limit}",
                            session.i
                        ));
                    }
                }
            }
            Ok((401, body)) => {
                tally.lost.fetch_add(1, Ordering::Relaxed);
                tally.error(format!("session {}: {what}: lost: {body}", session.i));
                return (session.samples, session.login_ms);
            }
            Ok((status, body)) => {
                tally.error(format!("session {}: {what}: {status} {body}", session.i))
            }
            Err(error) => tally.error(format!("session {}: {what}: {error:#}", session.i)),
        }
    }
    // Still there at the end, then logged out, then unknown.
    let status_url = session.url("/api/v1/session");
    let checks = [
        (reqwest::Method::GET, 200, "at the end"),
        (reqwest::Method::DELETE, 204, "logout"),
        (reqwest::Method::GET, 401, "after logout"),
    ];
    for (method, expected, what) in checks {
        let request = session
            .client
            .request(method, &status_url)
            .header("Authorization", &bearer);
        match session.send(request, true).await {
            Ok((status, _)) if status == expected => {
                if expected == 204 {
                    tally.logged_out.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok((401, body)) if expected == 200 => {
                tally.lost.fetch_add(1, Ordering::Relaxed);
                tally.error(format!("session {}: {what}: lost: {body}", session.i));
                break;
            }
            Ok((status, body)) => {
                tally.error(format!("session {}: {what}: {status} {body}", session.i));
                break;
            }
            Err(error) => {
                tally.error(format!("session {}: {what}: {error:#}", session.i));
                break;
            }
        }
    }
    (session.samples, session.login_ms)
}

/// One backend's figures.
#[derive(Debug, Clone)]
pub struct SoakReport {
    pub backend: String,
    pub sessions: usize,
    pub logged_in: u64,
    pub bankid_logins: u64,
    pub password_logins: u64,
    pub logged_out: u64,
    pub requests: u64,
    pub errors: u64,
    pub lost: u64,
    pub ended_early: u64,
    pub quoted_errors: Vec<String>,
    /// Minute, requests, p50 ms, p99 ms.
    pub per_minute: Vec<(u32, usize, f64, f64)>,
    pub login_p50_ms: f64,
    pub login_p99_ms: f64,
    /// Seconds from the start, KiB.
    pub rss: Vec<(u64, u64)>,
    pub rss_growth: Option<f64>,
    pub warm_up_s: u64,
    pub seconds: f64,
    pub load_before: String,
    pub load_after: String,
}

impl SoakReport {
    pub fn ok(&self) -> bool {
        self.errors == 0
            && self.lost == 0
            && self.ended_early == 0
            && self.logged_in == self.sessions as u64
            && self.logged_out == self.sessions as u64
            && self.rss_growth.is_some_and(|g| g <= RSS_GROWTH_LIMIT)
    }
}

/// Per-minute counts, p50 and p99 of the samples.
pub fn per_minute(samples: &[Sample]) -> Vec<(u32, usize, f64, f64)> {
    let last = samples.iter().map(|(m, _)| *m).max().unwrap_or(0);
    (0..=last)
        .filter_map(|minute| {
            let mut ms: Vec<f64> = samples
                .iter()
                .filter(|(m, _)| *m == minute)
                .map(|(_, ms)| *ms)
                .collect();
            if ms.is_empty() {
                return None;
            }
            ms.sort_by(f64::total_cmp);
            Some((
                minute,
                ms.len(),
                percentile(&ms, 50.0),
                percentile(&ms, 99.0),
            ))
        })
        .collect()
}

fn rss_of(pid: u32) -> Option<u64> {
    parse_vm_rss(&std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?)
}

/// The soak against one running server.
fn soak(server: &mut Served, backend: &str, settings: &Settings) -> Result<SoakReport> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let base = server.url().to_owned();
    let pid = server.pid();
    let load_before = crate::bench_load::loadavg();
    println!(
        "\n==> soak on {backend}: {} sessions, logins over {} s, then {} min (load {load_before})",
        settings.sessions,
        RAMP.as_secs(),
        settings.minutes
    );
    let tally = Arc::new(Tally::default());
    let (samples, login_ms, rss, seconds) = runtime.block_on(async {
        let started = Instant::now();
        let end = started + RAMP + Duration::from_secs(settings.minutes * 60);
        let mut users = Vec::with_capacity(settings.sessions);
        for i in 0..settings.sessions {
            let client = reqwest::Client::builder()
                .local_address(IpAddr::V4(source_address(i)))
                .timeout(REQUEST_TIMEOUT)
                .pool_idle_timeout(CLIENT_IDLE_TIMEOUT)
                .build()?;
            let session = Session {
                i,
                base: base.clone(),
                client,
                started,
                tally: tally.clone(),
                samples: Vec::new(),
                login_ms: Vec::new(),
            };
            let login_at = started + RAMP.mul_f64(i as f64 / settings.sessions as f64);
            users.push(tokio::spawn(user(session, login_at, end)));
        }
        let sampler = {
            let tally = tally.clone();
            tokio::spawn(async move {
                let mut samples = Vec::new();
                let mut tick = tokio::time::interval(Duration::from_secs(10));
                while Instant::now() < end {
                    tick.tick().await;
                    let at = started.elapsed().as_secs();
                    if let Some(kb) = rss_of(pid) {
                        samples.push((at, kb));
                        println!(
                            "  {at:>4} s  RSS {:>6.1} MiB  logged in {:>5}  requests {:>7}  errors {}",
                            kb as f64 / 1024.0,
                            tally.logged_in.load(Ordering::Relaxed),
                            tally.requests.load(Ordering::Relaxed),
                            tally.errors.load(Ordering::Relaxed),
                        );
                    }
                }
                samples
            })
        };
        let mut samples = Vec::new();
        let mut login_ms = Vec::new();
        // Bounded: the users end by themselves by `end` plus their last requests' timeouts.
        let deadline = end + REQUEST_TIMEOUT * 4 + Duration::from_secs(60);
        for user in users {
            match tokio::time::timeout_at(deadline, user).await {
                Ok(Ok((s, l))) => {
                    samples.extend(s);
                    login_ms.extend(l);
                }
                Ok(Err(error)) => tally.error(format!("a session's task failed: {error}")),
                Err(_) => tally.error("a session did not finish by the deadline".to_owned()),
            }
        }
        let rss = sampler.await.unwrap_or_default();
        anyhow::Ok((samples, login_ms, rss, started.elapsed().as_secs_f64()))
    })?;
    runtime.shutdown_timeout(Duration::from_secs(5));
    if !server.alive() {
        tally.error("the server exited during the soak".to_owned());
    }
    let mut login_sorted = login_ms;
    login_sorted.sort_by(f64::total_cmp);
    // Warm-up: the ramp and half a minute after it.
    let warm_up_s = RAMP.as_secs() + 30;
    let quoted = tally
        .quoted
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    Ok(SoakReport {
        backend: backend.to_owned(),
        sessions: settings.sessions,
        logged_in: tally.logged_in.load(Ordering::Relaxed),
        bankid_logins: tally.bankid_logins.load(Ordering::Relaxed),
        password_logins: tally.password_logins.load(Ordering::Relaxed),
        logged_out: tally.logged_out.load(Ordering::Relaxed),
        requests: tally.requests.load(Ordering::Relaxed),
        errors: tally.errors.load(Ordering::Relaxed),
        lost: tally.lost.load(Ordering::Relaxed),
        ended_early: tally.ended_early.load(Ordering::Relaxed),
        quoted_errors: quoted,
        per_minute: per_minute(&samples),
        login_p50_ms: percentile(&login_sorted, 50.0),
        login_p99_ms: percentile(&login_sorted, 99.0),
        rss_growth: rss_growth(&rss, warm_up_s),
        rss,
        warm_up_s,
        seconds,
        load_before,
        load_after: crate::bench_load::loadavg(),
    })
}

/// The report as markdown.
pub fn markdown(reports: &[SoakReport]) -> String {
    let mut out = String::new();
    out.push_str("| Measure | ");
    out.push_str(
        &reports
            .iter()
            .map(|r| r.backend.clone())
            .collect::<Vec<_>>()
            .join(" | "),
    );
    out.push_str(" | Goal |\n| --- |");
    out.push_str(&" --- |".repeat(reports.len()));
    out.push_str(" --- |\n");
    let mut row = |measure: &str, figure: &dyn Fn(&SoakReport) -> String, goal: &str| {
        out.push_str(&format!("| {measure} | "));
        out.push_str(&reports.iter().map(figure).collect::<Vec<_>>().join(" | "));
        out.push_str(&format!(" | {goal} |\n"));
    };
    row(
        "sessions logged in (BankID / password)",
        &|r| {
            format!(
                "{} of {} ({} / {})",
                r.logged_in, r.sessions, r.bankid_logins, r.password_logins
            )
        },
        "all",
    );
    row(
        "login time p50 / p99 (BankID: order → simulator signs → token)",
        &|r| format!("{:.0} / {:.0} ms", r.login_p50_ms, r.login_p99_ms),
        "—",
    );
    row(
        "requests",
        &|r| format!("{} in {:.0} s", r.requests, r.seconds),
        "—",
    );
    row("errors", &|r| r.errors.to_string(), "0");
    row(
        "sessions lost / ended early",
        &|r| format!("{} / {}", r.lost, r.ended_early),
        "0 / 0",
    );
    row(
        "logged out at the end (then unknown)",
        &|r| format!("{} of {}", r.logged_out, r.sessions),
        "all",
    );
    let minutes = reports
        .iter()
        .flat_map(|r| r.per_minute.iter().map(|m| m.0))
        .max()
        .unwrap_or(0);
    for minute in 0..=minutes {
        row(
            &format!("minute {}: requests, p50 / p99", minute + 1),
            &|r| {
                r.per_minute
                    .iter()
                    .find(|m| m.0 == minute)
                    .map(|(_, n, p50, p99)| format!("{n}, {p50:.1} / {p99:.1} ms"))
                    .unwrap_or_else(|| "—".to_owned())
            },
            "—",
        );
    }
    row(
        "server RSS every 10 s (MiB)",
        &|r| {
            r.rss
                .iter()
                .map(|(_, kb)| format!("{:.0}", *kb as f64 / 1024.0))
                .collect::<Vec<_>>()
                .join(" ")
        },
        "—",
    );
    row(
        "RSS growth after warm-up",
        &|r| match r.rss_growth {
            Some(g) => format!(
                "{:+.1} % (from {} s on) {}",
                g * 100.0,
                r.warm_up_s,
                if g <= RSS_GROWTH_LIMIT {
                    "flat"
                } else {
                    "GROWING"
                }
            ),
            None => "no samples".to_owned(),
        },
        &format!("≤ {:.0} %", RSS_GROWTH_LIMIT * 100.0),
    );
    row(
        "load average before → after",
        &|r| format!("{} → {}", r.load_before, r.load_after),
        "—",
    );
    row(
        "verdict",
        &|r| {
            if r.ok() {
                "ok".into()
            } else {
                "**FAILED**".into()
            }
        },
        "ok",
    );
    for report in reports {
        for error in &report.quoted_errors {
            out.push_str(&format!("\n- {}: {error}", report.backend));
        }
    }
    out.push('\n');
    out
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| parse_kb_line(&s, "MemTotal:"))
        .map_or(0.0, |kb| kb as f64 / 1024.0 / 1024.0);
    let os = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_owned())
        })
        .unwrap_or_default();
    format!("{cpu}, {cores} cores, {memory:.0} GiB, {os}")
}

fn parse_kb_line(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kb| kb.parse().ok())
}

fn command_output(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// The results file: `<date>-<host>-soak.md` for the run the issue asks for (5 minutes, 1,000
/// sessions, both databases); any other run names its settings, so a shorter try does not
/// overwrite it.
fn results_file(date: &str, host: &str, settings: &Settings) -> String {
    let standard = Settings {
        minutes: 5,
        sessions: 1000,
        sqlite_only: false,
    };
    if *settings == standard {
        return format!("{date}-{host}-soak.md");
    }
    format!(
        "{date}-{host}-soak-{}min-{}-sessions{}.md",
        settings.minutes,
        settings.sessions,
        if settings.sqlite_only { "-sqlite" } else { "" }
    )
}

fn write_results(reports: &[SoakReport], settings: &Settings, build_s: f64) -> Result<()> {
    let date = command_output("date", &["-u", "+%F"]);
    let host = command_output("hostname", &[]);
    let dir = crate::root().join("bench/results");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(results_file(&date, &host, settings));
    let text = format!(
        "# Soak: {} sessions for {} minutes ({date})\n\n\
         `cargo xtask bench soak` (xtask/src/bench_soak.rs): the release demo server \
         (release build {build_s:.0} s), logins over the first {} s (nine in ten BankID through the \
         simulator, one in ten password), then every session pings activity or reads Min sida \
         every 5–15 s; each session from its own loopback address.\n\n\
         Machine: {}\n\n{}",
        settings.sessions,
        settings.minutes,
        RAMP.as_secs(),
        machine(),
        markdown(reports)
    );
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    println!("\nwritten to {}", path.display());
    Ok(())
}

/// `cargo xtask bench soak [--minutes N] [--sessions N] [--sqlite-only]`.
pub fn command(args: &[String], install: bool) -> Result<()> {
    let settings = parse_args(args)?;
    if !settings.sqlite_only {
        crate::packages::ensure(&["postgresql"], install)?;
    }
    let (release, build_time) = bench_load::build_release()?;
    let dir = bench_load::work_dir()?;
    let mut reports = Vec::new();
    {
        let mut server =
            bench_load::start_server(&release, None, &dir.join("server-soak-sqlite.log"))?;
        reports.push(soak(&mut server, "SQLite", &settings)?);
    }
    if !settings.sqlite_only {
        let cluster = crate::postgres::Cluster::start()?;
        let mut server = bench_load::start_server(
            &release,
            Some(&cluster.url()),
            &dir.join("server-soak-postgres.log"),
        )?;
        reports.push(soak(&mut server, "PostgreSQL", &settings)?);
        drop(server);
        drop(cluster);
    }
    let table = markdown(&reports);
    println!("\n{table}");
    write_results(&reports, &settings, build_time.as_secs_f64())?;
    if !reports.iter().all(SoakReport::ok) {
        bail!("the soak found errors, lost sessions or growing memory");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn only_the_standard_run_writes_the_soak_file_others_name_their_settings() {
        let settings = |minutes, sessions, sqlite_only| Settings {
            minutes,
            sessions,
            sqlite_only,
        };
        assert_eq!(
            results_file("2026-11-30", "vm", &settings(5, 1000, false)),
            "2026-11-30-vm-soak.md"
        );
        assert_eq!(
            results_file("2026-11-30", "vm", &settings(2, 1000, false)),
            "2026-11-30-vm-soak-2min-1000-sessions.md"
        );
        assert_eq!(
            results_file("2026-11-30", "vm", &settings(5, 1000, true)),
            "2026-11-30-vm-soak-5min-1000-sessions-sqlite.md"
        );
    }

    #[test]
    fn personnummer_are_valid_and_distinct() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..2000 {
            let number = personnummer(i);
            assert_eq!(number.len(), 12, "{number}");
            assert!(seen.insert(number.clone()), "{number} twice");
        }
        // Skatteverket's example: 811228-9874.
        let digits: Vec<u32> = "811228987".bytes().map(|b| u32::from(b - b'0')).collect();
        let sum: u32 = digits
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let w = d * if i % 2 == 0 { 2 } else { 1 };
                w / 10 + w % 10
            })
            .sum();
        assert_eq!((10 - sum % 10) % 10, 4);
        assert_eq!(personnummer(0), "195001011005");
    }

    #[test]
    fn every_session_has_its_own_loopback_address() {
        let addresses: std::collections::HashSet<_> = (0..1000).map(source_address).collect();
        assert_eq!(addresses.len(), 1000);
        assert!(addresses
            .iter()
            .all(|a| a.is_loopback() && a.octets()[3] != 0));
        assert_eq!(source_address(0), Ipv4Addr::new(127, 10, 0, 1));
        assert_eq!(source_address(200), Ipv4Addr::new(127, 10, 1, 1));
    }

    #[test]
    fn vm_rss_is_read_from_proc_status() {
        let status = "Name:\tlegitimera-serv\nVmPeak:\t  900 kB\nVmRSS:\t   43216 kB\nThreads: 5\n";
        assert_eq!(parse_vm_rss(status), Some(43216));
        assert_eq!(parse_vm_rss("Name: x\n"), None);
    }

    #[test]
    fn rss_growth_counts_only_after_warm_up() {
        let samples = [(10, 100), (60, 500), (90, 1000), (100, 1050), (110, 1020)];
        let growth = rss_growth(&samples, 90).unwrap();
        assert!((growth - 0.05).abs() < 1e-9);
        assert_eq!(rss_growth(&samples, 200), None);
    }

    #[test]
    fn percentiles_per_minute() {
        let mut samples: Vec<Sample> = (1..=100).map(|n| (0, f64::from(n))).collect();
        samples.push((2, 7.0));
        let minutes = per_minute(&samples);
        assert_eq!(minutes.len(), 2);
        assert_eq!(minutes[0], (0, 100, 50.0, 99.0));
        assert_eq!(minutes[1], (2, 1, 7.0, 7.0));
        assert_eq!(percentile(&[], 99.0), 0.0);
    }

    #[test]
    fn jitter_stays_in_its_bounds() {
        let mut jitter = Jitter::new(7);
        for _ in 0..1000 {
            let d = jitter.between(Duration::from_secs(5), Duration::from_secs(15));
            assert!(d >= Duration::from_secs(5) && d < Duration::from_secs(15));
        }
    }

    #[test]
    fn arguments_are_checked() {
        let s = parse_args(&["--minutes".into(), "2".into(), "--sqlite-only".into()]).unwrap();
        assert_eq!((s.minutes, s.sessions, s.sqlite_only), (2, 1000, true));
        assert!(parse_args(&["--minutes".into(), "0".into()]).is_err());
        assert!(parse_args(&["--bogus".into()]).is_err());
    }
}
