//! Reads on SQLite in the calling thread. sqlx runs every SQLite connection on a thread of its
//! own: each query is a message there and rows and completion messages back, so a session
//! check (two short reads by primary key) was mostly thread hand-offs — on a 2-core machine
//! under `wrk`, half the server's time was the kernel switching threads, and the check ran at
//! 0.18× an axum hello-world (`cargo xtask bench load`). The hottest reads (the session by its
//! token hash, the account by id) run here instead, on a few connections of their own, each
//! read a few microseconds of the calling thread's time.
//!
//! Nothing is cached: every read sees the file as it is (the last committed write of any
//! connection or process), so a session ended by another process on the same file is ended
//! here too. A read that cannot run here at once (every connection busy, the file locked, any
//! error) returns `None`, and the caller reads through the pool as before.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// How long an inline read may wait for a lock before it gives up and leaves the read to the
/// pool (WAL readers are hardly ever blocked: only while the file is being recovered).
const BUSY_TIMEOUT: Duration = Duration::from_millis(20);

pub struct InlineReader {
    connections: Vec<Mutex<Connection>>,
    next: AtomicUsize,
}

impl std::fmt::Debug for InlineReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InlineReader")
            .field("connections", &self.connections.len())
            .finish()
    }
}

impl InlineReader {
    /// `count` read-only connections to the (existing, migrated, WAL) file at `path`.
    pub fn open(path: &Path, count: usize) -> rusqlite::Result<Self> {
        let connections = (0..count.max(1))
            .map(|_| {
                let connection = Connection::open_with_flags(
                    path,
                    OpenFlags::SQLITE_OPEN_READ_WRITE
                        | OpenFlags::SQLITE_OPEN_NO_MUTEX
                        | OpenFlags::SQLITE_OPEN_URI,
                )?;
                connection.busy_timeout(BUSY_TIMEOUT)?;
                // Reads only, whatever a caller tries.
                connection.pragma_update(None, "query_only", true)?;
                Ok(Mutex::new(connection))
            })
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(InlineReader {
            connections,
            next: AtomicUsize::new(0),
        })
    }

    /// Runs `read` on a free connection; `None` when none is free at once or the read failed
    /// (the caller then reads through the pool).
    pub fn read<T>(&self, read: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Option<T> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let count = self.connections.len();
        for offset in 0..count {
            let Ok(connection) = self.connections[(start + offset) % count].try_lock() else {
                continue;
            };
            return match read(&connection) {
                Ok(value) => Some(value),
                Err(error) => {
                    tracing::debug!(%error, "inline read failed; reading through the pool");
                    None
                }
            };
        }
        None
    }
}
