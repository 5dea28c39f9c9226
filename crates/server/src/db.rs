//! The database: connecting, migrating (migrations are embedded in the binary), and the
//! temporary database of demo mode. Queries live with the feature that owns them.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

use crate::config::Database;

/// The open database, and for a temporary one the directory that holds it (removed on drop).
#[derive(Debug)]
pub struct Db {
    pub pool: SqlitePool,
    _temporary_dir: Option<tempfile::TempDir>,
}

impl Db {
    pub async fn open(database: &Database) -> anyhow::Result<Self> {
        let (options, temporary_dir) = match database {
            Database::Url(url) => (SqliteConnectOptions::from_str(url)?, None),
            Database::Temporary => {
                let dir = tempfile::Builder::new()
                    .prefix("legitimera-demo-")
                    .tempdir()?;
                let options = SqliteConnectOptions::new().filename(dir.path().join("demo.sqlite"));
                (options, Some(dir))
            }
        };
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL's recommended level: a commit waits for no fsync (the WAL is synced at
            // checkpoints), so the database stays consistent through a crash and only the last
            // moments before a power cut can be lost. FULL cost each login an fsync, ~10 % of
            // its time (bench/password_login.rs).
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Db {
            pool,
            _temporary_dir: temporary_dir,
        })
    }
}
