//! The reference e-service backend: the HTTP API the Legitimera app logs in to.
//! It owns accounts, sessions and cases; it never logs personal data.

mod accounts;
pub mod bankid;
mod cases;
mod challenges;
pub mod clock;
pub mod config;
pub mod delivery;
pub mod demo;
mod devices;
pub mod error;
mod extract;
mod http_limits;
mod language;
mod login;
mod messages;
pub mod otp;
mod parse_errors;
mod password_reset;
pub mod passwords;
mod phone_change;
pub mod ratelimit;
mod registration;
mod routes;
mod sessions;
pub mod siths;
mod sms_quota;
pub mod store;
mod test_logins;

/// What a client (or a CRL distribution point) sends, as the server parses it, for fuzz/ to
/// feed directly; not part of the API.
#[doc(hidden)]
pub mod internal {
    pub use crate::bankid::WaitQuery;
    pub use crate::cases::CasesQuery;
    pub use crate::extract::{rightmost_address, Body};
    pub use crate::sessions::bearer;
    pub use crate::siths::revocation::parse as parse_crl;
    pub use crate::siths::revocation_verdict as crl_verdict;
    pub use crate::siths::verify::{check_chain, verify};
    pub use crate::siths::LandingQuery;
}

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use tokio::net::TcpListener;

use axum::http::HeaderName;
#[cfg(feature = "demo")]
use legitimera_bankid::simulator::{Simulator, TestApp};
use legitimera_bankid::{ClientConfig, RpClient, RpIdentity, ServerCa};

use crate::bankid::BankId;
use crate::clock::{Clock, SystemClock};
use crate::config::{BankIdSetup, Config, Delivery, HttpLimits, RpIdentityFiles, Timeouts};
use crate::delivery::{DemoOutbox, HttpSmsGateway, Mailer, SmsSender, SmtpMailer};
use crate::parse_errors::JsonParseErrors;
use crate::passwords::Hasher;
use crate::ratelimit::Limiter;
use crate::siths::{CertificatePolicy, CrlCache, SithsSetup, TrustAnchors};
use crate::store::Store;

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    demo: bool,
    clock: Arc<dyn Clock>,
    hasher: Hasher,
    mailer: Arc<dyn Mailer>,
    sms: Arc<dyn SmsSender>,
    outbox: Option<Arc<DemoOutbox>>,
    timeouts: Timeouts,
    http: HttpLimits,
    limits: Limits,
    /// Country calling codes SMS may go to; empty: every country.
    sms_allowed_countries: Vec<String>,
    /// What the BankID app shows at login.
    bankid_user_visible_data: legitimera_bankid::UserVisibleData,
    trusted_proxy_header: Option<HeaderName>,
    bankid: Option<Arc<BankId>>,
    /// Demo mode: the BankID simulator the orders go to, with its test app.
    #[cfg(feature = "demo")]
    simulator: Option<Simulator>,
    siths: SithsSetup,
    /// Demo mode: the CRLs the virtual cards' test CAs published (`PUT /demo/siths/crl/…`).
    demo_crls: Option<std::sync::Mutex<std::collections::HashMap<String, Vec<u8>>>>,
    /// Fetches SITHS CRLs again before their nextUpdate; stopped with the server.
    _crl_refresh: Option<AbortOnDrop>,
    /// `scheme://host[:port]` the app reaches this server at: part of what the card signs.
    public_origin: String,
    /// Sweeps what the database keeps past its use; stopped with the server.
    _maintenance: AbortOnDrop,
}

/// A background task that ends when its owner is dropped.
#[derive(Debug)]
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How often ended rate-limit windows and old sessions are swept from the database.
const SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// Sweeps now and then, so the tables hold only what can still be asked for: ended
/// rate-limit windows, and sessions long past every limit (swept here, not at each login:
/// there it was a write of its own that nearly always found nothing). Holds the pool, not the
/// state, so dropping the server ends it.
fn maintenance(pool: sqlx::AnyPool, clock: Arc<dyn Clock>, absolute: Duration) -> AbortOnDrop {
    AbortOnDrop(tokio::spawn(async move {
        loop {
            tokio::time::sleep(SWEEP_INTERVAL).await;
            sweep(&pool, clock.unix(), absolute).await;
        }
    }))
}

/// One round of [`maintenance`].
async fn sweep(pool: &sqlx::AnyPool, now: i64, absolute: Duration) {
    if let Err(error) = store::limits::sweep(pool, now).await {
        tracing::warn!(%error, "could not sweep rate limits");
    }
    if let Err(error) = sessions::sweep(pool, now, absolute).await {
        tracing::warn!(%error, "could not sweep old sessions");
    }
}

/// How often the SITHS CRLs are looked at for one that is due to be fetched again.
const CRL_REFRESH_INTERVAL: Duration = Duration::from_secs(60);

/// Fetches the SITHS CRLs again before their nextUpdate, so logins seldom wait for one.
fn crl_refresher(crls: Arc<CrlCache>, clock: Arc<dyn Clock>) -> AbortOnDrop {
    AbortOnDrop(tokio::spawn(async move {
        loop {
            tokio::time::sleep(CRL_REFRESH_INTERVAL).await;
            crls.refresh_due(clock.unix()).await;
        }
    }))
}

/// The guessing limits. Failures count, successes don't; every window empties by itself.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Wrong passwords per account (unknown addresses count the same way).
    pub login_account: Limiter,
    /// Wrong login SMS codes per account: its own count, so wrong passwords do not block the
    /// owner's right code.
    pub login_sms_account: Limiter,
    /// Wrong passwords and SMS codes per client address.
    pub login_ip: Limiter,
    /// Registrations started per client address (each sends an e-mail).
    pub registration_ip: Limiter,
    /// Password resets started per client address (each sends an e-mail).
    pub password_reset_ip: Limiter,
    /// BankID orders started per client address (each is a BankID order and a poller).
    pub bankid_ip: Limiter,
    /// SITHS challenges per client address (each is a database row for 2 minutes).
    pub siths_ip: Limiter,
    /// SMS codes per account (or registering address) a day.
    pub sms_account: Limiter,
    /// SMS codes per destination number a day.
    pub sms_number: Limiter,
    /// SMS codes per client address a day (`sms_per_address_per_day`).
    pub sms_ip: Limiter,
    /// "Forget this device" requests per client address (each is a database write, and the
    /// only device call without a session).
    pub device_forget_ip: Limiter,
}

/// SITHS challenges per client address in 15 minutes: generous, since a whole hospital may
/// reach the server through one address.
pub const SITHS_CHALLENGES_PER_IP: i64 = 300;

impl Limits {
    /// The limits with what the configuration sets (the SMS quota per address).
    pub fn configured(sms: &config::SmsPolicy) -> Self {
        Limits {
            sms_ip: Limiter::new("sms_ip", sms.per_address_per_day, sms_quota::DAY_SECONDS),
            ..Limits::default()
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            sms_account: Limiter::new(
                "sms_account",
                sms_quota::PER_ACCOUNT_PER_DAY,
                sms_quota::DAY_SECONDS,
            ),
            sms_number: Limiter::new(
                "sms_number",
                sms_quota::PER_NUMBER_PER_DAY,
                sms_quota::DAY_SECONDS,
            ),
            sms_ip: Limiter::new(
                "sms_ip",
                sms_quota::PER_ADDRESS_PER_DAY,
                sms_quota::DAY_SECONDS,
            ),
            login_account: Limiter::new("login_account", 5, 15 * 60),
            login_sms_account: Limiter::new("login_sms_account", 5, 15 * 60),
            login_ip: Limiter::new("login_ip", 30, 15 * 60),
            registration_ip: Limiter::new("registration_ip", 20, 60 * 60),
            password_reset_ip: Limiter::new("password_reset_ip", 20, 60 * 60),
            bankid_ip: Limiter::new("bankid_ip", 60, 15 * 60),
            siths_ip: Limiter::new("siths_ip", SITHS_CHALLENGES_PER_IP, 15 * 60),
            device_forget_ip: Limiter::new("device_forget_ip", 60, 15 * 60),
        }
    }
}

impl AppState {
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn pool(&self) -> &sqlx::AnyPool {
        self.inner.store.pool()
    }

    pub fn demo(&self) -> bool {
        self.inner.demo
    }

    pub fn clock(&self) -> &dyn Clock {
        self.inner.clock.as_ref()
    }

    pub fn now(&self) -> i64 {
        self.inner.clock.unix()
    }

    pub fn hasher(&self) -> &Hasher {
        &self.inner.hasher
    }

    pub fn mailer(&self) -> &dyn Mailer {
        self.inner.mailer.as_ref()
    }

    pub fn sms(&self) -> &dyn SmsSender {
        self.inner.sms.as_ref()
    }

    pub fn outbox(&self) -> Option<&DemoOutbox> {
        self.inner.outbox.as_deref()
    }

    pub fn timeouts(&self) -> Timeouts {
        self.inner.timeouts
    }

    pub fn http_limits(&self) -> HttpLimits {
        self.inner.http
    }

    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// What the BankID app shows the user at login (`userVisibleData`).
    pub fn bankid_user_visible_data(&self) -> &legitimera_bankid::UserVisibleData {
        &self.inner.bankid_user_visible_data
    }

    /// Country calling codes SMS may go to (digits, no `+`); empty: every country.
    pub fn sms_allowed_countries(&self) -> &[String] {
        &self.inner.sms_allowed_countries
    }

    /// The header a trusted reverse proxy puts the client's address in, if configured.
    pub fn trusted_proxy_header(&self) -> Option<&HeaderName> {
        self.inner.trusted_proxy_header.as_ref()
    }

    /// `None` when BankID login is not configured.
    pub fn bankid(&self) -> Option<Arc<BankId>> {
        self.inner.bankid.clone()
    }

    /// Demo mode: the simulator's test BankID app.
    #[cfg(feature = "demo")]
    pub fn demo_bankid_app(&self) -> Option<TestApp> {
        self.inner.simulator.as_ref().map(Simulator::app)
    }

    /// Empty when SITHS login is not set up.
    pub fn siths_anchors(&self) -> &TrustAnchors {
        &self.inner.siths.anchors
    }

    pub fn siths(&self) -> &SithsSetup {
        &self.inner.siths
    }

    /// Demo mode: the CRLs published on the demo route, by name.
    pub fn demo_crls(
        &self,
    ) -> Option<&std::sync::Mutex<std::collections::HashMap<String, Vec<u8>>>> {
        self.inner.demo_crls.as_ref()
    }

    /// This server's origin as the app reaches it (`public_origin`, or in demo mode the
    /// address it listens on): the card's signature is over it.
    pub fn public_origin(&self) -> &str {
        &self.inner.public_origin
    }
}

/// Opens the database (seeding it in demo mode) and builds the router, on the system clock.
pub async fn build(config: &Config) -> anyhow::Result<Router> {
    build_with_clock(config, Arc::new(SystemClock)).await
}

/// As [`build`], with the clock given: tests pass a `ManualClock` to move time.
pub async fn build_with_clock(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Router> {
    Ok(build_app(config, config.listen, clock).await?.0)
}

/// The origin the app reaches this server at: configured, or in demo mode the address it
/// listens on (`listening`, with the port a port 0 became).
fn public_origin(config: &Config, listening: SocketAddr) -> String {
    match &config.public_origin {
        Some(origin) => origin.clone(),
        None => {
            let scheme = if config.tls.is_some() {
                "https"
            } else {
                "http"
            };
            format!("{scheme}://{listening}")
        }
    }
}

impl AppState {
    /// After the last request: hands this instance's BankID leases back.
    async fn stop(&self) {
        if let Some(bankid) = self.bankid() {
            bankid.stop(self).await;
        }
    }
}

/// The router and the state behind it (which [`AppState::stop`] winds down); `listening` is
/// the address the server is bound to.
async fn build_app(
    config: &Config,
    listening: SocketAddr,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<(Router, AppState)> {
    if config.demo && !cfg!(feature = "demo") {
        anyhow::bail!("this server was built without demo mode (the `demo` feature)");
    }
    let store = Store::open(&config.database)
        .await
        .context("opening the database")?;
    let hasher = Hasher::new()?;
    let (mailer, sms, outbox): (Arc<dyn Mailer>, Arc<dyn SmsSender>, _) = match &config.delivery {
        Delivery::Real { smtp, sms } => (
            Arc::new(SmtpMailer::new(smtp)?),
            Arc::new(HttpSmsGateway::new(sms)?),
            None,
        ),
        Delivery::DemoOutbox => {
            let outbox = Arc::new(DemoOutbox::new(clock.clone(), store.pool().clone()));
            (outbox.clone(), outbox.clone(), Some(outbox))
        }
    };
    if config.demo {
        demo::seed(store.pool(), &hasher, clock.unix())
            .await
            .context("writing the demo data")?;
    }
    let (bankid, _simulator) = bankid_client(&config.bankid, clock.clone()).await?;
    let trusted_proxy_header = config
        .trusted_proxy_header
        .as_deref()
        .map(HeaderName::try_from)
        .transpose()?;
    let siths_anchors = TrustAnchors::from_pem_files(&config.siths_trust_anchors)?;
    let policy = CertificatePolicy::parse(&config.siths_issuing_cas, &config.siths_policy_oids)?;
    let crls = Arc::new(CrlCache::new()?);
    let mut crl_refresh = None;
    if siths_anchors.is_empty() {
        tracing::info!("SITHS login off: no trust anchors configured");
    } else {
        tracing::info!(
            anchors = siths_anchors.len(),
            issuing_cas = policy.issuing_cas.len(),
            policy_oids = policy.policy_oids.len(),
            revocation = ?config.siths_revocation,
            "SITHS login on"
        );
        if policy.issuing_cas.is_empty() {
            tracing::warn!(
                "no siths_issuing_cas: only certificates a trust anchor issued itself log in"
            );
        }
        match config.siths_revocation {
            config::RevocationMode::Off => tracing::warn!(
                "siths_revocation = off: revoked SITHS cards (lost, or of people who left) can log in"
            ),
            _ => crl_refresh = Some(crl_refresher(Arc::clone(&crls), clock.clone())),
        }
    }
    let siths = SithsSetup {
        anchors: siths_anchors,
        policy,
        revocation: config.siths_revocation,
        crls,
    };
    let public_origin = public_origin(config, listening);
    let maintenance = maintenance(
        store.pool().clone(),
        clock.clone(),
        config.timeouts.absolute,
    );
    let state = AppState {
        inner: Arc::new(Inner {
            store,
            demo: config.demo,
            clock,
            hasher,
            mailer,
            sms,
            outbox,
            timeouts: config.timeouts,
            http: config.http,
            limits: Limits::configured(&config.sms_policy),
            sms_allowed_countries: config.sms_policy.allowed_countries.clone(),
            bankid_user_visible_data: legitimera_bankid::UserVisibleData::new(
                &config.bankid_user_visible_data,
            )
            .map_err(|e| anyhow::anyhow!("bankid_user_visible_data: {e}"))?,
            trusted_proxy_header,
            bankid: bankid.map(|client| Arc::new(BankId::new(client))),
            #[cfg(feature = "demo")]
            simulator: _simulator,
            siths,
            demo_crls: config.demo.then(Default::default),
            _crl_refresh: crl_refresh,
            public_origin,
            _maintenance: maintenance,
        }),
    };
    if let Some(bankid) = state.bankid() {
        bankid.start_takeover(Arc::downgrade(&state.inner));
    }
    Ok((routes::router(state.clone()), state))
}

/// The RP client for the configured BankID, or for a simulator started here in demo mode
/// (on 127.0.0.1, a free port, the server's clock).
#[cfg(feature = "demo")]
async fn bankid_client(
    setup: &BankIdSetup,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<(Option<RpClient>, Option<Simulator>)> {
    match setup {
        BankIdSetup::Off => Ok((None, None)),
        BankIdSetup::Rp(rp) => Ok((Some(rp_client(rp)?), None)),
        BankIdSetup::Simulator => {
            // The server's clock: a test moving it moves BankID's time too.
            let simulator =
                Simulator::start_with_clock(SocketAddr::from(([127, 0, 0, 1], 0)), clock).await?;
            let client = RpClient::new(simulator.client_config()?)?;
            tracing::info!(addr = %simulator.addr(), "demo mode: BankID simulator started");
            Ok((Some(client), Some(simulator)))
        }
    }
}

/// Without the `demo` feature there is no simulator to start: only a configured RP API.
#[cfg(not(feature = "demo"))]
async fn bankid_client(
    setup: &BankIdSetup,
    _clock: Arc<dyn Clock>,
) -> anyhow::Result<(Option<RpClient>, Option<()>)> {
    match setup {
        BankIdSetup::Off => Ok((None, None)),
        BankIdSetup::Rp(rp) => Ok((Some(rp_client(rp)?), None)),
        BankIdSetup::Simulator => {
            anyhow::bail!("this server was built without the BankID simulator: configure [bankid]")
        }
    }
}

/// The RP client for a configured RP API (mutual TLS with the RP identity's files).
fn rp_client(rp: &config::BankIdRp) -> anyhow::Result<RpClient> {
    let read = |path: &std::path::Path| {
        std::fs::read(path)
            .map_err(|e| anyhow::anyhow!("[bankid]: cannot read {}: {e}", path.display()))
    };
    let identity = match &rp.identity {
        RpIdentityFiles::Pkcs12 { file, password } => {
            RpIdentity::from_pkcs12(&read(file)?, password.expose())?
        }
        RpIdentityFiles::Pem { cert, key } => RpIdentity::from_pem(&read(cert)?, &read(key)?)?,
    };
    let server_ca = ServerCa::from_pem(&read(&rp.server_ca)?)?;
    Ok(RpClient::new(ClientConfig::new(
        rp.url.clone(),
        identity,
        server_ca,
    ))?)
}

/// Binds, announces the address on stdout (`listening on http://ADDR`, so scripts and tests can
/// use port 0), and serves until `shutdown` resolves; then lets open requests finish, for at
/// most [`config::SHUTDOWN_DEADLINE`], on HTTP as on HTTPS.
pub async fn serve(
    config: Config,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    // Bound before the app is built: in demo mode the public origin is the bound address.
    let listener = std::net::TcpListener::bind(config.listen)?;
    listener.set_nonblocking(true)?;
    let listening = listener.local_addr()?;
    let (app, state) = build_app(&config, listening, Arc::new(SystemClock)).await?;
    let handle = axum_server::Handle::new();
    stop_on(&handle, shutdown);
    let service = app.into_make_service_with_connect_info::<SocketAddr>();
    match &config.tls {
        None => {
            announce("http", listening);
            let mut server = axum_server::from_tcp(listener)?
                .handle(handle)
                .map(JsonParseErrors);
            limit_connections(server.http_builder(), &config.http);
            server.serve(service).await?;
        }
        Some(tls) => {
            let _ = rustls_ring_provider();
            let rustls_config =
                axum_server::tls_rustls::RustlsConfig::from_pem_file(&tls.cert, &tls.key).await?;
            let waiter = handle.clone();
            tokio::spawn(async move {
                if let Some(addr) = waiter.listening().await {
                    announce("https", addr);
                }
            });
            let mut server = axum_server::from_tcp_rustls(listener, rustls_config)?
                .handle(handle)
                .map(JsonParseErrors);
            limit_connections(server.http_builder(), &config.http);
            server.serve(service).await?;
        }
    }
    state.stop().await;
    tracing::info!("server stopped");
    Ok(())
}

/// When `shutdown` resolves: stop accepting, give open requests the deadline, then close.
fn stop_on(
    handle: &axum_server::Handle<SocketAddr>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        stopper.graceful_shutdown(Some(config::SHUTDOWN_DEADLINE));
    });
}

/// hyper's connection limits: a request header must arrive within `header_read_timeout`
/// (hyper's timer installed, else the timeout is silently off), and a connection that sends
/// half a header is closed then.
fn limit_connections(
    builder: &mut hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>,
    http: &HttpLimits,
) {
    builder
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(http.header_read_timeout);
    builder.http2().timer(hyper_util::rt::TokioTimer::new());
}

/// A server running in this process over plain HTTP (for tests and benches).
#[derive(Debug)]
pub struct Running {
    pub addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Running {
    /// `http://ADDR`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.task.await?
    }
}

/// Builds the server with `clock`, binds `config.listen` (port 0 picks one) and serves in the
/// background until [`Running::stop`], with the same connection limits as [`serve`].
pub async fn start(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Running> {
    let listener = TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let (app, state) = build_app(&config, addr, clock).await?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let handle = axum_server::Handle::new();
    stop_on(&handle, async {
        let _ = stopped.await;
    });
    let mut server = axum_server::from_tcp(listener.into_std()?)?
        .handle(handle)
        .map(JsonParseErrors);
    limit_connections(server.http_builder(), &config.http);
    let task = tokio::spawn(async move {
        let served = server
            .serve(app.into_make_service_with_connect_info::<SocketAddr>())
            .await
            .map_err(anyhow::Error::from);
        state.stop().await;
        served
    });
    Ok(Running { addr, stop, task })
}

/// Whoever started the server may have stopped reading its output: that is no reason to fail.
fn announce(scheme: &str, addr: SocketAddr) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stdout(), "listening on {scheme}://{addr}");
    tracing::info!(%addr, scheme, "listening");
}

/// axum-server's rustls is built with ring only; make it the process default once.
fn rustls_ring_provider() -> bool {
    rustls::crypto::ring::default_provider()
        .install_default()
        .is_ok()
}
