//! The database, behind one seam: every query of the server lives in a module here, one per
//! concern, and handlers call these functions instead of writing SQL. It owns connecting,
//! migrating and the two dialects; it must never hold a rule (how long a session lasts, how
//! many tries a code gets): callers pass times and limits in.
//!
//! SQLite (one machine, the demo) and PostgreSQL (several instances) run the same SQL through
//! sqlx's `Any` driver: `$1` placeholders (SQLite reads `$NNN` as parameter NNN), `ON CONFLICT`,
//! `RETURNING`, and only integers, text and bytes as types. One query path instead of two
//! concrete pools means one place to change a query and the whole test suite exercising it on
//! both; the price is a row conversion per query, small beside the network and the database
//! (`cargo xtask bench server` prints both backends). Only the migrations have two dialects,
//! `migrations/sqlite` and `migrations/postgres`, numbered alike.

pub mod accounts;
pub mod bankid;
pub mod cases;
pub mod challenges;
pub mod devices;
pub mod limits;
pub mod outbox;
pub mod people;
pub mod sessions;
pub mod siths;

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AnyPool, ConnectOptions as _, Executor as _};

use crate::config::Database;

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> anyhow::Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Backend::Postgres)
        } else {
            anyhow::bail!("database_url must start with sqlite: or postgres://")
        }
    }
}

/// Connections one instance keeps to PostgreSQL. Requests hold one for a few queries at a
/// time; N instances need N × this within the server's `max_connections` (docs/operations.md).
pub const POSTGRES_POOL_SIZE: u32 = 16;
/// SQLite writes one at a time anyway; a few readers beside the writer are enough.
const SQLITE_POOL_SIZE: u32 = 8;

/// The open database, and for a temporary one the directory that holds it (removed on drop).
#[derive(Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    _temporary_dir: Option<tempfile::TempDir>,
}

impl Store {
    /// Connects and migrates. On PostgreSQL the migrations run under sqlx's advisory lock,
    /// so instances starting together apply each migration once and the others wait.
    pub async fn open(database: &Database) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let (url, temporary_dir) = match database {
            Database::Url(url) => (url.clone(), None),
            Database::Temporary => {
                let dir = tempfile::Builder::new()
                    .prefix("legitimera-demo-")
                    .tempdir()?;
                let path = dir.path().join("demo.sqlite");
                (format!("sqlite://{}", path.display()), Some(dir))
            }
        };
        let backend = Backend::of_url(&url)?;
        let pool = match backend {
            Backend::Sqlite => {
                // Parsed as SQLite options first, so a plain `sqlite://file.db` is created
                // when missing, as it always was.
                let sqlite = SqliteConnectOptions::from_str(&url)?.create_if_missing(true);
                let options = AnyConnectOptions::from_str(sqlite.to_url_lossy().as_ref())?;
                // Instances starting together on one new file race to switch it to WAL, which
                // SQLite answers "database is locked" without waiting: try again shortly.
                let mut attempts = 0;
                loop {
                    attempts += 1;
                    let connected = AnyPoolOptions::new()
                        .max_connections(SQLITE_POOL_SIZE)
                        .acquire_timeout(Duration::from_secs(5))
                        .after_connect(|connection, _| {
                            Box::pin(async move {
                                // WAL's recommended level: a commit waits for no fsync (the WAL is
                                // synced at checkpoints), so the database stays consistent through
                                // a crash and only the last moments before a power cut can be
                                // lost. FULL cost each login an fsync, ~10 % of its time.
                                //
                                // The busy timeout first: switching a fresh file to WAL takes a
                                // lock, and several instances (or connections) opening it at once
                                // got "database is locked" at start without a wait.
                                for pragma in [
                                    "PRAGMA busy_timeout = 5000",
                                    "PRAGMA journal_mode = WAL",
                                    "PRAGMA synchronous = NORMAL",
                                    "PRAGMA foreign_keys = ON",
                                ] {
                                    connection.execute(pragma).await?;
                                }
                                Ok(())
                            })
                        })
                        .connect_with(options.clone())
                        .await;
                    match connected {
                        Err(error) if attempts < 20 && is_locked(&error) => {
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                        other => break other?,
                    }
                }
            }
            Backend::Postgres => {
                AnyPoolOptions::new()
                    .max_connections(POSTGRES_POOL_SIZE)
                    .acquire_timeout(Duration::from_secs(5))
                    .connect(&url)
                    .await?
            }
        };
        match backend {
            Backend::Sqlite => migrate_sqlite(&pool).await?,
            Backend::Postgres => sqlx::migrate!("./migrations/postgres").run(&pool).await?,
        }
        Ok(Store {
            pool,
            backend,
            _temporary_dir: temporary_dir,
        })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The database answers a query (readiness).
    pub async fn ping(&self) -> sqlx::Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// SQLite has no advisory lock for sqlx to take: when two processes open a new file together,
/// both may start the same migration and the later one fails on a table the other just made
/// (each migration is one transaction, so nothing is half done). Trying again then finds that
/// migration applied and goes on with the next.
async fn migrate_sqlite(pool: &AnyPool) -> Result<(), sqlx::migrate::MigrateError> {
    const TRIES: u32 = 10;
    let migrator = sqlx::migrate!("./migrations/sqlite");
    let mut tries = 1;
    loop {
        match migrator.run(pool).await {
            Ok(()) => return Ok(()),
            Err(error) if tries < TRIES => {
                tracing::info!(%error, "migration raced another process; trying again");
                tries += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => return Err(error),
        }
    }
}

/// SQLite's "database is locked" (SQLITE_BUSY and its extended codes), which a retry can cure.
fn is_locked(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .and_then(|database| database.code())
        .is_some_and(|code| code == "5" || code == "517" || code == "261")
}
