//! The reference e-service backend: the HTTP API the Legitimera app logs in to.
//! It owns accounts, sessions and cases; it never logs personal data.

pub mod config;
pub mod db;
pub mod demo;
pub mod error;
mod routes;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::db::Db;

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: Db,
    demo: bool,
}

impl AppState {
    pub fn new(db: Db, demo: bool) -> Self {
        AppState {
            inner: Arc::new(Inner { db, demo }),
        }
    }

    pub fn pool(&self) -> &sqlx::SqlitePool {
        &self.inner.db.pool
    }

    pub fn demo(&self) -> bool {
        self.inner.demo
    }
}

/// Opens the database (seeding it in demo mode) and builds the router.
pub async fn build(config: &Config) -> anyhow::Result<Router> {
    let db = Db::open(&config.database).await?;
    if config.demo {
        demo::seed(&db.pool).await?;
    }
    Ok(routes::router(AppState::new(db, config.demo)))
}

/// Binds, announces the address on stdout (`listening on http://ADDR`, so scripts and tests can
/// use port 0), and serves until `shutdown` resolves; then drains open requests.
pub async fn serve(
    config: Config,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let app = build(&config).await?;
    match &config.tls {
        None => {
            let listener = TcpListener::bind(config.listen).await?;
            announce("http", listener.local_addr()?);
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(shutdown)
            .await?;
        }
        Some(tls) => {
            let _ = rustls_ring_provider();
            let rustls_config =
                axum_server::tls_rustls::RustlsConfig::from_pem_file(&tls.cert, &tls.key).await?;
            let handle = axum_server::Handle::new();
            let waiter = handle.clone();
            tokio::spawn(async move {
                if let Some(addr) = waiter.listening().await {
                    announce("https", addr);
                }
            });
            let stopper = handle.clone();
            tokio::spawn(async move {
                shutdown.await;
                stopper.graceful_shutdown(Some(Duration::from_secs(10)));
            });
            axum_server::bind_rustls(config.listen, rustls_config)
                .handle(handle)
                .serve(app.into_make_service_with_connect_info::<SocketAddr>())
                .await?;
        }
    }
    tracing::info!("server stopped");
    Ok(())
}

fn announce(scheme: &str, addr: SocketAddr) {
    println!("listening on {scheme}://{addr}");
    tracing::info!(%addr, scheme, "listening");
}

/// axum-server's rustls is built with ring only; make it the process default once.
fn rustls_ring_provider() -> bool {
    rustls::crypto::ring::default_provider()
        .install_default()
        .is_ok()
}
