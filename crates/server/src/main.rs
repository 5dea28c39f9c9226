//! `legitimera-server`: parses the command line, sets up logging, and runs the server until
//! Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use legitimera_server::config::{Config, FileConfig, Overrides};

/// The reference e-service backend for Legitimera.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Run on loopback with a temporary database and seeded demo data.
    #[arg(long)]
    demo: bool,
    /// A TOML configuration file (keys: listen, database_url, tls_cert, tls_key).
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
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LEGITIMERA_LOG")
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
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
