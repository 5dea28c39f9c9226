//! Reads on SQLite in the calling thread. sqlx runs every SQLite connection on a thread of its
//! own: each query is a message there and rows and completion messages back, so a session
//! check (two short reads by primary key) was mostly thread hand-offs — on a 2-core machine
//! under `wrk`, half the server's time was the kernel switching threads, and the check ran at
//! 0.18× an axum hello-world (`cargo xtask bench load`). The hottest reads (the session by its
//! token hash, the account by id) run here instead, on a few connections of their own, each
//! read a few microseconds of the calling thread's time.
//!
//! Every read sees the file as it is (the last committed write of any connection or process),
//! so a session ended by another process on the same file is ended here too. A read that
//! cannot run here at once (every connection busy, the file locked, any error) returns `None`,
//! and the caller reads through the pool as before.
//!
//! [`InlineReader::read_cached`] answers a read it has made before from memory, but only while
//! the file holds no commit since: the WAL index (the `-shm` file every connection to the file,
//! in any process, shares) starts with a header that each commit rewrites — its last frame and
//! the WAL's salts, so no two committed states share one (sqlite.org/walformat.html, "the
//! WAL-index header"). Reading those 96 bytes is one `pread` without a lock; the read it saves
//! is a read transaction, whose two `fcntl` locks on the `-shm` file and the mutex around them
//! (held across the system call, and contended by every runtime thread) cost more under load
//! than the query itself (`cargo xtask bench load`, profiled with perf). Any commit, of any
//! row, by anyone, empties the memory, so nothing can be answered that the file no longer
//! says. PostgreSQL has no inline reads, so nothing there is kept either.

use std::any::Any;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};

/// How long an inline read may wait for a lock before it gives up and leaves the read to the
/// pool (WAL readers are hardly ever blocked: only while the file is being recovered).
const BUSY_TIMEOUT: Duration = Duration::from_millis(20);

/// The WAL-index header: two copies of 48 bytes (walformat.html); a writer writes the second,
/// then the first, so a reader that finds them equal read a whole one.
const HEADER_COPY: usize = 48;
/// `iVersion`, the header's first field (native byte order), in every WAL index SQLite writes.
const WAL_INDEX_VERSION: u32 = 3_007_000;
/// `isInit`: 1 once the header is built.
const IS_INIT_OFFSET: usize = 12;
/// At most this many reads are kept (between two commits); past it, the memory starts over.
const MAX_KEPT: usize = 10_000;

/// How often, at most, the WAL index's link count is looked at (a `statx` per read cost ~4 %
/// of the server's time under load, `cargo xtask bench load` profiled with perf).
const LINK_CHECK_EVERY: Duration = Duration::from_millis(1);

/// One committed state of the file: the WAL-index header as it was.
type CommitMark = [u8; HEADER_COPY];

pub struct InlineReader {
    connections: Vec<Mutex<Connection>>,
    next: AtomicUsize,
    /// The `-shm` file, read-only; `None` when it could not be opened (nothing is kept then).
    wal_index: Option<std::fs::File>,
    /// When the index's link count was last looked at (microseconds since `opened`).
    link_checked_at: AtomicU64,
    /// Set for good once the index was found deleted.
    unlinked: AtomicBool,
    opened: Instant,
    kept: Mutex<Kept>,
}

/// Reads answered at one committed state of the file, by query and key. Holds what the rows
/// hold (personal data, the QR secret of an order) for as long as the file does not change:
/// never printed.
#[derive(Default)]
struct Kept {
    at: Option<CommitMark>,
    count: usize,
    reads: HashMap<&'static str, HashMap<Box<[u8]>, KeptValue>>,
}

/// One read's answer (its type is the read's).
type KeptValue = Box<dyn Any + Send + Sync>;

impl Kept {
    fn get<T: Clone + 'static>(&self, mark: &CommitMark, query: &str, key: &[u8]) -> Option<T> {
        if self.at.as_ref() != Some(mark) {
            return None;
        }
        self.reads
            .get(query)?
            .get(key)?
            .downcast_ref::<T>()
            .cloned()
    }

    fn put<T: Send + Sync + 'static>(
        &mut self,
        mark: CommitMark,
        query: &'static str,
        key: &[u8],
        value: T,
    ) {
        if self.at != Some(mark) || self.count >= MAX_KEPT {
            self.reads.clear();
            self.count = 0;
            self.at = Some(mark);
        }
        let previous = self
            .reads
            .entry(query)
            .or_default()
            .insert(key.into(), Box::new(value));
        if previous.is_none() {
            self.count += 1;
        }
    }
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
        // A connection opens the WAL and its index at its first read and from then on holds
        // the file's shared lock, which keeps the last other connection to close (the pool's
        // come and go) from checkpointing both files away and the next from making a new
        // index. Read once now, before opening the index: a reader that had not read yet kept
        // an index deleted under it, whose header never changed again (a session ended later
        // was answered as alive from memory). If a read fails, nothing is kept.
        let opened = connections.iter().all(|connection| {
            let connection = connection.lock().unwrap_or_else(|e| e.into_inner());
            connection
                .query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
                .inspect_err(|error| {
                    tracing::warn!(%error, "an inline reader could not read the file");
                })
                .is_ok()
        });
        let mut shm = path.as_os_str().to_owned();
        shm.push("-shm");
        let wal_index = opened
            .then(|| {
                std::fs::File::open(&shm)
                    .inspect_err(|error| {
                        tracing::warn!(%error, "no WAL index to read: every inline read reads the file");
                    })
                    .ok()
            })
            .flatten();
        Ok(InlineReader {
            connections,
            next: AtomicUsize::new(0),
            wal_index,
            link_checked_at: AtomicU64::new(0),
            unlinked: AtomicBool::new(false),
            opened: Instant::now(),
            kept: Mutex::new(Kept::default()),
        })
    }

    /// The file's last commit as the WAL index says it now; `None` while a writer rewrites the
    /// header, or when it cannot be read.
    fn commit_mark(&self) -> Option<CommitMark> {
        let file = self.wal_index.as_ref()?;
        if self.index_deleted(file) {
            return None;
        }
        let mut both = [0u8; 2 * HEADER_COPY];
        read_at(file, &mut both)?;
        let (first, second) = both.split_at(HEADER_COPY);
        let version = u32::from_ne_bytes(first[..4].try_into().ok()?);
        (first == second && version == WAL_INDEX_VERSION && first[IS_INIT_OFFSET] == 1)
            .then(|| first.try_into().ok())
            .flatten()
    }

    /// Whether the index was deleted under the reader (whatever deleted it: the shared lock
    /// every reader connection holds keeps SQLite from doing so). Such an index is no longer
    /// SQLite's: its header would never change again, so nothing may be answered from memory.
    /// Looked at once per [`LINK_CHECK_EVERY`] at most; once deleted, deleted for good. A read
    /// in the millisecond after a deletion may still be answered from memory, as if it had
    /// come just before it.
    fn index_deleted(&self, file: &std::fs::File) -> bool {
        if self.unlinked.load(Ordering::Relaxed) {
            return true;
        }
        let now = u64::try_from(self.opened.elapsed().as_micros()).unwrap_or(u64::MAX);
        let last = self.link_checked_at.load(Ordering::Relaxed);
        let due = now.saturating_sub(last) >= LINK_CHECK_EVERY.as_micros() as u64 || last == 0;
        if due
            && self
                .link_checked_at
                .compare_exchange(last, now.max(1), Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
            && !still_linked(file)
        {
            self.unlinked.store(true, Ordering::Relaxed);
            return true;
        }
        false
    }

    /// As [`InlineReader::read`], but the answer of the same read (`query`, a short name of
    /// it, and `key`) is given again from memory while nothing has been committed to the file
    /// since it was read. `read` must depend on nothing but the file and `key`.
    pub fn read_cached<T: Clone + Send + Sync + 'static>(
        &self,
        query: &'static str,
        key: &[u8],
        read: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Option<T> {
        let before = self.commit_mark();
        if let Some(mark) = &before {
            let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(value) = kept.get::<T>(mark, query, key) {
                return Some(value);
            }
        }
        let value = self.read(read)?;
        // Kept only if no commit came between: then `value` is what the file says at `mark`.
        if let Some(mark) = before.filter(|mark| self.commit_mark().as_ref() == Some(mark)) {
            self.kept.lock().unwrap_or_else(|e| e.into_inner()).put(
                mark,
                query,
                key,
                value.clone(),
            );
        }
        Some(value)
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

#[cfg(unix)]
fn still_linked(file: &std::fs::File) -> bool {
    use std::os::unix::fs::MetadataExt;
    file.metadata().is_ok_and(|metadata| metadata.nlink() > 0)
}

#[cfg(not(unix))]
fn still_linked(_file: &std::fs::File) -> bool {
    true
}

#[cfg(unix)]
fn read_at(file: &std::fs::File, buffer: &mut [u8]) -> Option<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buffer, 0).ok()
}

/// Elsewhere nothing is kept: every read reads the file.
#[cfg(not(unix))]
fn read_at(_file: &std::fs::File, _buffer: &mut [u8]) -> Option<()> {
    None
}

#[cfg(all(test, unix))]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::cell::Cell;

    use super::*;

    /// A WAL file with one row, a writer on it (another connection, as another process's or
    /// the pool's would be), and the inline reader.
    fn setup() -> (tempfile::TempDir, Connection, InlineReader) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kept.sqlite");
        let writer = Connection::open(&path).unwrap();
        writer.pragma_update(None, "journal_mode", "WAL").unwrap();
        writer
            .execute_batch(
                "CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT); INSERT INTO t VALUES ('a', 'one');",
            )
            .unwrap();
        let reader = InlineReader::open(&path, 2).unwrap();
        (dir, writer, reader)
    }

    /// Reads `t.v` of key `a`, counting the reads that reached the file.
    fn value(reader: &InlineReader, reads: &Cell<u32>) -> Option<String> {
        reader
            .read_cached("t", b"a", |connection| {
                reads.set(reads.get() + 1);
                use rusqlite::OptionalExtension as _;
                connection
                    .query_row("SELECT v FROM t WHERE k = 'a'", [], |row| row.get(0))
                    .optional()
            })
            .unwrap()
    }

    #[test]
    fn a_read_is_given_again_until_anything_is_committed_by_anyone() {
        let (_dir, writer, reader) = setup();
        let reads = Cell::new(0);
        assert_eq!(value(&reader, &reads).as_deref(), Some("one"));
        assert_eq!(value(&reader, &reads).as_deref(), Some("one"));
        assert_eq!(reads.get(), 1, "the second read came from memory");

        writer
            .execute("UPDATE t SET v = 'two' WHERE k = 'a'", [])
            .unwrap();
        assert_eq!(
            value(&reader, &reads).as_deref(),
            Some("two"),
            "a change is seen at once"
        );
        assert_eq!(reads.get(), 2);

        // A commit to another row changes nothing this read says, but is a commit: read again.
        writer
            .execute("INSERT INTO t VALUES ('b', 'x')", [])
            .unwrap();
        assert_eq!(value(&reader, &reads).as_deref(), Some("two"));
        assert_eq!(reads.get(), 3);

        writer.execute("DELETE FROM t WHERE k = 'a'", []).unwrap();
        assert_eq!(
            value(&reader, &reads),
            None,
            "a deleted row is gone at once"
        );
        assert_eq!(value(&reader, &reads), None, "and its absence is kept too");
        assert_eq!(reads.get(), 4);

        // A checkpoint that restarts the WAL rewrites the header as well.
        writer
            .execute("INSERT INTO t VALUES ('a', 'three')", [])
            .unwrap();
        writer
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
        assert_eq!(value(&reader, &reads).as_deref(), Some("three"));
        writer
            .execute("UPDATE t SET v = 'four' WHERE k = 'a'", [])
            .unwrap();
        assert_eq!(value(&reader, &reads).as_deref(), Some("four"));
    }

    /// The pool's connections come and go (idle timeout, lifetime): when the last one closes,
    /// SQLite checkpoints and deletes the `-wal` and `-shm` files unless another connection
    /// still has them open, and the next one makes a new `-shm`. A reader whose connections
    /// had not read yet kept the deleted one, whose header never changes again: a session
    /// ended after that was still answered as alive from memory.
    #[test]
    fn the_wal_index_read_is_the_one_sqlite_uses_after_every_other_connection_closed() {
        let (dir, writer, reader) = setup();
        let path = dir.path().join("kept.sqlite");
        drop(writer);
        let writer = Connection::open(&path).unwrap();
        let reads = Cell::new(0);
        assert_eq!(value(&reader, &reads).as_deref(), Some("one"));
        writer
            .execute("UPDATE t SET v = 'two' WHERE k = 'a'", [])
            .unwrap();
        assert_eq!(
            value(&reader, &reads).as_deref(),
            Some("two"),
            "a change after the other connections closed is seen at once"
        );
        writer.execute("DELETE FROM t WHERE k = 'a'", []).unwrap();
        assert_eq!(value(&reader, &reads), None, "and a deletion too");
    }

    /// Whatever deletes the index under the reader (an operator restoring the file, say),
    /// the deleted one's header never changes again: no mark, so nothing from memory.
    #[test]
    fn a_wal_index_deleted_under_the_reader_gives_no_commit_mark() {
        let (dir, _writer, reader) = setup();
        assert!(reader.commit_mark().is_some());
        std::fs::remove_file(dir.path().join("kept.sqlite-shm")).unwrap();
        // Noticed within LINK_CHECK_EVERY, and from then on for good.
        std::thread::sleep(LINK_CHECK_EVERY * 2);
        assert_eq!(reader.commit_mark(), None);
        assert_eq!(reader.commit_mark(), None);
    }

    #[test]
    fn without_a_wal_index_every_read_reads_the_file() {
        let (_dir, writer, mut reader) = setup();
        reader.wal_index = None;
        let reads = Cell::new(0);
        assert_eq!(value(&reader, &reads).as_deref(), Some("one"));
        assert_eq!(value(&reader, &reads).as_deref(), Some("one"));
        assert_eq!(reads.get(), 2);
        writer
            .execute("UPDATE t SET v = 'two' WHERE k = 'a'", [])
            .unwrap();
        assert_eq!(value(&reader, &reads).as_deref(), Some("two"));
    }
}
