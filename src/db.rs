//! The one SQLite file: connection pool, per-connection pragmas, embedded migrations, and
//! [`Db`], the one way request handlers run database work (off the async workers).
//!
//! Durability choice: WAL journal with `synchronous=FULL`. In WAL mode a commit is appended to
//! the WAL before the client is answered, so an acknowledged write survives `kill -9` of the
//! process even at `NORMAL`; `FULL` also fsyncs the WAL on every commit, so it survives a power
//! loss or kernel crash as well. Writes are rare next to reads here (reads do not fsync), so we
//! pay that cost.

use std::path::Path;
use std::time::Duration;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, Params, Row, Statement, TransactionBehavior};

/// The shared pool of connections to the database file.
pub type Pool = r2d2::Pool<SqliteConnectionManager>;

/// How long a connection waits for another writer before giving up with `SQLITE_BUSY`.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// WAL pages after which a commit checkpoints (SQLite's default, stated so it is a decision).
pub const WAL_AUTOCHECKPOINT_PAGES: u32 = 1000;
/// What the WAL file is truncated back to once a checkpoint has reset it: a burst of writes
/// (or a long reader that held checkpoints back) must not leave a large file behind for good.
pub const JOURNAL_SIZE_LIMIT_BYTES: i64 = 8 * 1024 * 1024;

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
}

/// Applies the pragmas every connection needs.
pub fn configure_connection(conn: &mut Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;",
    )?;
    conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES)?;
    conn.pragma_update(None, "journal_size_limit", JOURNAL_SIZE_LIMIT_BYTES)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// Runs a statement that yields at most one row (`INSERT/UPDATE … RETURNING`, a lookup by
/// key) and steps it to completion; the store's way to read one row.
///
/// Why not `query_row`: it resets the statement after the first row. SQLite then still commits
/// an autocommit write, but it runs the WAL hook — the automatic checkpoint — only when
/// `sqlite3_step` itself returns `SQLITE_DONE`. Every write answered from `RETURNING` through
/// `query_row` therefore committed without ever checkpointing, and the WAL grew without bound.
pub fn one_row<T, P: Params>(
    stmt: &mut Statement<'_>,
    params: P,
    read: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<Option<T>> {
    let mut rows = stmt.query(params)?;
    let first = match rows.next()? {
        Some(row) => Some(read(row)?),
        None => None,
    };
    while rows.next()?.is_some() {}
    Ok(first)
}

/// Opens (creating if needed) the database file and its parent folder, as a pool.
pub fn open_pool(path: &Path, max_size: u32) -> Result<Pool, DbError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| DbError::CreateDir {
            path: parent.display().to_string(),
            source,
        })?;
    }
    // Private from the first byte: the file holds every site's shared secret.
    crate::util::fs::create_private(path).map_err(|source| DbError::CreateDir {
        path: path.display().to_string(),
        source,
    })?;
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

/// Applies the migrations up to `version` only: a fresh file with exactly the schema an older
/// backup should have (what `restore` copies its rows into).
pub fn migrate_to(conn: &mut Connection, version: i64) -> Result<Vec<&'static str>, DbError> {
    let upto = usize::try_from(version)
        .ok()
        .filter(|v| *v <= MIGRATIONS.len())
        .ok_or(DbError::TooNew {
            found: version,
            known: latest_version(),
        })?;
    apply(conn, &MIGRATIONS[..upto])
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

/// The database as request handlers use it: every piece of work runs on the blocking thread
/// pool with a connection taken inside it, so a slow disk or a busy writer never stalls an
/// async worker.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
}

impl Db {
    /// Wraps an opened, migrated pool.
    pub fn new(pool: Pool) -> Self {
        Self { pool }
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
