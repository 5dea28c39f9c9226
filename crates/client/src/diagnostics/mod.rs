//! "Problem med inloggningen?": the agency's troubleshooting list for e-service ID cards, run
//! as checks with stable ids — the PC/SC service, readers, the card, its certificate, Net iD,
//! TLS inspection, a proxy, the backend and (on request) a test login — each answering a status,
//! a one-line summary, the facts seen and what to do, in the user's language. The same runner
//! serves the app's view and `legitimera --diagnose`. It knows nothing of Tauri; it never puts
//! the PIN or a personnummer in an outcome, and the holder's name and HSA-id only in
//! [`Report::identity`], which the report shows only when asked to.

mod backend;
pub(crate) mod card;
mod net_id;
mod proxy;
mod runs;
mod tls;

use std::future::Future;
use std::time::Duration;

use serde::Serialize;

use crate::api::ApiClient;
use crate::locale::Language;

pub use legitimera_card::Pin;

pub use backend::{RevocationAnswer, SithsCheckAnswer, SithsCheckRequest, SITHS_CHECK_PATH};
pub use net_id::NetIdPlaces;
pub use proxy::{ProxyEnv, ProxySetting};
pub use runs::{DiagnosticsView, Runs};
pub use tls::{Host, Trust, DEFAULT_HOSTS};

/// Debug builds only: `name=addr:port,…`, the TLS names to check and where to connect for each.
pub const HOSTS_ENV: &str = "LEGITIMERA_DIAGNOSTICS_HOSTS";
/// Debug builds only: a PEM file whose certificates replace the public web roots.
pub const PUBLIC_ROOTS_ENV: &str = "LEGITIMERA_DIAGNOSTICS_PUBLIC_ROOTS";
/// How long one check may take before it is reported as not finished.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(20);

/// Formats `$sv` or `$en` (with their inline arguments) for `$lang`.
macro_rules! tr {
    ($lang:expr, $sv:literal, $en:literal) => {
        match $lang {
            $crate::locale::Language::Sv => format!($sv),
            $crate::locale::Language::En => format!($en),
        }
    };
}
pub(crate) use tr;

/// A check's stable id: the JSON's `id`, the UI's row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckId {
    PcscService,
    Readers,
    Card,
    Certificate,
    NetId,
    TlsInterception,
    Proxy,
    Backend,
    TestLogin,
}

impl CheckId {
    /// Every check, in the order they run.
    pub const ALL: [CheckId; 9] = [
        CheckId::PcscService,
        CheckId::Readers,
        CheckId::Card,
        CheckId::Certificate,
        CheckId::NetId,
        CheckId::TlsInterception,
        CheckId::Proxy,
        CheckId::Backend,
        CheckId::TestLogin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CheckId::PcscService => "pcsc_service",
            CheckId::Readers => "readers",
            CheckId::Card => "card",
            CheckId::Certificate => "certificate",
            CheckId::NetId => "net_id",
            CheckId::TlsInterception => "tls_interception",
            CheckId::Proxy => "proxy",
            CheckId::Backend => "backend",
            CheckId::TestLogin => "test_login",
        }
    }

    /// The check's name as the report and the view head it.
    pub fn title(self, lang: Language) -> String {
        match self {
            CheckId::PcscService => tr!(lang, "Korttjänsten (PC/SC)", "Smart card service (PC/SC)"),
            CheckId::Readers => tr!(lang, "Kortläsare", "Card readers"),
            CheckId::Card => tr!(lang, "Kortet", "The card"),
            CheckId::Certificate => tr!(lang, "Certifikatet på kortet", "The card's certificate"),
            CheckId::NetId => "Net iD".to_owned(),
            CheckId::TlsInterception => tr!(lang, "TLS-inspektion", "TLS inspection"),
            CheckId::Proxy => tr!(lang, "Proxy", "Proxy"),
            CheckId::Backend => tr!(lang, "Tjänsten", "The service"),
            CheckId::TestLogin => tr!(lang, "Testinloggning", "Test login"),
        }
    }
}

/// How a check came out. Only `Failed` makes `--diagnose` exit 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    Skipped,
    Warning,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warning => "warning",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
        }
    }

    /// The status in words (never colour alone).
    pub fn word(self, lang: Language) -> String {
        match self {
            Status::Ok => tr!(lang, "OK", "OK"),
            Status::Warning => tr!(lang, "Varning", "Warning"),
            Status::Failed => tr!(lang, "Fel", "Failed"),
            Status::Skipped => tr!(lang, "Hoppades över", "Skipped"),
        }
    }
}

/// One check's result: what was found (`summary`, one line), the facts behind it (`detail`)
/// and what to do (`advice`, empty when nothing). Never the PIN, a personnummer, a name or an
/// HSA-id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub id: CheckId,
    pub title: String,
    pub status: Status,
    pub summary: String,
    pub detail: String,
    pub advice: String,
}

impl Outcome {
    fn new(id: CheckId, lang: Language, status: Status, summary: String) -> Self {
        Outcome {
            id,
            title: id.title(lang),
            status,
            summary,
            detail: String::new(),
            advice: String::new(),
        }
    }

    fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }

    fn advice(mut self, advice: impl Into<String>) -> Self {
        self.advice = advice.into();
        self
    }

    fn skipped(id: CheckId, lang: Language, because: String) -> Self {
        Outcome::new(id, lang, Status::Skipped, because)
    }

    /// The detail and the advice as one text (the CLI's `detail`).
    pub fn detail_and_advice(&self) -> String {
        match (self.detail.is_empty(), self.advice.is_empty()) {
            (_, true) => self.detail.clone(),
            (true, false) => self.advice.clone(),
            (false, false) => format!("{}\n{}", self.detail, self.advice),
        }
    }
}

/// The card holder as the authentication certificate names them: shown in a report only when
/// the user (or `--include-identity`) asks. `Debug` leaves it out.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct Identity {
    pub name: String,
    pub hsa_id: Option<String>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Identity([redacted])")
    }
}

/// What the runner tells while it works: a check started, a check finished.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Progress {
    Started { id: CheckId, title: String },
    Finished { outcome: Outcome },
}

/// How to run: the language of the texts, where to look and what to trust.
#[derive(Debug, Clone)]
pub struct Options {
    pub language: Language,
    /// The hosts `tls_interception` connects to.
    pub hosts: Vec<Host>,
    /// The roots each handshake trusts; `None`: webpki-roots and the OS store, loaded when the
    /// check runs.
    pub trust: Option<Trust>,
    pub net_id: NetIdPlaces,
    pub proxy: ProxyEnv,
    /// The backend to ask; `None` when none is configured (the check then fails saying so).
    pub api: Option<ApiClient>,
    pub timeout: Duration,
}

impl Options {
    /// This machine's defaults: the hosts from `policy_hosts` (the machine policy's
    /// `DiagnosticsHosts`) or the agency's two names; in debug builds [`HOSTS_ENV`] and
    /// [`PUBLIC_ROOTS_ENV`] first. Release builds ignore both variables.
    pub fn for_this_machine(
        language: Language,
        api: Option<ApiClient>,
        policy_hosts: Option<&[String]>,
    ) -> Self {
        let debug = cfg!(debug_assertions);
        let env_hosts = debug
            .then(|| std::env::var(HOSTS_ENV).ok())
            .flatten()
            .and_then(|value| Host::parse_env(&value));
        let hosts = env_hosts
            .or_else(|| {
                policy_hosts.map(|hosts| hosts.iter().filter_map(|h| Host::parse(h)).collect())
            })
            .unwrap_or_else(Host::defaults);
        let public_roots = debug
            .then(|| std::env::var_os(PUBLIC_ROOTS_ENV))
            .flatten()
            .map(std::path::PathBuf::from);
        Options {
            language,
            hosts,
            trust: public_roots.map(|path| Trust::load(Some(&path))),
            net_id: NetIdPlaces::for_this_machine(),
            proxy: ProxyEnv::from_process(),
            api,
            timeout: CHECK_TIMEOUT,
        }
    }
}

/// Everything the checks found, for the view, the copied report and `--diagnose`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub version: &'static str,
    pub os: String,
    pub checks: Vec<Outcome>,
    #[serde(skip)]
    pub identity: Option<Identity>,
}

impl Report {
    /// `--diagnose`'s exit code: 1 when a check failed, else 0.
    pub fn exit_code(&self) -> i32 {
        i32::from(self.checks.iter().any(|c| c.status == Status::Failed))
    }

    /// `{"version", "os", "checks": [{"id", "status", "summary", "detail"}]}`, and `identity`
    /// only when asked.
    pub fn to_json(&self, include_identity: bool) -> serde_json::Value {
        let checks: Vec<_> = self
            .checks
            .iter()
            .map(|check| {
                serde_json::json!({
                    "id": check.id,
                    "status": check.status,
                    "summary": check.summary,
                    "detail": check.detail_and_advice(),
                })
            })
            .collect();
        let mut json = serde_json::json!({
            "version": self.version,
            "os": self.os,
            "checks": checks,
        });
        if let (true, Some(identity), Some(map)) =
            (include_identity, &self.identity, json.as_object_mut())
        {
            map.insert(
                "identity".into(),
                serde_json::to_value(identity).unwrap_or_default(),
            );
        }
        json
    }

    /// The plain-text report for the contact centre.
    pub fn to_text(&self, lang: Language, include_identity: bool) -> String {
        let (version, os) = (self.version, &self.os);
        let mut text = tr!(
            lang,
            "Legitimera – felsökning\nVersion: {version}\nOperativsystem: {os}\n",
            "Legitimera – troubleshooting\nVersion: {version}\nOperating system: {os}\n"
        );
        if let (true, Some(identity)) = (include_identity, &self.identity) {
            let name = &identity.name;
            text.push_str(&tr!(lang, "Namn: {name}\n", "Name: {name}\n"));
            if let Some(hsa_id) = &identity.hsa_id {
                text.push_str(&format!("HSA-id: {hsa_id}\n"));
            }
        }
        for check in &self.checks {
            text.push_str(&format!(
                "\n[{}] {}: {}\n",
                check.status.word(lang),
                check.title,
                check.summary
            ));
            for line in check.detail_and_advice().lines() {
                text.push_str(&format!("  {line}\n"));
            }
        }
        text
    }
}

/// The OS as the report names it: e.g. `Linux x86_64 (Debian GNU/Linux 12 (bookworm))`.
pub fn os_description() -> String {
    let os = match std::env::consts::OS {
        "linux" => "Linux",
        "macos" => "macOS",
        "windows" => "Windows",
        other => other,
    };
    let release = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|line| line.strip_prefix("PRETTY_NAME="))
                .map(|name| name.trim_matches('"').to_owned())
        });
    match release {
        Some(release) => format!("{os} {} ({release})", std::env::consts::ARCH),
        None => format!("{os} {}", std::env::consts::ARCH),
    }
}

/// What the checks learn that later checks need.
#[derive(Debug, Default)]
struct Findings {
    service: Option<bool>,
    readers: Vec<String>,
    /// The reader with a card that answered, and what it holds.
    card: Option<(String, legitimera_card::CardContents)>,
    identity: Option<Identity>,
    backend_up: Option<bool>,
}

/// Runs every check in order, telling `progress` as each starts and ends. `test_login`: the
/// PIN for a test login (the check is skipped without one).
pub async fn run(
    options: &Options,
    test_login: Option<Pin>,
    progress: impl Fn(Progress) + Send + Sync,
) -> Report {
    run_checks(options, &CheckId::ALL, test_login, progress).await
}

/// Runs the checks `ids`, in the order given (a check whose prerequisites were not run says it
/// was skipped).
pub async fn run_checks(
    options: &Options,
    ids: &[CheckId],
    test_login: Option<Pin>,
    progress: impl Fn(Progress) + Send + Sync,
) -> Report {
    let lang = options.language;
    let mut findings = Findings::default();
    let mut checks = Vec::with_capacity(ids.len());
    let mut pin = test_login;
    for &id in ids {
        progress(Progress::Started {
            id,
            title: id.title(lang),
        });
        let outcome = match id {
            CheckId::PcscService => {
                timed(options, id, card::pcsc_service(lang, &mut findings)).await
            }
            CheckId::Readers => timed(options, id, card::readers(lang, &mut findings)).await,
            CheckId::Card => timed(options, id, card::card(lang, &mut findings)).await,
            CheckId::Certificate => {
                timed(options, id, card::certificate(options, &mut findings)).await
            }
            CheckId::NetId => timed(options, id, net_id::check(lang, &options.net_id)).await,
            CheckId::TlsInterception => timed(options, id, tls::check(options)).await,
            CheckId::Proxy => timed(options, id, proxy::check(lang, &options.proxy)).await,
            CheckId::Backend => timed(options, id, backend::health(options, &mut findings)).await,
            CheckId::TestLogin => {
                timed(
                    options,
                    id,
                    backend::test_login(options, &findings, pin.take()),
                )
                .await
            }
        };
        progress(Progress::Finished {
            outcome: outcome.clone(),
        });
        checks.push(outcome);
    }
    Report {
        version: env!("CARGO_PKG_VERSION"),
        os: os_description(),
        checks,
        identity: findings.identity,
    }
}

/// `check`, or a failure saying it did not finish within the options' timeout.
async fn timed(options: &Options, id: CheckId, check: impl Future<Output = Outcome>) -> Outcome {
    let lang = options.language;
    match tokio::time::timeout(options.timeout, check).await {
        Ok(outcome) => outcome,
        Err(_) => {
            let seconds = options.timeout.as_secs();
            Outcome::new(
                id,
                lang,
                Status::Failed,
                tr!(
                    lang,
                    "Kontrollen blev inte klar inom {seconds} sekunder",
                    "The check did not finish within {seconds} seconds"
                ),
            )
            .advice(tr!(
                lang,
                "Kör felsökningen igen. Händer det igen, kontakta IT-supporten och skicka med rapporten.",
                "Run the troubleshooting again. If it happens again, contact IT support and include the report."
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(id: CheckId, status: Status) -> Outcome {
        Outcome::new(id, Language::Sv, status, "s".into())
            .detail("d")
            .advice("a")
    }

    #[test]
    fn only_a_failure_makes_the_exit_code_one() {
        let mut report = Report {
            version: "1",
            os: "Linux".into(),
            checks: vec![
                outcome(CheckId::Readers, Status::Ok),
                outcome(CheckId::NetId, Status::Warning),
                outcome(CheckId::TestLogin, Status::Skipped),
            ],
            identity: None,
        };
        assert_eq!(report.exit_code(), 0);
        report
            .checks
            .push(outcome(CheckId::Backend, Status::Failed));
        assert_eq!(report.exit_code(), 1);
    }

    #[test]
    fn the_json_has_the_documented_shape_and_identity_only_when_asked() {
        let report = Report {
            version: "1.2.3",
            os: "Linux".into(),
            checks: vec![outcome(CheckId::TlsInterception, Status::Warning)],
            identity: Some(Identity {
                name: "Anna Testsson".into(),
                hsa_id: Some("SE2321000016-1234".into()),
            }),
        };
        let json = report.to_json(false);
        assert_eq!(
            json,
            serde_json::json!({"version": "1.2.3", "os": "Linux", "checks": [
                {"id": "tls_interception", "status": "warning", "summary": "s", "detail": "d\na"}
            ]})
        );
        let text = report.to_text(Language::Sv, false);
        assert!(
            !text.contains("Anna") && !text.contains("SE2321000016"),
            "{text}"
        );
        assert!(text.contains("[Varning] TLS-inspektion: s"), "{text}");
        let with = report.to_text(Language::Sv, true);
        assert!(with.contains("Namn: Anna Testsson") && with.contains("HSA-id: SE2321000016-1234"));
        assert_eq!(report.to_json(true)["identity"]["name"], "Anna Testsson");
    }

    #[tokio::test]
    async fn a_check_that_hangs_is_reported_as_not_finished() {
        let options = Options {
            timeout: Duration::from_millis(20),
            ..Options::for_this_machine(Language::En, None, None)
        };
        let outcome = timed(&options, CheckId::Backend, std::future::pending()).await;
        assert_eq!(outcome.status, Status::Failed);
        assert!(
            outcome.summary.contains("did not finish"),
            "{}",
            outcome.summary
        );
    }
}
