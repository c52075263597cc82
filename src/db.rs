//! The database layer: [`Db`], the one way request handlers run database work (off the async
//! workers), over the SQLite file (`sqlite.rs`: pool and pragmas; `migrate.rs`: the embedded
//! migrations) or PostgreSQL.
//!
//! With `DATABASE_URL=postgres://…` the same [`Db`] runs on PostgreSQL instead ([`postgres`]).
//! A store operation is one `async` body over a [`Tx`], run by [`Db::read`], [`Db::write`] or
//! [`Db::read_point`] on whichever backend this is (`tx.rs`): its SQL and its rules are
//! written once. A driver's error becomes the app's (503 or 500, counted by kind) in
//! `failure.rs`.
//!
//! Durability choice: WAL journal with `synchronous=FULL`. In WAL mode a commit is appended to
//! the WAL before the client is answered, so an acknowledged write survives `kill -9` of the
//! process even at `NORMAL`; `FULL` also fsyncs the WAL on every commit, so it survives a power
//! loss or kernel crash as well. Writes are rare next to reads here (reads do not fsync), so we
//! pay that cost.

mod failure;
mod migrate;
mod ours;
pub mod postgres;
mod sqlite;
mod stats;
mod tx;
mod values;
mod worker_read;

pub use migrate::{latest_version, migrate};
pub(crate) use migrate::{migrate_to, schema_version};
pub(crate) use ours::refuse_foreign;
use sqlite::BUSY_TIMEOUT;
pub use sqlite::{Pool, configure_connection, open_pool};
pub use tx::Tx;
pub(crate) use tx::{Dialect, Param, Row};
pub(crate) use values::Stamp;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::Connection;

/// Why the database could not be opened or migrated.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot create the database (or its folder) {path}: {source}")]
    CreateDir {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot open the database: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error(
        "the database schema is version {found}, newer than this binary knows ({known}); \
         run a newer todo-connect or restore a backup"
    )]
    TooNew { found: i64, known: i64 },
    #[error("migration {name} failed: {source}")]
    Migration {
        name: &'static str,
        source: rusqlite::Error,
    },
    #[error("migration {name} would leave {rows} rows pointing at nothing; nothing was changed")]
    ForeignKeys { name: &'static str, rows: usize },
    #[error("PostgreSQL {url}: {message}")]
    Postgres { url: String, message: String },
    #[error(
        "{path} holds tables todo-connect never creates ({tables}): another application's \
         database? Refusing to touch it"
    )]
    Foreign { path: String, tables: String },
    /// A database path that is or passes through a link (`util::fs::refuse_links`).
    #[error("{path} {why}")]
    Link { path: String, why: String },
}

/// Runs `work` with a pooled SQLite connection on the blocking pool (so a slow disk or a busy
/// writer never stalls an async worker). A busy database or an exhausted pool is a 503
/// (`AppError::Unavailable`), any other failure a 500. Only the SQLite arm of a store operation
/// calls it (`tx.rs`), so no SQLite work can reach a PostgreSQL `Db`.
async fn run_sqlite<T, F>(pool: &Pool, work: F) -> crate::error::Result<T>
where
    T: Send + 'static,
    F: FnOnce(&mut Connection) -> crate::error::Result<T> + Send + 'static,
{
    let pool = pool.clone();
    actix_web::web::block(move || {
        let mut conn = pool.get()?;
        work(&mut conn)
    })
    .await?
}

/// The database as request handlers use it: the SQLite pool, whose work runs on the blocking
/// thread pool with a connection taken inside it (so a slow disk or a busy writer never stalls
/// an async worker) — except short indexed point reads ([`Db::read_point`]), which cannot wait
/// on anything — or a PostgreSQL pool ([`Db::postgres`]).
#[derive(Clone)]
pub struct Db {
    backend: Pools,
    /// Read-only SQLite connections of the async workers; `None` for an in-memory database
    /// and for PostgreSQL.
    worker_reads: Option<Arc<worker_read::WorkerReads>>,
    /// The SQLite file's write-ahead log (`<file>-wal`), whose size the metrics show; `None`
    /// for an in-memory database and for PostgreSQL.
    wal: Option<PathBuf>,
}

#[derive(Clone)]
enum Pools {
    Sqlite(Pool),
    Postgres(Arc<postgres::PgPool>),
}

impl Db {
    /// Wraps an opened, migrated SQLite pool (takes one connection to learn the file's path).
    pub fn new(pool: Pool) -> Self {
        let path = pool
            .get()
            .ok()
            .and_then(|conn| conn.path().map(str::to_owned));
        let path = path.filter(|path| !path.is_empty());
        let worker_reads = path
            .as_deref()
            .map(|path| worker_read::WorkerReads::new(Path::new(path)));
        Self {
            backend: Pools::Sqlite(pool),
            worker_reads,
            wal: path.map(|path| PathBuf::from(format!("{path}-wal"))),
        }
    }

    /// Runs `read` — **one statement finding at most one row through an index** — on the
    /// calling async worker's own read-only connection, without the hop to the blocking pool;
    /// on the pool when the worker has no connection yet (it is opened there and kept) or
    /// when the read fails there (busy or otherwise). Why that cannot stall the worker:
    /// `src/db/worker_read.rs`. Anything longer, and every write, goes through [`run_sqlite`].
    async fn read_point_sqlite<T, F>(&self, pool: &Pool, read: F) -> crate::error::Result<T>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> crate::error::Result<T> + Clone + Send + 'static,
    {
        let Some(reads) = &self.worker_reads else {
            return run_sqlite(pool, move |conn| read(conn)).await;
        };
        if let Some(value) = reads.try_read(read.clone()) {
            return Ok(value);
        }
        let opener = reads.clone();
        let (reader, value) = run_sqlite(pool, move |conn| {
            let value = read(conn)?;
            Ok((opener.open().ok(), value))
        })
        .await?;
        if let Some(reader) = reader {
            reads.adopt(reader);
        }
        Ok(value)
    }

    /// Wraps an opened, migrated PostgreSQL pool.
    pub fn postgres(pool: postgres::PgPool) -> Self {
        Self {
            backend: Pools::Postgres(Arc::new(pool)),
            worker_reads: None,
            wal: None,
        }
    }

    /// How many connections the pool keeps at most (what a per-site budget takes a share of).
    pub(crate) fn pool_size(&self) -> usize {
        match &self.backend {
            Pools::Sqlite(pool) => pool.max_size() as usize,
            Pools::Postgres(pool) => pool.max_size(),
        }
    }

    /// Whether the database can be read and written within `patience`. On SQLite the write
    /// probe takes and releases the write lock without changing anything, so a database locked
    /// by another process (a stuck maintenance job) is reported, not waited for; on PostgreSQL
    /// the server must answer and accept writes (not a read-only standby).
    pub(crate) async fn ready(&self, patience: Duration) -> crate::error::Result<()> {
        let pool = match &self.backend {
            Pools::Sqlite(pool) => pool.clone(),
            Pools::Postgres(pool) => return pool.ready(patience).await,
        };
        actix_web::web::block(move || -> crate::error::Result<()> {
            let conn = pool.get_timeout(patience)?;
            conn.busy_timeout(patience)?;
            let probe = conn
                .query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))
                .and_then(|()| conn.execute_batch("BEGIN IMMEDIATE; ROLLBACK;"));
            if probe.is_err() && !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            conn.busy_timeout(BUSY_TIMEOUT)?;
            Ok(probe?)
        })
        .await?
    }
}

/// Checks that each statement, written once for both backends with PostgreSQL's `$1..$n`,
/// means the same on SQLite: SQLite numbers a `$name` parameter by its first appearance, so
/// `$k` must first appear k-th, and none may be skipped. Stores call it in a unit test for
/// their shared statements.
#[cfg(test)]
pub(crate) fn assert_shared_sql(statements: &[&str]) {
    let mut conn = sqlite::memory();
    migrate(&mut conn).unwrap();
    for sql in statements {
        let stmt = conn.prepare(sql).unwrap_or_else(|e| panic!("{e}: {sql}"));
        for index in 1..=stmt.parameter_count() {
            assert_eq!(
                stmt.parameter_name(index),
                Some(format!("${index}").as_str()),
                "parameter {index} of {sql}"
            );
        }
    }
}
