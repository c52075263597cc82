//! Short indexed point reads on the async worker that handles the request, each worker with a
//! read-only connection of its own — instead of a hop to the blocking pool and back, which cost
//! about a quarter of the macro's CPU (two thread wake-ups and 2.3 context switches a request;
//! docs/performance.md).
//!
//! Why this cannot stall the worker:
//!
//! - **No lock waits.** The database is in WAL mode: a reader works on a snapshot and never
//!   waits for a writer, a checkpoint never blocks a reader, and a reader never blocks anyone.
//!   The connection's busy handler is off (`busy_timeout` 0), so the rare cases where a reader
//!   *would* wait — another connection running WAL recovery after a crash, the last connection
//!   closing and cleaning up, a database not in WAL mode and locked by a writer — come back at
//!   once as `SQLITE_BUSY`, and the read is run on the blocking pool instead ([`Db::read`], with
//!   the usual 5 s busy timeout). So does any other error, after which the worker's connection
//!   is dropped and opened again later.
//! - **No writes, no checkpoints.** The connection is opened read-only: it never writes, so it
//!   never runs an automatic checkpoint, and it cannot run the final checkpoint when it closes.
//! - **Bounded work.** Callers pass one statement that finds at most one row through an index
//!   (a primary-key or unique lookup, also filtered by site): a few B-tree pages, from the
//!   connection's own page cache or the OS page cache. Lists, searches, anything that scans, and
//!   every write stay on the blocking pool.
//! - **Opening happens off the worker.** A worker's first read opens its connection on the
//!   blocking pool (file open, schema read) and takes it back.
//!
//! The one wait left inside SQLite: starting a read transaction retries when it races a writer
//! updating the WAL index, yielding for a microsecond from the sixth try on; only a process that
//! holds the WAL index locks for long (none does here: the locks are held for a few
//! instructions, and the server is the only process on the file, see `ops::lock`) could make
//! those retries sleep longer.
//!
//! [`Db::read`]: super::Db::read

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// Prepared statements kept per worker connection (the hot reads are few).
const STATEMENT_CACHE: usize = 16;

/// Which database file the workers read, and the key of their connections to it.
pub(crate) struct WorkerReads {
    id: u64,
    path: PathBuf,
}

/// One worker thread's read connection to one database, and whether that database still exists.
struct Reader {
    id: u64,
    alive: Weak<WorkerReads>,
    conn: Connection,
}

thread_local! {
    /// This thread's read connections (one per open database: tests run several in one process).
    static READERS: RefCell<Vec<Reader>> = const { RefCell::new(Vec::new()) };
}

impl WorkerReads {
    /// Worker reads of the file at `path`.
    pub(crate) fn new(path: &Path) -> Arc<Self> {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        Arc::new(Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            path: path.to_path_buf(),
        })
    }

    /// Runs `read` on this thread's connection: `None` when the thread has none yet or the read
    /// failed (busy, or anything else; the connection is then dropped), so the caller runs it on
    /// the blocking pool instead.
    pub(crate) fn try_read<T, E>(
        &self,
        read: impl FnOnce(&Connection) -> std::result::Result<T, E>,
    ) -> Option<T> {
        READERS.with_borrow_mut(|readers| {
            let at = readers.iter().position(|r| r.id == self.id)?;
            match read(&readers[at].conn) {
                Ok(value) => Some(value),
                Err(_) => {
                    readers.swap_remove(at);
                    None
                }
            }
        })
    }

    /// Opens a read-only connection (call it on the blocking pool).
    pub(crate) fn open(&self) -> rusqlite::Result<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags)?;
        // rusqlite installs a 5 s busy handler on open; a worker must never sleep in it.
        conn.busy_timeout(Duration::ZERO)?;
        conn.pragma_update(None, "cache_size", -super::sqlite::CACHE_KIB)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(conn)
    }

    /// Keeps `conn` (opened by [`WorkerReads::open`]) as this thread's connection.
    pub(crate) fn adopt(self: &Arc<Self>, conn: Connection) {
        READERS.with_borrow_mut(|readers| {
            readers.retain(|r| r.alive.strong_count() > 0 && r.id != self.id);
            readers.push(Reader {
                id: self.id,
                alive: Arc::downgrade(self),
                conn,
            });
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Db, configure_connection, migrate, open_pool};
    use super::*;

    fn file_db(dir: &Path) -> Db {
        let pool = open_pool(&dir.join("t.sqlite3"), 4).unwrap();
        migrate(&mut pool.get().unwrap()).unwrap();
        pool.get()
            .unwrap()
            .execute_batch("CREATE TABLE n (v INTEGER); INSERT INTO n VALUES (1);")
            .unwrap();
        Db::new(pool)
    }

    fn count(conn: &Connection) -> rusqlite::Result<i64> {
        conn.query_row("SELECT count(*) FROM n", [], |r| r.get(0))
    }

    /// The same count as a store body, through [`Db::read_point`].
    async fn point_count(db: &Db) -> i64 {
        db.read_point(async |tx: &crate::db::Tx<'_>| tx.value("SELECT count(*) FROM n", &[]).await)
            .await
            .unwrap()
    }

    #[actix_web::test]
    async fn the_first_read_opens_the_workers_connection_and_later_reads_use_it() {
        let dir = tempfile::tempdir().unwrap();
        let db = file_db(dir.path());
        let reads = db.worker_reads.clone().unwrap();
        assert_eq!(reads.try_read(count), None, "no connection yet");
        assert_eq!(point_count(&db).await, 1);
        assert_eq!(reads.try_read(count), Some(1), "kept by this thread");
    }

    #[actix_web::test]
    async fn a_worker_read_does_not_wait_for_a_writer_and_sees_only_committed_rows() {
        let dir = tempfile::tempdir().unwrap();
        let db = file_db(dir.path());
        point_count(&db).await;
        let mut writer = Connection::open(dir.path().join("t.sqlite3")).unwrap();
        configure_connection(&mut writer).unwrap();
        writer
            .execute_batch("BEGIN IMMEDIATE; INSERT INTO n VALUES (2);")
            .unwrap();
        let reads = db.worker_reads.clone().unwrap();
        assert_eq!(
            reads.try_read(count),
            Some(1),
            "read on the worker, mid-write"
        );
        writer.execute_batch("COMMIT").unwrap();
        assert_eq!(reads.try_read(count), Some(2));
    }

    #[test]
    fn the_worker_connection_is_read_only_and_never_waits_for_a_lock() {
        let dir = tempfile::tempdir().unwrap();
        let db = file_db(dir.path());
        let conn = db.worker_reads.as_ref().unwrap().open().unwrap();
        let busy: i64 = conn
            .query_row("PRAGMA busy_timeout", [], |r| r.get(0))
            .unwrap();
        assert_eq!(busy, 0);
        let err = conn.execute("INSERT INTO n VALUES (3)", []).unwrap_err();
        assert_eq!(
            err.sqlite_error_code(),
            Some(rusqlite::ErrorCode::ReadOnly),
            "{err}"
        );
    }

    #[test]
    fn an_in_memory_database_has_no_worker_reads() {
        let manager = r2d2_sqlite::SqliteConnectionManager::memory();
        let pool = r2d2::Pool::builder().max_size(1).build(manager).unwrap();
        assert!(Db::new(pool).worker_reads.is_none());
    }

    #[actix_web::test]
    async fn a_failed_worker_read_drops_the_connection_and_the_pool_answers() {
        let dir = tempfile::tempdir().unwrap();
        let db = file_db(dir.path());
        point_count(&db).await;
        let reads = db.worker_reads.clone().unwrap();
        let bad = |conn: &Connection| conn.query_row("SELECT nope FROM n", [], |r| r.get(0));
        assert_eq!(reads.try_read(bad), None::<i64>);
        assert_eq!(reads.try_read(count), None, "dropped after the failure");
        assert_eq!(point_count(&db).await, 1, "reopened through the pool");
        assert_eq!(reads.try_read(count), Some(1));
    }
}
