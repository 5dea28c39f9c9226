//! `legitimera-server`: parses the command line, sets up logging, and runs the server until
//! Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use legitimera_protocol::SecretString;
use legitimera_server::config::{
    BankIdFile, Config, FileConfig, Overrides, RevocationMode, SmsFile, SmtpFile, SmtpSecurity,
};
use url::Url;

/// The reference e-service backend for Legitimera.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Tool>,
    /// Run on loopback with a temporary database and seeded demo data.
    #[arg(long)]
    demo: bool,
    /// A TOML configuration file (keys: listen, database_url, tls_cert, tls_key, idle_timeout,
    /// absolute_timeout, trusted_proxy_header, public_origin, siths_trust_anchors,
    /// siths_issuing_cas, siths_policy_oids, siths_revocation, [smtp] host/port/security/
    /// username/password/from, [sms] url/username/password/from, [bankid] url/client_pkcs12/
    /// client_pkcs12_password/client_cert/client_key/server_ca).
    #[arg(long, env = "LEGITIMERA_CONFIG")]
    config: Option<PathBuf>,
    /// The address to listen on, e.g. 127.0.0.1:8787 (port 0 picks a free port).
    #[arg(long, env = "LEGITIMERA_LISTEN")]
    listen: Option<SocketAddr>,
    /// The database, e.g. sqlite:///var/lib/legitimera/db.sqlite.
    #[arg(long, env = "LEGITIMERA_DATABASE_URL")]
    database_url: Option<String>,
    /// PEM certificate chain for HTTPS (needs --tls-key).
    #[arg(long, env = "LEGITIMERA_TLS_CERT")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for HTTPS (needs --tls-cert).
    #[arg(long, env = "LEGITIMERA_TLS_KEY")]
    tls_key: Option<PathBuf>,
    /// Seconds without activity before a session ends (default and maximum 1800).
    #[arg(long, env = "LEGITIMERA_IDLE_TIMEOUT")]
    idle_timeout: Option<u64>,
    /// Seconds after login before a session ends whatever happens (default and maximum 43200).
    #[arg(long, env = "LEGITIMERA_ABSOLUTE_TIMEOUT")]
    absolute_timeout: Option<u64>,
    /// The mail server's host name.
    #[arg(long, env = "LEGITIMERA_SMTP_HOST")]
    smtp_host: Option<String>,
    /// The mail server's port (default 587 for starttls, 465 for tls, 25 for none).
    #[arg(long, env = "LEGITIMERA_SMTP_PORT")]
    smtp_port: Option<u16>,
    /// starttls (default), tls, or none (a mail sink on this machine only).
    #[arg(long, env = "LEGITIMERA_SMTP_SECURITY", value_enum)]
    smtp_security: Option<SmtpSecurity>,
    #[arg(long, env = "LEGITIMERA_SMTP_USERNAME")]
    smtp_username: Option<String>,
    /// Prefer the environment or the config file: a command line is visible to other users.
    #[arg(long, env = "LEGITIMERA_SMTP_PASSWORD", hide_env_values = true)]
    smtp_password: Option<String>,
    /// The sender, e.g. "Myndigheten <no-reply@example.se>".
    #[arg(long, env = "LEGITIMERA_SMTP_FROM")]
    smtp_from: Option<String>,
    /// The SMS gateway's URL (form POST of from, to, message with basic auth).
    #[arg(long, env = "LEGITIMERA_SMS_URL")]
    sms_url: Option<Url>,
    #[arg(long, env = "LEGITIMERA_SMS_USERNAME")]
    sms_username: Option<String>,
    /// Prefer the environment or the config file: a command line is visible to other users.
    #[arg(long, env = "LEGITIMERA_SMS_PASSWORD", hide_env_values = true)]
    sms_password: Option<String>,
    /// The sender shown on the phone (up to 11 letters, or a number).
    #[arg(long, env = "LEGITIMERA_SMS_FROM")]
    sms_from: Option<String>,
    /// A header a reverse proxy sets to the client's address (e.g. X-Forwarded-For; the
    /// right-most address is used). Only when every request comes through that proxy.
    #[arg(long, env = "LEGITIMERA_TRUSTED_PROXY_HEADER")]
    trusted_proxy_header: Option<String>,
    /// BankID's RP API base, e.g. https://appapi2.test.bankid.com/rp/v6.0/ (demo mode without
    /// it uses the built-in simulator).
    #[arg(long, env = "LEGITIMERA_BANKID_URL")]
    bankid_url: Option<Url>,
    /// The RP certificate and key as PKCS#12 (needs --bankid-client-pkcs12-password).
    #[arg(long, env = "LEGITIMERA_BANKID_CLIENT_PKCS12")]
    bankid_client_pkcs12: Option<PathBuf>,
    /// Prefer the environment or the config file: a command line is visible to other users.
    #[arg(
        long,
        env = "LEGITIMERA_BANKID_CLIENT_PKCS12_PASSWORD",
        hide_env_values = true
    )]
    bankid_client_pkcs12_password: Option<String>,
    /// The RP certificate as PEM (with --bankid-client-key, instead of PKCS#12).
    #[arg(long, env = "LEGITIMERA_BANKID_CLIENT_CERT")]
    bankid_client_cert: Option<PathBuf>,
    /// The RP private key as PEM.
    #[arg(long, env = "LEGITIMERA_BANKID_CLIENT_KEY")]
    bankid_client_key: Option<PathBuf>,
    /// BankID's SSL root CA as PEM: the only CA the RP API's certificate may chain to.
    #[arg(long, env = "LEGITIMERA_BANKID_SERVER_CA")]
    bankid_server_ca: Option<PathBuf>,
    /// PEM files of the CAs SITHS cards must chain to (the environment variable takes them
    /// colon-separated). Without any, SITHS login answers siths_unavailable. For the demo, the
    /// virtual card writes its test CA with `vcard --ca-out FILE`.
    #[arg(
        long = "siths-trust-anchors",
        env = "LEGITIMERA_SITHS_TRUST_ANCHORS",
        value_delimiter = ':',
        num_args = 1..
    )]
    siths_trust_anchors: Vec<PathBuf>,
    /// This server's origin as the app reaches it, e.g. https://login.example.se (a port only
    /// when not the default): the SITHS card signs it. Needed for SITHS login; the demo
    /// defaults to http://ADDRESS it listens on.
    #[arg(long, env = "LEGITIMERA_PUBLIC_ORIGIN")]
    public_origin: Option<String>,
    /// The SITHS issuing CAs whose certificates are staff: subject key identifiers in hex or
    /// PEM files of the CA certificates (comma-separated in the environment variable). Without
    /// any, only certificates a trust anchor issued itself log in.
    #[arg(
        long = "siths-issuing-cas",
        env = "LEGITIMERA_SITHS_ISSUING_CAS",
        value_delimiter = ',',
        num_args = 1..
    )]
    siths_issuing_cas: Vec<String>,
    /// Certificate policy OIDs one of which the card's certificate must carry (comma-separated).
    #[arg(
        long = "siths-policy-oids",
        env = "LEGITIMERA_SITHS_POLICY_OIDS",
        value_delimiter = ',',
        num_args = 1..
    )]
    siths_policy_oids: Vec<String>,
    /// Revocation checking of SITHS certificates with the CAs' CRLs: require (default: no
    /// fresh answer refuses the login), prefer (logs and lets in) or off.
    #[arg(long, env = "LEGITIMERA_SITHS_REVOCATION", value_enum)]
    siths_revocation: Option<RevocationMode>,
    /// Country calling codes SMS may be sent to, comma-separated (e.g. 46,47,358); none: every
    /// country.
    #[arg(
        long = "sms-allowed-countries",
        env = "LEGITIMERA_SMS_ALLOWED_COUNTRIES",
        value_delimiter = ','
    )]
    sms_allowed_countries: Vec<String>,
    /// SMS codes per client address a day (default 10).
    #[arg(long, env = "LEGITIMERA_SMS_PER_ADDRESS_PER_DAY")]
    sms_per_address_per_day: Option<u32>,
    /// Seconds a client may take to send a request header (default 10, at most 30).
    #[arg(long, env = "LEGITIMERA_HEADER_READ_TIMEOUT")]
    header_read_timeout: Option<u64>,
    /// Seconds a request may take (default 30, at most 300; BankID's long poll waits on top).
    #[arg(long, env = "LEGITIMERA_REQUEST_TIMEOUT")]
    request_timeout: Option<u64>,
    /// Requests handled at once (default 512); more are answered 503 overloaded.
    #[arg(long, env = "LEGITIMERA_MAX_CONCURRENT_REQUESTS")]
    max_concurrent_requests: Option<usize>,
    /// The largest request body in bytes (default 65536).
    #[arg(long, env = "LEGITIMERA_MAX_BODY_BYTES")]
    max_body_bytes: Option<usize>,
    /// What the BankID app shows at login, e.g. "Inloggning till Myndighetens e-tjänster".
    #[arg(long, env = "LEGITIMERA_BANKID_USER_VISIBLE_DATA")]
    bankid_user_visible_data: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Tool {
    /// Runs the BankID simulator alone (demo builds): its RP API over mutual TLS for several
    /// servers to share, as they share the real BankID, and its test BankID app over HTTP
    /// (POST /demo/bankid/sign, /demo/bankid/cancel). Writes rp.pem, rp.key and bankid-ca.pem
    /// into --out for the servers' --bankid-client-cert, --bankid-client-key and
    /// --bankid-server-ca; prints both addresses. Runs until Ctrl-C or SIGTERM.
    #[cfg(feature = "demo")]
    BankidSimulator {
        /// The RP API's address (port 0 picks a free port).
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
        /// The test app's address.
        #[arg(long, default_value = "127.0.0.1:0")]
        app_listen: SocketAddr,
        /// A directory for the PEM files the servers need.
        #[arg(long)]
        out: PathBuf,
    },
}

/// The simulator as its own process (`legitimera-server bankid-simulator`).
#[cfg(feature = "demo")]
async fn bankid_simulator(
    listen: SocketAddr,
    app_listen: SocketAddr,
    out: &std::path::Path,
) -> anyhow::Result<()> {
    use legitimera_bankid::simulator::Simulator;
    let simulator = Simulator::start(listen).await?;
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join("rp.pem"), simulator.rp_cert_pem())?;
    std::fs::write(out.join("rp.key"), simulator.rp_key_pem())?;
    std::fs::write(out.join("bankid-ca.pem"), simulator.server_ca_pem())?;
    let app = tokio::net::TcpListener::bind(app_listen).await?;
    println!("listening on {}", simulator.base_url());
    println!("test app on http://{}/demo/bankid", app.local_addr()?);
    let router = axum::Router::new().nest_service("/demo/bankid", simulator.app().router());
    axum::serve(app, router)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LEGITIMERA_LOG")
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        // Colours for a person at a terminal; a log file or journal gets plain text (and each
        // request's span is formatted in a fraction of the time: `cargo xtask bench load`).
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        // A log line that cannot be written (whoever read stderr has gone) is lost, and nothing
        // else: by default tracing reports it with `eprintln!`, which panics on that same
        // stderr, in whatever task logged — the SIGTERM handler's "shutting down" among them,
        // so the server could no longer be stopped (tests/process.rs).
        .log_internal_errors(false)
        .init();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("legitimera-server: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        #[cfg(feature = "demo")]
        Some(Tool::BankidSimulator {
            listen,
            app_listen,
            out,
        }) => return bankid_simulator(*listen, *app_listen, out).await,
        // Without the `demo` feature there are no tools.
        #[cfg(not(feature = "demo"))]
        Some(tool) => match *tool {},
        None => {}
    }
    let file = match &cli.config {
        Some(path) => FileConfig::load(path)?,
        None => FileConfig::default(),
    };
    let config = Config::resolve(
        file,
        Overrides {
            listen: cli.listen,
            database_url: cli.database_url,
            tls_cert: cli.tls_cert,
            tls_key: cli.tls_key,
            idle_timeout: cli.idle_timeout,
            absolute_timeout: cli.absolute_timeout,
            smtp: SmtpFile {
                host: cli.smtp_host,
                port: cli.smtp_port,
                security: cli.smtp_security,
                username: cli.smtp_username,
                password: cli.smtp_password.map(SecretString::from),
                from: cli.smtp_from,
            },
            sms: SmsFile {
                url: cli.sms_url,
                username: cli.sms_username,
                password: cli.sms_password.map(SecretString::from),
                from: cli.sms_from,
            },
            trusted_proxy_header: cli.trusted_proxy_header,
            bankid: BankIdFile {
                url: cli.bankid_url,
                client_pkcs12: cli.bankid_client_pkcs12,
                client_pkcs12_password: cli.bankid_client_pkcs12_password.map(SecretString::from),
                client_cert: cli.bankid_client_cert,
                client_key: cli.bankid_client_key,
                server_ca: cli.bankid_server_ca,
            },
            siths_trust_anchors: (!cli.siths_trust_anchors.is_empty())
                .then_some(cli.siths_trust_anchors),
            public_origin: cli.public_origin,
            siths_issuing_cas: (!cli.siths_issuing_cas.is_empty()).then_some(cli.siths_issuing_cas),
            siths_policy_oids: (!cli.siths_policy_oids.is_empty()).then_some(cli.siths_policy_oids),
            siths_revocation: cli.siths_revocation,
            sms_allowed_countries: (!cli.sms_allowed_countries.is_empty())
                .then_some(cli.sms_allowed_countries),
            sms_per_address_per_day: cli.sms_per_address_per_day,
            header_read_timeout: cli.header_read_timeout,
            request_timeout: cli.request_timeout,
            max_concurrent_requests: cli.max_concurrent_requests,
            max_body_bytes: cli.max_body_bytes,
            bankid_user_visible_data: cli.bankid_user_visible_data,
            demo: cli.demo,
        },
    )?;
    if config.demo {
        tracing::info!("demo mode: temporary database with seeded demo data");
    }
    legitimera_server::serve(config, shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
