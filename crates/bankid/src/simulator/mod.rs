//! A local stand-in for BankID's RP API v6.0 (feature `simulator`): the API over mutual TLS
//! with a run-time test PKI, real order state on an injectable clock, and a test BankID app to
//! drive orders. For tests and the demo only: its signatures prove nothing. See the crate
//! documentation for its timing rules.

mod api;
mod app;
mod certs;
mod orders;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;
use url::Url;

pub use crate::clock::{Clock, ManualClock, SystemClock};
pub use app::{AppError, OpenedOrder, Scan, TestApp, TestPerson, DEMO_PEOPLE};
pub use certs::{CERTIFICATE_VALIDITY, RP_PKCS12_PASSWORD};
pub use orders::{COMPLETE_RETENTION, FAILED_RETENTION, QR_MAX_AGE, START_TIMEOUT, USER_TIMEOUT};

use crate::client::{ClientConfig, RpClient};
use crate::error::{ConfigError, ErrorCode};
use crate::tls::{RpIdentity, ServerCa};

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimulatorError {
    #[error("generating the test certificates failed")]
    Certificate(#[from] rcgen::Error),
    #[error("writing the test PKCS#12 file failed")]
    Pkcs12(#[from] p12_keystore::error::Error),
    #[error("the TLS server configuration was refused")]
    Tls(#[from] rustls::Error),
    #[error("the client-certificate verifier could not be built")]
    ClientVerifier(#[from] rustls::server::VerifierBuilderError),
    #[error("binding {addr} failed")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the server stopped before it was listening")]
    NotListening,
}

/// State shared by the HTTP handlers and the test app.
#[derive(Debug)]
pub(crate) struct Shared {
    orders: Mutex<orders::Orders>,
    clock: Arc<dyn Clock>,
    /// `/collect` requests received, answered or refused: lets tests prove an RP stops
    /// polling when an order ends.
    collects: AtomicU64,
    /// An error the next `/auth` or `/sign` answers with, set by a test.
    refuse_next_order: Mutex<Option<ErrorCode>>,
}

impl Shared {
    fn orders(&self) -> MutexGuard<'_, orders::Orders> {
        // A panic while holding the lock leaves the book consistent (each method settles
        // first and mutates one order at a time), so keep serving.
        self.orders
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn count_collect(&self) {
        self.collects.fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn take_refusal(&self) -> Option<ErrorCode> {
        self.refuse_next_order
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
    }
}

/// A running simulator. Dropping it leaves the server running until the runtime ends; call
/// [`Simulator::stop`] to end it.
pub struct Simulator {
    addr: SocketAddr,
    base_url: Url,
    pki: certs::TestPki,
    shared: Arc<Shared>,
    handle: axum_server::Handle<SocketAddr>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Simulator {
    /// Serves on `addr` (port 0 picks a free one) with the system clock.
    pub async fn start(addr: SocketAddr) -> Result<Simulator, SimulatorError> {
        Simulator::start_with_clock(addr, Arc::new(SystemClock)).await
    }

    /// Serves on `addr` with `clock` (a [`ManualClock`] in tests).
    pub async fn start_with_clock(
        addr: SocketAddr,
        clock: Arc<dyn Clock>,
    ) -> Result<Simulator, SimulatorError> {
        let mut ips = vec![
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ];
        if !addr.ip().is_unspecified() && !ips.contains(&addr.ip()) {
            ips.push(addr.ip());
        }
        let pki = certs::generate(&ips)?;
        let tls = server_tls_config(&pki)?;

        let shared = Arc::new(Shared {
            orders: Mutex::new(orders::Orders::default()),
            clock,
            collects: AtomicU64::new(0),
            refuse_next_order: Mutex::new(None),
        });
        let app = TestApp {
            shared: shared.clone(),
        };
        let router = api::router(shared.clone()).nest("/test-app", app.router());

        let listener = std::net::TcpListener::bind(addr)
            .and_then(|listener| listener.set_nonblocking(true).map(|()| listener))
            .map_err(|source| SimulatorError::Bind { addr, source })?;
        let bound = listener
            .local_addr()
            .map_err(|source| SimulatorError::Bind { addr, source })?;
        let handle = axum_server::Handle::new();
        let server = axum_server::from_tcp_rustls(
            listener,
            axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(tls)),
        )
        .map_err(|source| SimulatorError::Bind { addr, source })?
        .handle(handle.clone());
        let task = tokio::spawn(server.serve(router.into_make_service()));
        if handle.listening().await.is_none() {
            return Err(SimulatorError::NotListening);
        }

        // The certificate names localhost and the loopback and bound IPs; use the IP when
        // there is one, so clients need no name lookup.
        let host = if bound.ip().is_unspecified() {
            "localhost".to_owned()
        } else {
            match bound.ip() {
                IpAddr::V4(ip) => ip.to_string(),
                IpAddr::V6(ip) => format!("[{ip}]"),
            }
        };
        let base_url = Url::parse(&format!("https://{host}:{}/rp/v6.0/", bound.port()))
            .map_err(|_| SimulatorError::NotListening)?;
        tracing::debug!(addr = %bound, "BankID simulator listening");
        Ok(Simulator {
            addr: bound,
            base_url,
            pki,
            shared,
            handle,
            task,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://IP:PORT/rp/v6.0/` for the bound IP (`localhost` when bound to all addresses).
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    /// The CA that issued the server certificate: the client's only trust anchor.
    pub fn server_ca_pem(&self) -> &str {
        &self.pki.server_ca_pem
    }

    pub fn server_ca_der(&self) -> &[u8] {
        &self.pki.server_ca_der
    }

    pub fn server_ca(&self) -> ServerCa {
        ServerCa::from_der(self.pki.server_ca_der.clone())
    }

    /// The CA the server requires client certificates from.
    pub fn rp_ca_pem(&self) -> &str {
        &self.pki.rp_ca_pem
    }

    pub fn rp_ca_der(&self) -> &[u8] {
        &self.pki.rp_ca_der
    }

    /// The RP client certificate (PEM), issued by [`Simulator::rp_ca_pem`].
    pub fn rp_cert_pem(&self) -> &str {
        &self.pki.rp_cert_pem
    }

    /// The RP client key (PKCS#8 PEM).
    pub fn rp_key_pem(&self) -> &str {
        &self.pki.rp_key_pem
    }

    /// The RP identity as PKCS#12 (password [`RP_PKCS12_PASSWORD`]), like BankID's test file.
    pub fn rp_pkcs12(&self) -> &[u8] {
        &self.pki.rp_pkcs12
    }

    /// Every certificate the simulator generated, in DER: server leaf, server CA, RP leaf,
    /// RP CA (to check their validity).
    pub fn certificates_der(&self) -> Vec<&[u8]> {
        let mut all: Vec<&[u8]> = self
            .pki
            .server_chain
            .iter()
            .map(|cert| cert.as_ref())
            .collect();
        all.push(&self.pki.rp_cert_der);
        all.push(&self.pki.rp_ca_der);
        all
    }

    pub fn rp_identity(&self) -> Result<RpIdentity, ConfigError> {
        RpIdentity::from_pem(
            self.pki.rp_cert_pem.as_bytes(),
            self.pki.rp_key_pem.as_bytes(),
        )
    }

    /// A client configuration for this simulator: its RP identity, its server CA.
    pub fn client_config(&self) -> Result<ClientConfig, ConfigError> {
        Ok(ClientConfig::new(
            self.base_url.clone(),
            self.rp_identity()?,
            self.server_ca(),
        ))
    }

    pub fn client(&self) -> crate::Result<RpClient> {
        RpClient::new(self.client_config()?)
    }

    /// The test BankID app that opens, signs and cancels this simulator's orders.
    pub fn app(&self) -> TestApp {
        TestApp {
            shared: self.shared.clone(),
        }
    }

    /// How many `/collect` requests the simulator has received so far (all orders, answered or
    /// refused): to check that an RP polls at BankID's pace and stops when an order ends.
    pub fn collect_calls(&self) -> u64 {
        self.shared.collects.load(Ordering::SeqCst)
    }

    /// Makes the next `/auth` or `/sign` fail with `code` (and its HTTP status) instead of
    /// creating an order, once. For testing how an RP handles BankID's refusals, e.g.
    /// `alreadyInProgress`, which BankID only gives for orders naming a personnummer, or
    /// `maintenance`.
    pub fn refuse_next_order(&self, code: ErrorCode) {
        *self
            .shared
            .refuse_next_order
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(code);
    }

    /// Stops accepting, lets open requests finish (1 s at most), and waits for the server.
    pub async fn stop(self) {
        self.handle.graceful_shutdown(Some(Duration::from_secs(1)));
        if let Ok(Err(error)) = self.task.await {
            tracing::debug!(%error, "BankID simulator ended with an error");
        }
    }
}

fn server_tls_config(pki: &certs::TestPki) -> Result<rustls::ServerConfig, SimulatorError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut client_roots = RootCertStore::empty();
    client_roots.add(rustls::pki_types::CertificateDer::from(
        pki.rp_ca_der.clone(),
    ))?;
    // Client authentication is mandatory: a client without a certificate from the RP CA is
    // refused in the handshake, as BankID refuses it.
    let verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(client_roots), provider.clone())
            .build()?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(pki.server_chain.clone(), pki.server_key.clone_key())?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}
