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
pub mod inline;
pub mod limits;
pub mod outbox;
pub mod people;
pub mod sessions;
pub mod siths;

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context as _;
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
/// Connections for SQLite's inline reads: one per runtime thread is what can be in use at
/// once; a few more so a thread never waits for another's.
const INLINE_READERS: usize = 8;

/// The open database, and for a temporary one the directory that holds it (removed on drop).
#[derive(Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// SQLite's hottest reads in the calling thread (inline.rs); `None` on PostgreSQL.
    inline: Option<inline::InlineReader>,
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
        let mut sqlite_file = None;
        let pool = match backend {
            Backend::Sqlite => {
                // Parsed as SQLite options first, so a plain `sqlite://file.db` is created
                // when missing, as it always was.
                let sqlite = SqliteConnectOptions::from_str(&url)?.create_if_missing(true);
                let file = sqlite.get_filename();
                if !file.as_os_str().is_empty() && !url.contains(":memory:") {
                    sqlite_file = Some(file.to_path_buf());
                }
                let options = AnyConnectOptions::from_str(sqlite.to_url_lossy().as_ref())?;
                switch_to_wal(&options)
                    .await
                    .context("switching the SQLite file to WAL")?;
                AnyPoolOptions::new()
                    .max_connections(SQLITE_POOL_SIZE)
                    .acquire_timeout(Duration::from_secs(5))
                    .after_connect(|connection, _| {
                        Box::pin(async move {
                            // WAL's recommended level: a commit waits for no fsync (the WAL is
                            // synced at checkpoints), so the database stays consistent through
                            // a crash and only the last moments before a power cut can be
                            // lost. FULL cost each login an fsync, ~10 % of its time. The
                            // journal mode itself is the file's, set once before the pool.
                            for pragma in [
                                "PRAGMA busy_timeout = 5000",
                                "PRAGMA synchronous = NORMAL",
                                "PRAGMA foreign_keys = ON",
                            ] {
                                connection.execute(pragma).await?;
                            }
                            Ok(())
                        })
                    })
                    .connect_with(options)
                    .await
                    .context("opening the SQLite pool")?
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
            Backend::Sqlite => migrate_sqlite(&pool).await.context("migrating")?,
            Backend::Postgres => sqlx::migrate!("./migrations/postgres").run(&pool).await?,
        }
        // After the migrations: the tables the inline reads prepare against exist.
        let inline = match &sqlite_file {
            Some(file) => Some(
                inline::InlineReader::open(file, INLINE_READERS)
                    .context("opening SQLite's inline readers")?,
            ),
            None => None,
        };
        Ok(Store {
            pool,
            backend,
            inline,
            _temporary_dir: temporary_dir,
        })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Runs `read` in this thread on SQLite (inline.rs); `None` on PostgreSQL, or when it could
    /// not run at once: then read through [`Store::pool`].
    pub fn read_inline<T>(
        &self,
        read: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
    ) -> Option<T> {
        self.inline.as_ref()?.read(read)
    }

    /// As [`Store::read_inline`], answered from memory while nothing has been committed to the
    /// file since the same read (`query`, `key`) was made (inline.rs says how that is known).
    pub fn read_inline_cached<T: Clone + Send + Sync + 'static>(
        &self,
        query: &'static str,
        key: &[u8],
        read: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
    ) -> Option<T> {
        self.inline.as_ref()?.read_cached(query, key, read)
    }

    /// The database answers a query (readiness).
    pub async fn ping(&self) -> sqlx::Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// Begins a transaction that will write. On SQLite it takes the write lock at once (`BEGIN
/// IMMEDIATE`), waiting for it under the busy timeout: a plain (deferred) transaction that
/// reads first and writes later cannot wait — when another connection wrote in between, SQLite
/// refuses the upgrade with "database is locked" at once (two demo instances seeding one
/// file failed to start in about 1 of 5 runs of tests/instances.rs; two registrations at once
/// could fail the same way). PostgreSQL's `BEGIN` needs no such care.
pub async fn begin_write(
    connection: &mut sqlx::AnyConnection,
) -> sqlx::Result<sqlx::Transaction<'_, sqlx::Any>> {
    use sqlx::Connection as _;
    if connection.backend_name().eq_ignore_ascii_case("sqlite") {
        connection.begin_with("BEGIN IMMEDIATE").await
    } else {
        connection.begin().await
    }
}

/// Switches the file to WAL once, on a connection of its own, before any pool connection
/// opens: WAL is a property of the file, so pool connections need not (and must not) switch it
/// again. Instances starting together on one new file race for that switch, and SQLite answers
/// the loser "database is locked" at once, busy timeout or not: try again shortly. (Switching
/// in every pool connection's `after_connect` let a later connection of one instance fail
/// while another instance was switching: about 1 start in 12 of tests/instances.rs.)
async fn switch_to_wal(options: &AnyConnectOptions) -> anyhow::Result<()> {
    use sqlx::{AnyConnection, Connection as _};
    let mut attempts = 0;
    loop {
        attempts += 1;
        let switched = async {
            let mut connection = AnyConnection::connect_with(options).await?;
            connection.execute("PRAGMA busy_timeout = 5000").await?;
            connection.execute("PRAGMA journal_mode = WAL").await?;
            connection.close().await
        }
        .await;
        match switched {
            Err(error) if attempts < 50 && is_locked(&error) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => return Ok(other?),
        }
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
