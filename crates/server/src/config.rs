//! Server configuration: a TOML file, overridden by environment variables, overridden by the
//! command line. Resolution is pure (no I/O besides reading the named file) so it is testable.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use legitimera_protocol::SecretString;
use serde::Deserialize;
use url::Url;

/// How long a client may take to send a request's header: the default, and the most allowed.
pub const DEFAULT_HEADER_READ_TIMEOUT_SECONDS: u64 = 10;
pub const MAX_HEADER_READ_TIMEOUT_SECONDS: u64 = 30;
/// How long a request (its body and its work) may take; the BankID long poll gets its own
/// wait on top.
pub const DEFAULT_REQUEST_TIMEOUT_SECONDS: u64 = 30;
pub const MAX_REQUEST_TIMEOUT_SECONDS: u64 = 300;
/// Requests in the handlers at once, per instance; more are answered `503 overloaded`.
pub const DEFAULT_MAX_CONCURRENT_REQUESTS: usize = 512;
/// The largest request body taken (every body of the API is a few hundred bytes).
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;
/// How long a stopping server lets open requests finish.
pub const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);

/// The address the server listens on when nothing else is said.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8787";
/// A session ends after this long without activity (AAL2: 30 minutes). Also the maximum.
pub const MAX_IDLE_TIMEOUT_SECONDS: u64 = 30 * 60;
/// A session ends this long after login, whatever happens (AAL2: 12 hours). Also the maximum.
pub const MAX_ABSOLUTE_TIMEOUT_SECONDS: u64 = 12 * 60 * 60;

/// What the config file may contain. Unknown keys are an error so a typo is not silently ignored.
#[derive(Debug, Default, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<SocketAddr>,
    pub database_url: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Seconds; at most [`MAX_IDLE_TIMEOUT_SECONDS`].
    pub idle_timeout: Option<u64>,
    /// Seconds; at most [`MAX_ABSOLUTE_TIMEOUT_SECONDS`].
    pub absolute_timeout: Option<u64>,
    #[serde(default)]
    pub smtp: SmtpFile,
    #[serde(default)]
    pub sms: SmsFile,
    /// A header a reverse proxy in front of the server sets to the client's address, e.g.
    /// `X-Forwarded-For`; the right-most address in it is taken. Only set this when every
    /// request comes through that proxy: otherwise clients can claim any address.
    pub trusted_proxy_header: Option<String>,
    #[serde(default)]
    pub bankid: BankIdFile,
    /// PEM files of the CAs a SITHS card's chain must lead to. None: SITHS login is off.
    pub siths_trust_anchors: Option<Vec<PathBuf>>,
    /// This server's origin as the app reaches it (`https://login.example.se`, with a port
    /// only when it is not the scheme's default): the card signs it with the challenge, so a
    /// signature made for another backend does not log in here. Needed for SITHS login; in
    /// demo mode it defaults to `http://` + the address the server listens on.
    pub public_origin: Option<String>,
    /// The issuing CAs whose certificates are staff: subject key identifiers in hex, or PEM
    /// files of the CA certificates. None: only certificates a trust anchor issued itself.
    pub siths_issuing_cas: Option<Vec<String>>,
    /// Certificate policy OIDs, one of which the card's certificate must carry. None: any.
    pub siths_policy_oids: Option<Vec<String>>,
    /// `require` (default), `prefer` or `off`: see [`RevocationMode`].
    pub siths_revocation: Option<RevocationMode>,
    /// Country calling codes SMS may be sent to, e.g. `["46", "47", "358"]`; empty or absent:
    /// every country (applicants may have foreign numbers).
    pub sms_allowed_countries: Option<Vec<String>>,
    /// SMS codes per client address a day (default [`crate::sms_quota::PER_ADDRESS_PER_DAY`]).
    pub sms_per_address_per_day: Option<u32>,
    /// Seconds a client may take to send a request header (default 10, at most 30).
    pub header_read_timeout: Option<u64>,
    /// Seconds a request may take (default 30, at most 300).
    pub request_timeout: Option<u64>,
    /// Requests handled at once (default 512); more are answered `503 overloaded`.
    pub max_concurrent_requests: Option<usize>,
    /// The largest request body in bytes (default 65536).
    pub max_body_bytes: Option<usize>,
    /// What the BankID app shows the user at login (`userVisibleData`), e.g. "Inloggning till
    /// Myndighetens e-tjänster" (default [`DEFAULT_BANKID_USER_VISIBLE_DATA`]).
    pub bankid_user_visible_data: Option<String>,
}

/// What the BankID app shows at login when nothing else is configured.
pub const DEFAULT_BANKID_USER_VISIBLE_DATA: &str = "Inloggning till Legitimera";
/// BankID takes at most 1,500 characters of base64 for an identification.
pub const MAX_BANKID_USER_VISIBLE_DATA_BYTES: usize = 1_000;

/// `[bankid]` in the config file: BankID's RP API and this RP's identity. Without it BankID
/// login is off (in demo mode the built-in simulator is used instead).
#[derive(Debug, Default, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BankIdFile {
    /// The RP API base, e.g. `https://appapi2.test.bankid.com/rp/v6.0/`.
    pub url: Option<Url>,
    /// The RP certificate and key as PKCS#12, as BankID delivers it (needs the password).
    pub client_pkcs12: Option<PathBuf>,
    pub client_pkcs12_password: Option<SecretString>,
    /// Or the RP certificate and key as PEM files.
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    /// BankID's SSL root CA (PEM): the only certificate the RP API's server may chain to.
    pub server_ca: Option<PathBuf>,
}

/// `[smtp]` in the config file: the mail server codes and notices are sent through.
#[derive(Debug, Default, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SmtpFile {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub security: Option<SmtpSecurity>,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    /// The sender, e.g. `Myndigheten <no-reply@example.se>`.
    pub from: Option<String>,
}

/// `[sms]` in the config file: an HTTP gateway taking a form POST of `from`, `to`, `message`
/// with basic auth (the style of Swedish gateways such as 46elks).
#[derive(Debug, Default, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SmsFile {
    pub url: Option<Url>,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    /// The sender name or number shown on the phone (gateways allow up to 11 letters).
    pub from: Option<String>,
}

impl FileConfig {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read config file {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| anyhow::anyhow!("config file {}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }
}

/// Values given on the command line or in the environment (clap merges those two).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub listen: Option<SocketAddr>,
    pub database_url: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub idle_timeout: Option<u64>,
    pub absolute_timeout: Option<u64>,
    pub smtp: SmtpFile,
    pub sms: SmsFile,
    pub trusted_proxy_header: Option<String>,
    pub bankid: BankIdFile,
    pub siths_trust_anchors: Option<Vec<PathBuf>>,
    pub public_origin: Option<String>,
    pub siths_issuing_cas: Option<Vec<String>>,
    pub siths_policy_oids: Option<Vec<String>>,
    pub siths_revocation: Option<RevocationMode>,
    pub sms_allowed_countries: Option<Vec<String>>,
    pub sms_per_address_per_day: Option<u32>,
    pub header_read_timeout: Option<u64>,
    pub request_timeout: Option<u64>,
    pub max_concurrent_requests: Option<usize>,
    pub max_body_bytes: Option<usize>,
    pub bankid_user_visible_data: Option<String>,
    pub demo: bool,
}

/// How the SMTP connection is protected. `none` is for local test sinks only.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS (required), usually port 587.
    Starttls,
    /// TLS from the first byte, usually port 465.
    Tls,
    /// No encryption: a mail sink on this machine.
    None,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub credentials: Option<(String, SecretString)>,
    pub from: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sms {
    pub url: Url,
    pub credentials: Option<(String, SecretString)>,
    pub from: String,
}

/// Where codes and notices go: the configured mail server and SMS gateway, or in demo mode the
/// demo outbox (`GET /demo/outbox`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Real { smtp: Box<Smtp>, sms: Box<Sms> },
    DemoOutbox,
}

/// Where BankID orders go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BankIdSetup {
    /// Not configured: the order endpoints answer `503 bankid_unavailable`.
    Off,
    /// Demo mode without `[bankid]`: the BankID simulator, started in this process.
    Simulator,
    /// A real (or test) RP API.
    Rp(Box<BankIdRp>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankIdRp {
    pub url: Url,
    pub identity: RpIdentityFiles,
    pub server_ca: PathBuf,
}

/// Where the RP's certificate and key are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RpIdentityFiles {
    Pkcs12 {
        file: PathBuf,
        password: SecretString,
    },
    Pem {
        cert: PathBuf,
        key: PathBuf,
    },
}

/// What SMS may be sent: see `sms_quota`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsPolicy {
    /// Country calling codes (digits); empty: every country.
    pub allowed_countries: Vec<String>,
    pub per_address_per_day: i64,
}

impl Default for SmsPolicy {
    fn default() -> Self {
        SmsPolicy {
            allowed_countries: Vec::new(),
            per_address_per_day: crate::sms_quota::PER_ADDRESS_PER_DAY,
        }
    }
}

/// What a connection and a request may hold (see `http_limits`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    pub header_read_timeout: Duration,
    pub request_timeout: Duration,
    pub max_concurrent_requests: usize,
    pub max_body_bytes: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            header_read_timeout: Duration::from_secs(DEFAULT_HEADER_READ_TIMEOUT_SECONDS),
            request_timeout: Duration::from_secs(DEFAULT_REQUEST_TIMEOUT_SECONDS),
            max_concurrent_requests: DEFAULT_MAX_CONCURRENT_REQUESTS,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

/// The session limits the server enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub idle: Duration,
    pub absolute: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            idle: Duration::from_secs(MAX_IDLE_TIMEOUT_SECONDS),
            absolute: Duration::from_secs(MAX_ABSOLUTE_TIMEOUT_SECONDS),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tls {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Where the database lives. Demo mode uses a fresh temporary database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    Url(String),
    Temporary,
}

/// How a missing or stale revocation answer is treated (`siths_revocation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum RevocationMode {
    /// No fresh answer: the login is refused (`siths_revocation_unavailable`).
    #[default]
    Require,
    /// No fresh answer: logged, and the login goes on. A revoked certificate is still refused.
    Prefer,
    /// Not checked at all (a warning at start).
    Off,
}

/// The resolved configuration the server runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub listen: SocketAddr,
    pub database: Database,
    pub tls: Option<Tls>,
    pub timeouts: Timeouts,
    pub delivery: Delivery,
    /// Lowercase header name; see [`FileConfig::trusted_proxy_header`].
    pub trusted_proxy_header: Option<String>,
    pub bankid: BankIdSetup,
    /// PEM files of the SITHS trust anchors; empty turns SITHS login off (`siths_unavailable`).
    pub siths_trust_anchors: Vec<PathBuf>,
    /// `scheme://host[:port]`, normalized; `None`: the demo's default (its listen address).
    pub public_origin: Option<String>,
    pub siths_issuing_cas: Vec<String>,
    pub siths_policy_oids: Vec<String>,
    pub siths_revocation: RevocationMode,
    pub sms_policy: SmsPolicy,
    pub http: HttpLimits,
    /// `userVisibleData` of every BankID login.
    pub bankid_user_visible_data: String,
    pub demo: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("a TLS certificate was given without its key, or the key without the certificate")]
    TlsHalf,
    #[error("demo mode only listens on loopback (127.0.0.1 or ::1), not {0}")]
    DemoNotLoopback(SocketAddr),
    #[error("no database: give --database-url (or LEGITIMERA_DATABASE_URL, or database_url in the config file), or run with --demo")]
    NoDatabase,
    #[error("idle_timeout must be 1 to {MAX_IDLE_TIMEOUT_SECONDS} seconds (30 minutes), not {0}")]
    IdleTimeout(u64),
    #[error(
        "absolute_timeout must be 1 to {MAX_ABSOLUTE_TIMEOUT_SECONDS} seconds (12 hours), not {0}"
    )]
    AbsoluteTimeout(u64),
    #[error("no mail server: give [smtp] host and from in the config file (or --smtp-host and --smtp-from), or run with --demo")]
    NoSmtp,
    #[error("no SMS gateway: give [sms] url and from in the config file (or --sms-url and --sms-from), or run with --demo")]
    NoSms,
    #[error("SMTP username and password go together")]
    SmtpCredentialsHalf,
    #[error("SMS gateway username and password go together")]
    SmsCredentialsHalf,
    #[error("trusted_proxy_header is not a valid HTTP header name: {0:?}")]
    ProxyHeader(String),
    #[error("[bankid] is incomplete: {0}")]
    BankIdIncomplete(&'static str),
    #[error("public_origin must be scheme://host[:port] (http or https, no path), not {0:?}")]
    PublicOrigin(String),
    #[error("SITHS login needs public_origin (the address the app reaches this server at)")]
    NoPublicOrigin,
    #[error("sms_allowed_countries takes country calling codes of 1 to 3 digits, such as \"46\", not {0:?}")]
    SmsCountry(String),
    #[error("sms_per_address_per_day must be at least 1")]
    SmsPerAddress,
    #[error("header_read_timeout must be 1 to {MAX_HEADER_READ_TIMEOUT_SECONDS} seconds, not {0}")]
    HeaderReadTimeout(u64),
    #[error("request_timeout must be 1 to {MAX_REQUEST_TIMEOUT_SECONDS} seconds, not {0}")]
    RequestTimeout(u64),
    #[error("max_concurrent_requests and max_body_bytes must be at least 1")]
    ZeroLimit,
    #[error(
        "bankid_user_visible_data must be 1 to {MAX_BANKID_USER_VISIBLE_DATA_BYTES} bytes of text"
    )]
    BankIdUserVisibleData,
}

impl Config {
    pub fn resolve(file: FileConfig, over: Overrides) -> Result<Self, ConfigError> {
        let listen = over.listen.or(file.listen).unwrap_or_else(default_listen);
        let tls = match (
            over.tls_cert.or(file.tls_cert),
            over.tls_key.or(file.tls_key),
        ) {
            (Some(cert), Some(key)) => Some(Tls { cert, key }),
            (None, None) => None,
            _ => return Err(ConfigError::TlsHalf),
        };
        let database_url = over.database_url.or(file.database_url);
        let database = match (database_url, over.demo) {
            (Some(url), _) => Database::Url(url),
            (None, true) => Database::Temporary,
            (None, false) => return Err(ConfigError::NoDatabase),
        };
        if over.demo && !listen.ip().is_loopback() {
            return Err(ConfigError::DemoNotLoopback(listen));
        }
        let timeouts = Timeouts {
            idle: limited(
                over.idle_timeout.or(file.idle_timeout),
                MAX_IDLE_TIMEOUT_SECONDS,
                ConfigError::IdleTimeout,
            )?,
            absolute: limited(
                over.absolute_timeout.or(file.absolute_timeout),
                MAX_ABSOLUTE_TIMEOUT_SECONDS,
                ConfigError::AbsoluteTimeout,
            )?,
        };
        let delivery = if over.demo {
            Delivery::DemoOutbox
        } else {
            Delivery::Real {
                smtp: Box::new(resolve_smtp(over.smtp, file.smtp)?),
                sms: Box::new(resolve_sms(over.sms, file.sms)?),
            }
        };
        let trusted_proxy_header = match over.trusted_proxy_header.or(file.trusted_proxy_header) {
            Some(name) => Some(
                axum::http::HeaderName::from_bytes(name.trim().as_bytes())
                    .map_err(|_| ConfigError::ProxyHeader(name.clone()))?
                    .as_str()
                    .to_owned(),
            ),
            None => None,
        };
        let siths_trust_anchors = over
            .siths_trust_anchors
            .or(file.siths_trust_anchors)
            .unwrap_or_default();
        let public_origin = over
            .public_origin
            .or(file.public_origin)
            .map(|origin| parse_origin(&origin))
            .transpose()?;
        if !siths_trust_anchors.is_empty() && public_origin.is_none() && !over.demo {
            return Err(ConfigError::NoPublicOrigin);
        }
        Ok(Config {
            listen,
            database,
            tls,
            timeouts,
            delivery,
            trusted_proxy_header,
            bankid: resolve_bankid(over.bankid, file.bankid, over.demo)?,
            siths_trust_anchors,
            public_origin,
            siths_issuing_cas: over
                .siths_issuing_cas
                .or(file.siths_issuing_cas)
                .unwrap_or_default(),
            siths_policy_oids: over
                .siths_policy_oids
                .or(file.siths_policy_oids)
                .unwrap_or_default(),
            siths_revocation: over
                .siths_revocation
                .or(file.siths_revocation)
                .unwrap_or_default(),
            sms_policy: resolve_sms_policy(
                over.sms_allowed_countries.or(file.sms_allowed_countries),
                over.sms_per_address_per_day
                    .or(file.sms_per_address_per_day),
            )?,
            http: HttpLimits {
                header_read_timeout: within(
                    over.header_read_timeout.or(file.header_read_timeout),
                    DEFAULT_HEADER_READ_TIMEOUT_SECONDS,
                    MAX_HEADER_READ_TIMEOUT_SECONDS,
                    ConfigError::HeaderReadTimeout,
                )?,
                request_timeout: within(
                    over.request_timeout.or(file.request_timeout),
                    DEFAULT_REQUEST_TIMEOUT_SECONDS,
                    MAX_REQUEST_TIMEOUT_SECONDS,
                    ConfigError::RequestTimeout,
                )?,
                max_concurrent_requests: at_least_one(
                    over.max_concurrent_requests
                        .or(file.max_concurrent_requests)
                        .unwrap_or(DEFAULT_MAX_CONCURRENT_REQUESTS),
                )?,
                max_body_bytes: at_least_one(
                    over.max_body_bytes
                        .or(file.max_body_bytes)
                        .unwrap_or(DEFAULT_MAX_BODY_BYTES),
                )?,
            },
            bankid_user_visible_data: match over
                .bankid_user_visible_data
                .or(file.bankid_user_visible_data)
            {
                None => DEFAULT_BANKID_USER_VISIBLE_DATA.to_owned(),
                Some(text)
                    if text.trim().is_empty()
                        || text.len() > MAX_BANKID_USER_VISIBLE_DATA_BYTES =>
                {
                    return Err(ConfigError::BankIdUserVisibleData)
                }
                Some(text) => text,
            },
            demo: over.demo,
        })
    }
}

/// `text` as an origin (`scheme://host[:port]`, the scheme's default port left out), the form
/// the app derives from its backend URL; a path other than `/`, a query or credentials are
/// refused rather than dropped, since they suggest the wrong value was given.
pub fn parse_origin(text: &str) -> Result<String, ConfigError> {
    let invalid = || ConfigError::PublicOrigin(text.to_owned());
    let url = Url::parse(text.trim()).map_err(|_| invalid())?;
    if !matches!(url.scheme(), "http" | "https")
        || url.path() != "/"
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
        || url.host().is_none()
    {
        return Err(invalid());
    }
    Ok(url.origin().ascii_serialization())
}

/// A limit in seconds: the maximum when not given; refused when zero or above the maximum.
fn limited(
    seconds: Option<u64>,
    max: u64,
    error: fn(u64) -> ConfigError,
) -> Result<Duration, ConfigError> {
    match seconds.unwrap_or(max) {
        0 => Err(error(0)),
        s if s > max => Err(error(s)),
        s => Ok(Duration::from_secs(s)),
    }
}

/// Seconds given or `default`, refused when zero or above `max`.
fn within(
    seconds: Option<u64>,
    default: u64,
    max: u64,
    error: fn(u64) -> ConfigError,
) -> Result<Duration, ConfigError> {
    match seconds.unwrap_or(default) {
        s if s == 0 || s > max => Err(error(s)),
        s => Ok(Duration::from_secs(s)),
    }
}

fn at_least_one(n: usize) -> Result<usize, ConfigError> {
    if n == 0 {
        Err(ConfigError::ZeroLimit)
    } else {
        Ok(n)
    }
}

fn resolve_sms_policy(
    countries: Option<Vec<String>>,
    per_address: Option<u32>,
) -> Result<SmsPolicy, ConfigError> {
    let allowed_countries = countries
        .unwrap_or_default()
        .into_iter()
        .map(|code| {
            let digits = code.trim().trim_start_matches('+');
            let valid = (1..=3).contains(&digits.len())
                && digits.bytes().all(|b| b.is_ascii_digit())
                && !digits.starts_with('0');
            if valid {
                Ok(digits.to_owned())
            } else {
                Err(ConfigError::SmsCountry(code.clone()))
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    let per_address_per_day = match per_address {
        None => crate::sms_quota::PER_ADDRESS_PER_DAY,
        Some(0) => return Err(ConfigError::SmsPerAddress),
        Some(n) => i64::from(n),
    };
    Ok(SmsPolicy {
        allowed_countries,
        per_address_per_day,
    })
}

fn resolve_smtp(over: SmtpFile, file: SmtpFile) -> Result<Smtp, ConfigError> {
    let security = over
        .security
        .or(file.security)
        .unwrap_or(SmtpSecurity::Starttls);
    let credentials = match (
        over.username.or(file.username),
        over.password.or(file.password),
    ) {
        (Some(user), Some(password)) => Some((user, password)),
        (None, None) => None,
        _ => return Err(ConfigError::SmtpCredentialsHalf),
    };
    let default_port = match security {
        SmtpSecurity::Starttls => 587,
        SmtpSecurity::Tls => 465,
        SmtpSecurity::None => 25,
    };
    Ok(Smtp {
        host: over.host.or(file.host).ok_or(ConfigError::NoSmtp)?,
        port: over.port.or(file.port).unwrap_or(default_port),
        security,
        credentials,
        from: over.from.or(file.from).ok_or(ConfigError::NoSmtp)?,
    })
}

fn resolve_sms(over: SmsFile, file: SmsFile) -> Result<Sms, ConfigError> {
    let credentials = match (
        over.username.or(file.username),
        over.password.or(file.password),
    ) {
        (Some(user), Some(password)) => Some((user, password)),
        (None, None) => None,
        _ => return Err(ConfigError::SmsCredentialsHalf),
    };
    Ok(Sms {
        url: over.url.or(file.url).ok_or(ConfigError::NoSms)?,
        credentials,
        from: over.from.or(file.from).ok_or(ConfigError::NoSms)?,
    })
}

fn resolve_bankid(
    over: BankIdFile,
    file: BankIdFile,
    demo: bool,
) -> Result<BankIdSetup, ConfigError> {
    let merged = BankIdFile {
        url: over.url.or(file.url),
        client_pkcs12: over.client_pkcs12.or(file.client_pkcs12),
        client_pkcs12_password: over.client_pkcs12_password.or(file.client_pkcs12_password),
        client_cert: over.client_cert.or(file.client_cert),
        client_key: over.client_key.or(file.client_key),
        server_ca: over.server_ca.or(file.server_ca),
    };
    if merged == BankIdFile::default() {
        return Ok(if demo {
            BankIdSetup::Simulator
        } else {
            BankIdSetup::Off
        });
    }
    let url = merged
        .url
        .ok_or(ConfigError::BankIdIncomplete("give url (the RP API base)"))?;
    let server_ca = merged.server_ca.ok_or(ConfigError::BankIdIncomplete(
        "give server_ca (BankID's SSL root CA, PEM)",
    ))?;
    let identity = match (
        merged.client_pkcs12,
        merged.client_pkcs12_password,
        merged.client_cert,
        merged.client_key,
    ) {
        (Some(file), Some(password), None, None) => RpIdentityFiles::Pkcs12 { file, password },
        (Some(_), None, None, None) => {
            return Err(ConfigError::BankIdIncomplete(
                "client_pkcs12 needs client_pkcs12_password",
            ))
        }
        (None, None, Some(cert), Some(key)) => RpIdentityFiles::Pem { cert, key },
        _ => return Err(ConfigError::BankIdIncomplete(
            "give either client_pkcs12 and client_pkcs12_password, or client_cert and client_key",
        )),
    };
    Ok(BankIdSetup::Rp(Box::new(BankIdRp {
        url,
        identity,
        server_ca,
    })))
}

fn default_listen() -> SocketAddr {
    // A constant that parses; covered by `defaults_apply` below.
    DEFAULT_LISTEN
        .parse()
        .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8787)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply() {
        let config = Config::resolve(
            FileConfig::default(),
            Overrides {
                demo: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(config.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(config.database, Database::Temporary);
        assert!(config.tls.is_none());
    }

    #[test]
    fn command_line_beats_file() {
        let file =
            FileConfig::parse("listen = \"127.0.0.1:9000\"\ndatabase_url = \"sqlite://file.db\"\n")
                .unwrap();
        let over = Overrides {
            listen: Some("127.0.0.1:9100".parse().unwrap()),
            demo: true,
            ..Default::default()
        };
        let config = Config::resolve(file, over).unwrap();
        assert_eq!(config.listen.port(), 9100);
        assert_eq!(config.database, Database::Url("sqlite://file.db".into()));
    }

    #[test]
    fn file_listen_is_used_when_not_overridden() {
        let file = FileConfig::parse("listen = \"127.0.0.1:9000\"").unwrap();
        let over = Overrides {
            demo: true,
            ..Default::default()
        };
        assert_eq!(Config::resolve(file, over).unwrap().listen.port(), 9000);
    }

    #[test]
    fn typo_in_config_file_is_an_error() {
        assert!(FileConfig::parse("lisen = \"127.0.0.1:9000\"").is_err());
    }

    #[test]
    fn half_a_tls_pair_is_refused() {
        let over = Overrides {
            demo: true,
            tls_cert: Some("cert.pem".into()),
            ..Default::default()
        };
        assert_eq!(
            Config::resolve(FileConfig::default(), over),
            Err(ConfigError::TlsHalf)
        );
    }

    #[test]
    fn demo_refuses_a_public_address() {
        let over = Overrides {
            demo: true,
            listen: Some("0.0.0.0:8787".parse().unwrap()),
            ..Default::default()
        };
        assert!(matches!(
            Config::resolve(FileConfig::default(), over),
            Err(ConfigError::DemoNotLoopback(_))
        ));
    }

    #[test]
    fn production_needs_a_database() {
        assert_eq!(
            Config::resolve(FileConfig::default(), Overrides::default()),
            Err(ConfigError::NoDatabase)
        );
    }

    fn demo() -> Overrides {
        Overrides {
            demo: true,
            ..Default::default()
        }
    }

    #[test]
    fn timeouts_default_to_30_minutes_and_12_hours() {
        let config = Config::resolve(FileConfig::default(), demo()).unwrap();
        assert_eq!(config.timeouts.idle, Duration::from_secs(1800));
        assert_eq!(config.timeouts.absolute, Duration::from_secs(43200));
    }

    #[test]
    fn shorter_timeouts_are_taken_from_file_and_command_line() {
        let file = FileConfig::parse("idle_timeout = 60\nabsolute_timeout = 600\n").unwrap();
        let over = Overrides {
            idle_timeout: Some(30),
            ..demo()
        };
        let config = Config::resolve(file, over).unwrap();
        assert_eq!(config.timeouts.idle, Duration::from_secs(30));
        assert_eq!(config.timeouts.absolute, Duration::from_secs(600));
    }

    #[test]
    fn no_setting_makes_a_session_last_longer() {
        let file = FileConfig::parse("idle_timeout = 1801").unwrap();
        assert_eq!(
            Config::resolve(file, demo()),
            Err(ConfigError::IdleTimeout(1801))
        );
        let over = Overrides {
            absolute_timeout: Some(43201),
            ..demo()
        };
        assert_eq!(
            Config::resolve(FileConfig::default(), over),
            Err(ConfigError::AbsoluteTimeout(43201))
        );
        let zero = Overrides {
            idle_timeout: Some(0),
            ..demo()
        };
        assert_eq!(
            Config::resolve(FileConfig::default(), zero),
            Err(ConfigError::IdleTimeout(0))
        );
    }

    #[test]
    fn demo_sends_to_the_outbox() {
        let config = Config::resolve(FileConfig::default(), demo()).unwrap();
        assert_eq!(config.delivery, Delivery::DemoOutbox);
    }

    #[test]
    fn production_needs_smtp_and_sms() {
        let file = FileConfig::parse("database_url = \"sqlite://x.db\"").unwrap();
        assert_eq!(
            Config::resolve(file, Overrides::default()),
            Err(ConfigError::NoSmtp)
        );
    }

    #[test]
    fn smtp_and_sms_come_from_the_file_with_environment_overrides() {
        let file = FileConfig::parse(
            r#"
database_url = "sqlite://x.db"
[smtp]
host = "mail.example.se"
security = "tls"
username = "legitimera"
password = "from-file"
from = "Myndigheten <no-reply@example.se>"
[sms]
url = "https://sms.example.se/a1/sms"
from = "Myndigheten"
"#,
        )
        .unwrap();
        let over = Overrides {
            smtp: SmtpFile {
                password: Some("from-env".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let Delivery::Real { smtp, sms } = Config::resolve(file, over).unwrap().delivery else {
            panic!("not demo");
        };
        assert_eq!(smtp.port, 465, "TLS defaults to port 465");
        assert_eq!(smtp.security, SmtpSecurity::Tls);
        assert_eq!(
            smtp.credentials.map(|(_, p)| p.expose().to_owned()),
            Some("from-env".into())
        );
        assert_eq!(sms.url.as_str(), "https://sms.example.se/a1/sms");
        assert_eq!(sms.credentials, None);
    }

    #[test]
    fn bankid_is_off_unless_configured_and_the_simulator_in_demo() {
        let file = FileConfig::parse(
            "database_url = \"sqlite://x.db\"\n[smtp]\nhost = \"m\"\nfrom = \"f\"\n\
             [sms]\nurl = \"https://sms.example.se/\"\nfrom = \"f\"\n",
        )
        .unwrap();
        let config = Config::resolve(file, Overrides::default()).unwrap();
        assert_eq!(config.bankid, BankIdSetup::Off);
        assert_eq!(config.trusted_proxy_header, None);
        let config = Config::resolve(FileConfig::default(), demo()).unwrap();
        assert_eq!(config.bankid, BankIdSetup::Simulator);
    }

    #[test]
    fn bankid_takes_pkcs12_or_pem_and_refuses_half_an_identity() {
        let file = FileConfig::parse(
            r#"
trusted_proxy_header = "X-Forwarded-For"
[bankid]
url = "https://appapi2.test.bankid.com/rp/v6.0/"
client_pkcs12 = "rp.p12"
client_pkcs12_password = "qwerty123"
server_ca = "bankid-test-root.pem"
"#,
        )
        .unwrap();
        assert!(!format!("{file:?}").contains("qwerty123"));
        let config = Config::resolve(file.clone(), demo()).unwrap();
        assert_eq!(
            config.trusted_proxy_header.as_deref(),
            Some("x-forwarded-for")
        );
        let BankIdSetup::Rp(rp) = config.bankid else {
            panic!("configured BankID wins over the demo simulator");
        };
        assert!(matches!(rp.identity, RpIdentityFiles::Pkcs12 { .. }));

        let mut pem_file = file.clone();
        pem_file.bankid.client_pkcs12 = None;
        pem_file.bankid.client_pkcs12_password = None;
        pem_file.bankid.client_cert = Some("rp.pem".into());
        pem_file.bankid.client_key = Some("rp.key".into());
        let BankIdSetup::Rp(rp) = Config::resolve(pem_file.clone(), demo()).unwrap().bankid else {
            panic!("PEM identity");
        };
        assert!(matches!(rp.identity, RpIdentityFiles::Pem { .. }));

        pem_file.bankid.client_key = None;
        assert!(matches!(
            Config::resolve(pem_file, demo()),
            Err(ConfigError::BankIdIncomplete(_))
        ));
        let mut no_ca = file;
        no_ca.bankid.server_ca = None;
        assert!(matches!(
            Config::resolve(no_ca, demo()),
            Err(ConfigError::BankIdIncomplete(_))
        ));
    }

    #[test]
    fn a_proxy_header_that_is_no_header_name_is_refused() {
        let over = Overrides {
            trusted_proxy_header: Some("X Forwarded".into()),
            ..demo()
        };
        assert!(matches!(
            Config::resolve(FileConfig::default(), over),
            Err(ConfigError::ProxyHeader(_))
        ));
    }

    #[test]
    fn public_origins_are_normalized_and_paths_refused() {
        assert_eq!(
            parse_origin("https://login.example.se:443/").unwrap(),
            "https://login.example.se"
        );
        assert_eq!(
            parse_origin("http://127.0.0.1:8787").unwrap(),
            "http://127.0.0.1:8787"
        );
        assert_eq!(
            parse_origin("HTTPS://Login.Example.SE:8443").unwrap(),
            "https://login.example.se:8443"
        );
        for bad in [
            "https://login.example.se/legitimera",
            "ftp://login.example.se",
            "https://user@login.example.se",
            "login.example.se",
        ] {
            assert!(parse_origin(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn siths_outside_the_demo_needs_a_public_origin() {
        let file =
            FileConfig::parse("siths_trust_anchors = [\"a.pem\"]\ndatabase_url = \"sqlite://x\"\n")
                .unwrap();
        let over = Overrides {
            smtp: SmtpFile {
                host: Some("mail".into()),
                from: Some("a@example.se".into()),
                ..SmtpFile::default()
            },
            sms: SmsFile {
                url: Some("https://sms.example.se".parse().unwrap()),
                from: Some("Myndighet".into()),
                ..SmsFile::default()
            },
            ..Overrides::default()
        };
        assert_eq!(
            Config::resolve(file.clone(), over.clone()),
            Err(ConfigError::NoPublicOrigin)
        );
        let over = Overrides {
            public_origin: Some("https://login.example.se/".into()),
            ..over
        };
        assert_eq!(
            Config::resolve(file, over)
                .unwrap()
                .public_origin
                .as_deref(),
            Some("https://login.example.se")
        );
    }

    #[test]
    fn siths_trust_anchors_come_from_the_file_unless_overridden() {
        let file =
            FileConfig::parse("siths_trust_anchors = [\"/etc/siths/a.pem\", \"b.pem\"]\n").unwrap();
        let config = Config::resolve(file.clone(), demo()).unwrap();
        assert_eq!(
            config.siths_trust_anchors,
            vec![PathBuf::from("/etc/siths/a.pem"), PathBuf::from("b.pem")]
        );
        let over = Overrides {
            siths_trust_anchors: Some(vec!["c.pem".into()]),
            ..demo()
        };
        let config = Config::resolve(file, over).unwrap();
        assert_eq!(config.siths_trust_anchors, vec![PathBuf::from("c.pem")]);
        let none = Config::resolve(FileConfig::default(), demo()).unwrap();
        assert!(
            none.siths_trust_anchors.is_empty(),
            "SITHS is off by default"
        );
    }

    #[test]
    fn sms_policy_defaults_to_every_country_and_takes_codes_with_or_without_plus() {
        let config = Config::resolve(FileConfig::default(), demo()).unwrap();
        assert_eq!(config.sms_policy, SmsPolicy::default());
        let file = FileConfig::parse(
            "sms_allowed_countries = [\"46\", \"+358\"]\nsms_per_address_per_day = 3\n",
        )
        .unwrap();
        let config = Config::resolve(file, demo()).unwrap();
        assert_eq!(config.sms_policy.allowed_countries, ["46", "358"]);
        assert_eq!(config.sms_policy.per_address_per_day, 3);
        let bad = FileConfig::parse("sms_allowed_countries = [\"sverige\"]").unwrap();
        assert!(matches!(
            Config::resolve(bad, demo()),
            Err(ConfigError::SmsCountry(_))
        ));
    }

    #[test]
    fn http_limits_default_and_refuse_a_header_timeout_above_30_seconds() {
        let config = Config::resolve(FileConfig::default(), demo()).unwrap();
        assert_eq!(config.http, HttpLimits::default());
        assert_eq!(config.http.header_read_timeout, Duration::from_secs(10));
        assert_eq!(config.http.max_body_bytes, 65536);
        let file = FileConfig::parse("header_read_timeout = 31").unwrap();
        assert_eq!(
            Config::resolve(file, demo()),
            Err(ConfigError::HeaderReadTimeout(31))
        );
        let file = FileConfig::parse("header_read_timeout = 30\nrequest_timeout = 5").unwrap();
        let config = Config::resolve(file, demo()).unwrap();
        assert_eq!(config.http.header_read_timeout, Duration::from_secs(30));
        assert_eq!(config.http.request_timeout, Duration::from_secs(5));
    }

    #[test]
    fn smtp_password_is_redacted_in_debug() {
        let file = FileConfig::parse("[smtp]\npassword = \"hunter2hunter2\"\n").unwrap();
        assert!(!format!("{file:?}").contains("hunter2"));
    }
}
