//! A real server in this process on 127.0.0.1:0, a ManualClock to move its time, and an HTTP
//! client that speaks to it over TCP. Plus local sinks: SMTP (a tiny server that speaks just
//! enough ESMTP) and an HTTP SMS gateway.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Form;
use base64::Engine as _;
use legitimera_protocol::{Channel, OutboxMessage};
use legitimera_server::clock::ManualClock;
use legitimera_server::config::{Config, Database, FileConfig, Overrides};
use legitimera_server::Running;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

pub mod siths;

pub const DEMO_PASSWORD: &str = "demo-lösenord-2026";
pub const GOOD_PASSWORD: &str = "en lång och ovanlig fras";

pub struct TestServer {
    pub running: Running,
    pub clock: Arc<ManualClock>,
    pub client: reqwest::Client,
}

/// What a request answered: status, headers, JSON body (`Null` when empty).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
}

/// One `legitimera-server` process (the real binary); killed (SIGKILL) when dropped.
pub struct ServerProcess {
    pub child: tokio::process::Child,
    pub url: String,
}

impl ServerProcess {
    /// The `legitimera-server` binary in demo mode on `database_url`, with `extra` arguments,
    /// once it says where it listens.
    pub async fn start(database_url: &str, extra: &[String]) -> ServerProcess {
        Self::start_with(database_url, extra, "warn", std::process::Stdio::inherit()).await
    }

    /// [`ServerProcess::start`] logging at `log` (`LEGITIMERA_LOG`) to `stderr`. Its stdout
    /// is not read after the address.
    pub async fn start_with(
        database_url: &str,
        extra: &[String],
        log: &str,
        stderr: std::process::Stdio,
    ) -> ServerProcess {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_legitimera-server"))
            .args([
                "--demo",
                "--listen",
                "127.0.0.1:0",
                "--database-url",
                database_url,
            ])
            .args(extra)
            .env("LEGITIMERA_LOG", log)
            .stdout(std::process::Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let url = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(url) = line.strip_prefix("listening on ") {
                    return url.to_owned();
                }
            }
            panic!("the server exited before listening");
        })
        .await
        .expect("the server did not start within 60 s");
        ServerProcess { child, url }
    }

    pub fn api(&self, path: &str) -> String {
        format!("{}/api/v1/{path}", self.url)
    }
}

/// The variable `cargo xtask test` sets to a throwaway PostgreSQL cluster's URL (any existing
/// database on it, e.g. `postgres://legitimera@127.0.0.1:PORT/postgres`) to run this suite on
/// PostgreSQL; unset, the suite runs on SQLite.
pub const TEST_DATABASE_URL: &str = "LEGITIMERA_TEST_DATABASE_URL";

/// A new, empty database on the test PostgreSQL server, one per test server (tests run in
/// parallel and seed the same demo people); `None` when the suite runs on SQLite. The cluster
/// is thrown away whole at the end of the run, so the databases are not dropped one by one.
pub async fn fresh_postgres_database() -> Option<String> {
    use sqlx::{Connection as _, Executor as _};
    let admin = std::env::var(TEST_DATABASE_URL).ok()?;
    let name = format!("legitimera_test_{:016x}", rand::random::<u64>());
    let mut connection = sqlx::PgConnection::connect(&admin)
        .await
        .unwrap_or_else(|e| panic!("{TEST_DATABASE_URL}: cannot connect: {e}"));
    connection
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap();
    connection.close().await.unwrap();
    let mut url = url::Url::parse(&admin).unwrap();
    url.set_path(&name);
    Some(url.to_string())
}

pub fn demo_overrides() -> Overrides {
    Overrides {
        demo: true,
        listen: Some("127.0.0.1:0".parse().unwrap()),
        ..Default::default()
    }
}

impl TestServer {
    pub async fn demo() -> Self {
        Self::with(demo_overrides()).await
    }

    pub async fn with(over: Overrides) -> Self {
        let config = Config::resolve(FileConfig::default(), over).unwrap();
        Self::with_config(config).await
    }

    pub async fn with_config(config: Config) -> Self {
        Self::with_config_and_clock(config, Arc::new(ManualClock::new())).await
    }

    /// With a clock the test shares with something else (the BankID simulator).
    /// With `LEGITIMERA_TEST_DATABASE_URL` set, a server that would get a temporary SQLite
    /// database gets a fresh PostgreSQL database instead (see [`fresh_postgres_database`]).
    pub async fn with_config_and_clock(mut config: Config, clock: Arc<ManualClock>) -> Self {
        if config.database == Database::Temporary {
            if let Some(url) = fresh_postgres_database().await {
                config.database = Database::Url(url);
            }
        }
        let running = legitimera_server::start(config, clock.clone())
            .await
            .unwrap();
        TestServer {
            running,
            clock,
            client: reqwest::Client::new(),
        }
    }

    pub fn advance(&self, seconds: u64) {
        self.clock.advance(Duration::from_secs(seconds));
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(self.client.post(self.url(path)).json(&body))
            .await
    }

    pub async fn post_auth(&self, path: &str, token: &str, body: Value) -> Answer {
        self.send(
            self.client
                .post(self.url(path))
                .bearer_auth(token)
                .json(&body),
        )
        .await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(self.client.get(self.url(path))).await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.send(self.client.delete(self.url(path))).await
    }

    pub async fn get_auth(&self, path: &str, token: &str) -> Answer {
        self.send(self.client.get(self.url(path)).bearer_auth(token))
            .await
    }

    pub async fn delete_auth(&self, path: &str, token: &str) -> Answer {
        self.send(self.client.delete(self.url(path)).bearer_auth(token))
            .await
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = request.send().await.unwrap();
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with('/') {
            format!("{}{path}", self.running.url())
        } else {
            format!("{}/api/v1/{path}", self.running.url())
        }
    }

    pub async fn outbox(&self) -> Vec<OutboxMessage> {
        let response = self
            .client
            .get(format!("{}/demo/outbox", self.running.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        response.json().await.unwrap()
    }

    /// The code in the newest message to `to` on `channel`.
    pub async fn last_code(&self, channel: Channel, to: &str) -> String {
        let outbox = self.outbox().await;
        let message = outbox
            .iter()
            .rev()
            .find(|m| m.channel == channel && m.to == to)
            .unwrap_or_else(|| panic!("no {channel:?} to {to} in {outbox:#?}"));
        code_in(&message.body).unwrap_or_else(|| panic!("no code in {:?}", message.body))
    }

    /// Registers and finishes (e-mail code, and SMS code when `phone` is given).
    pub async fn register(&self, email: &str, phone: Option<&str>) {
        let mut body = json!({"email": email, "password": GOOD_PASSWORD});
        if let Some(phone) = phone {
            body["phone"] = json!(phone);
        }
        let started = self.post("registrations", body).await;
        assert_eq!(started.status, StatusCode::CREATED, "{:?}", started.body);
        let id = started.body["id"].as_str().unwrap().to_owned();
        let code = self.last_code(Channel::Email, email).await;
        let after_email = self
            .post(
                &format!("registrations/{id}/email-code"),
                json!({"code": code}),
            )
            .await;
        assert_eq!(after_email.status, StatusCode::OK, "{:?}", after_email.body);
        if let Some(phone) = phone {
            assert_eq!(after_email.body["next"], "sms_code");
            let e164 = format!("+46{}", &phone[1..]);
            let code = self.last_code(Channel::Sms, &e164).await;
            let done = self
                .post(
                    &format!("registrations/{id}/sms-code"),
                    json!({"code": code}),
                )
                .await;
            assert_eq!(done.body["next"], "done", "{:?}", done.body);
        } else {
            assert_eq!(after_email.body["next"], "done");
        }
    }

    /// Password (+ SMS code from the outbox when the account has two-step): the session token.
    pub async fn log_in(&self, email: &str, password: &str) -> (String, String) {
        let answer = self
            .post(
                "login/password",
                json!({"email": email, "password": password}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
        if answer.body["next"] == "session" {
            return (
                answer.body["token"].as_str().unwrap().to_owned(),
                answer.body["assurance"].as_str().unwrap().to_owned(),
            );
        }
        assert_eq!(answer.body["next"], "sms_code");
        let challenge_id = answer.body["id"].as_str().unwrap().to_owned();
        let outbox = self.outbox().await;
        let sms = outbox
            .iter()
            .rev()
            .find(|m| m.channel == Channel::Sms)
            .unwrap();
        let code = code_in(&sms.body).unwrap();
        let session = self
            .post(
                "login/sms",
                json!({"challenge_id": challenge_id, "code": code}),
            )
            .await;
        assert_eq!(session.status, StatusCode::OK, "{:?}", session.body);
        (
            session.body["token"].as_str().unwrap().to_owned(),
            session.body["assurance"].as_str().unwrap().to_owned(),
        )
    }
}

/// The first run of exactly six digits in a text.
pub fn code_in(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut start = None;
    for (i, b) in bytes.iter().chain(std::iter::once(&b' ')).enumerate() {
        match (b.is_ascii_digit(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                if i - s == 6 {
                    return Some(text[s..i].to_owned());
                }
                start = None;
            }
            _ => {}
        }
    }
    None
}

/// A mail sink speaking just enough ESMTP (EHLO, MAIL, RCPT, DATA, QUIT). Each message's text
/// (headers and decoded body) arrives on the returned list.
#[derive(Clone, Default)]
pub struct SmtpSink {
    pub messages: Arc<Mutex<Vec<String>>>,
}

impl SmtpSink {
    pub async fn start(listener: TcpListener) -> Self {
        let sink = SmtpSink::default();
        let messages = sink.messages.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let messages = messages.clone();
                tokio::spawn(async move {
                    let (read, mut write) = stream.into_split();
                    let mut lines = BufReader::new(read).lines();
                    write.write_all(b"220 sink ESMTP\r\n").await.unwrap();
                    while let Ok(Some(line)) = lines.next_line().await {
                        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                        let reply: &[u8] = match verb.as_str() {
                            "EHLO" => b"250-sink\r\n250 8BITMIME\r\n",
                            "DATA" => {
                                write.write_all(b"354 end with .\r\n").await.unwrap();
                                let mut data = Vec::new();
                                while let Ok(Some(line)) = lines.next_line().await {
                                    if line == "." {
                                        break;
                                    }
                                    // SMTP dot-stuffing: a leading ".." stands for ".".
                                    let line = match line.strip_prefix("..") {
                                        Some(rest) => format!(".{rest}"),
                                        None => line,
                                    };
                                    data.push(line);
                                }
                                messages.lock().unwrap().push(decode_mail(&data));
                                b"250 queued\r\n"
                            }
                            "QUIT" => {
                                let _ = write.write_all(b"221 bye\r\n").await;
                                break;
                            }
                            _ => b"250 ok\r\n",
                        };
                        write.write_all(reply).await.unwrap();
                    }
                });
            }
        });
        sink
    }

    pub fn all(&self) -> Vec<String> {
        self.messages.lock().unwrap().clone()
    }
}

/// Headers as they are, the body decoded from quoted-printable or base64.
fn decode_mail(lines: &[String]) -> String {
    let split = lines
        .iter()
        .position(String::is_empty)
        .unwrap_or(lines.len());
    let headers = lines[..split].join("\n");
    let body_lines = &lines[(split + 1).min(lines.len())..];
    let lower = headers.to_ascii_lowercase();
    let body = if lower.contains("content-transfer-encoding: base64") {
        let joined: String = body_lines.concat();
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(joined.trim())
                .unwrap(),
        )
        .unwrap()
    } else if lower.contains("content-transfer-encoding: quoted-printable") {
        let mut joined = String::new();
        for line in body_lines {
            match line.strip_suffix('=') {
                Some(soft) => joined.push_str(soft),
                None => {
                    joined.push_str(line);
                    joined.push('\n');
                }
            }
        }
        let bytes = joined.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'=' && i + 2 < bytes.len() {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    } else {
        body_lines.join("\n")
    };
    format!("{headers}\n\n{body}")
}

/// An HTTP SMS gateway in the style of 46elks: form POST of from, to, message with basic auth.
/// Requests without the right credentials get 401 and are not kept.
#[derive(Clone, Default)]
pub struct SmsSink {
    pub messages: Arc<Mutex<Vec<(String, String, String)>>>,
}

pub const SMS_USER: &str = "u_gateway";
pub const SMS_PASSWORD: &str = "gateway-secret";

#[derive(serde::Deserialize)]
struct SmsForm {
    from: String,
    to: String,
    message: String,
}

impl SmsSink {
    /// Serves on 127.0.0.1:0 and answers its URL.
    pub async fn start() -> (Self, String) {
        let sink = SmsSink::default();
        let app = axum::Router::new()
            .route("/a1/sms", axum::routing::post(receive))
            .with_state(sink.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/a1/sms", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (sink, url)
    }

    pub fn all(&self) -> Vec<(String, String, String)> {
        self.messages.lock().unwrap().clone()
    }
}

async fn receive(
    State(sink): State<SmsSink>,
    headers: HeaderMap,
    Form(form): Form<SmsForm>,
) -> StatusCode {
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{SMS_USER}:{SMS_PASSWORD}"))
    );
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        return StatusCode::UNAUTHORIZED;
    }
    sink.messages
        .lock()
        .unwrap()
        .push((form.from, form.to, form.message));
    StatusCode::OK
}
