//! The one SQLite file: connection pool, per-connection pragmas, embedded migrations, and
//! [`Db`], the one way request handlers run database work (off the async workers).
//!
//! Durability choice: WAL journal with `synchronous=FULL`. In WAL mode a commit is appended to
//! the WAL before the client is answered, so an acknowledged write survives `kill -9` of the
//! process even at `NORMAL`; `FULL` also fsyncs the WAL on every commit, so it survives a power
//! loss or kernel crash as well. Writes are rare next to reads here (reads do not fsync), so we
//! pay that cost.

mod worker_read;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, TransactionBehavior};

/// The shared pool of connections to the database file.
pub type Pool = r2d2::Pool<SqliteConnectionManager>;

/// How long a connection waits for another writer before giving up with `SQLITE_BUSY`.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Versioned schema changes, in order; version N is the N-th entry. Never edit one that shipped.
const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_initial",
        include_str!("../db/migrations/0001_initial.sql"),
    ),
    (
        "0002_site_id",
        include_str!("../db/migrations/0002_site_id.sql"),
    ),
];

/// Why the database could not be opened or migrated.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot create the database folder {path}: {source}")]
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
}

/// Applies the pragmas every connection needs.
pub fn configure_connection(conn: &mut Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;",
    )?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// Opens (creating if needed) the database file and its parent folder, as a pool.
pub fn open_pool(path: &Path, max_size: u32) -> Result<Pool, DbError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| DbError::CreateDir {
            path: parent.display().to_string(),
            source,
        })?;
    }
    let manager = SqliteConnectionManager::file(path).with_init(configure_connection);
    let pool = r2d2::Pool::builder()
        .max_size(max_size)
        .connection_timeout(Duration::from_secs(5))
        // SQLite connections do not go stale; r2d2's default check runs a query per checkout.
        .test_on_check_out(false)
        .build(manager)?;
    Ok(pool)
}

/// The schema version this binary brings.
pub fn latest_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// The schema version recorded in the file.
pub fn schema_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |row| row.get(0))
}

/// Applies every pending migration, each in its own immediate transaction together with the
/// version bump, so an interrupted run leaves the previous schema intact. Returns the names
/// applied; running it again applies nothing.
pub fn migrate(conn: &mut Connection) -> Result<Vec<&'static str>, DbError> {
    apply(conn, MIGRATIONS)
}

fn apply(
    conn: &mut Connection,
    migrations: &[(&'static str, &str)],
) -> Result<Vec<&'static str>, DbError> {
    let known = migrations.len() as i64;
    let mut applied = Vec::new();
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let found = schema_version(&tx)?;
        if found > known {
            return Err(DbError::TooNew { found, known });
        }
        if found == known {
            return Ok(applied);
        }
        let (name, sql) = migrations[found as usize];
        tx.execute_batch(sql)
            .and_then(|()| tx.pragma_update(None, "user_version", found + 1))
            .map_err(|source| DbError::Migration { name, source })?;
        tx.commit()?;
        applied.push(name);
    }
}

/// The database as request handlers use it: work runs on the blocking thread pool with a
/// connection taken inside it, so a slow disk or a busy writer never stalls an async worker —
/// except short indexed point reads ([`Db::read_point`]), which cannot wait on anything.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    /// Read-only connections of the async workers; `None` for an in-memory database.
    worker_reads: Option<Arc<worker_read::WorkerReads>>,
}

impl Db {
    /// Wraps an opened, migrated pool (takes one connection to learn the file's path).
    pub fn new(pool: Pool) -> Self {
        let path = pool
            .get()
            .ok()
            .and_then(|conn| conn.path().map(str::to_owned));
        let worker_reads = path
            .filter(|path| !path.is_empty())
            .map(|path| worker_read::WorkerReads::new(Path::new(&path)));
        Self { pool, worker_reads }
    }

    /// Runs `read` — **one statement finding at most one row through an index** — on the
    /// calling async worker's own read-only connection, without the hop to the blocking pool;
    /// on the pool when the worker has no connection yet (it is opened there and kept) or
    /// when the read fails there (busy or otherwise). Why that cannot stall the worker:
    /// `src/db/worker_read.rs`. Anything longer, and every write, goes through [`Db::run`].
    pub async fn read_point<T, F>(&self, read: F) -> crate::error::Result<T>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> rusqlite::Result<T> + Clone + Send + 'static,
    {
        let Some(reads) = &self.worker_reads else {
            return self.run(move |conn| Ok(read(conn)?)).await;
        };
        if let Some(value) = reads.try_read(read.clone()) {
            return Ok(value);
        }
        let opener = reads.clone();
        let (reader, value) = self
            .run(move |conn| {
                let value = read(conn)?;
                Ok((opener.open().ok(), value))
            })
            .await?;
        if let Some(reader) = reader {
            reads.adopt(reader);
        }
        Ok(value)
    }

    /// Runs `work` with a pooled connection on the blocking pool. A busy database or an
    /// exhausted pool is a 503 (`AppError::Unavailable`), any other failure a 500.
    pub async fn run<T, F>(&self, work: F) -> crate::error::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> crate::error::Result<T> + Send + 'static,
    {
        let pool = self.pool.clone();
        actix_web::web::block(move || {
            let mut conn = pool.get()?;
            work(&mut conn)
        })
        .await?
    }

    /// Whether the database can be read and written within `patience`: the write probe takes
    /// and releases the write lock without changing anything, so a database locked by another
    /// process (a stuck maintenance job) is reported, not waited for.
    pub async fn ready(&self, patience: Duration) -> crate::error::Result<()> {
        let pool = self.pool.clone();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn memory() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        configure_connection(&mut conn).unwrap();
        conn
    }

    #[test]
    fn migrating_twice_applies_nothing_the_second_time() {
        let mut conn = memory();
        assert_eq!(
            migrate(&mut conn).unwrap(),
            vec!["0001_initial", "0002_site_id"]
        );
        assert!(migrate(&mut conn).unwrap().is_empty());
        assert_eq!(schema_version(&conn).unwrap(), latest_version());
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let mut conn = memory();
        conn.pragma_update(None, "user_version", latest_version() + 1)
            .unwrap();
        let err = migrate(&mut conn).unwrap_err();
        assert!(matches!(err, DbError::TooNew { .. }), "{err}");
    }

    #[test]
    fn a_failing_migration_leaves_the_previous_schema_intact() {
        let mut conn = memory();
        let broken: &[(&'static str, &str)] = &[
            MIGRATIONS[0],
            (
                "0002_broken",
                "CREATE TABLE half_done (x); ALTER TABLE nowhere ADD y;",
            ),
        ];
        let err = apply(&mut conn, broken).unwrap_err();
        assert!(
            matches!(
                err,
                DbError::Migration {
                    name: "0002_broken",
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(schema_version(&conn).unwrap(), 1, "version not bumped");
        let half: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE name = 'half_done'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(
            half, 0,
            "the failed migration's first statement was rolled back"
        );
        assert_eq!(
            apply(&mut conn, MIGRATIONS).unwrap(),
            vec!["0002_site_id"],
            "the good schema still migrates from where it stood"
        );
    }
}
