//! The one SQLite file: connection pool, per-connection pragmas, embedded migrations, and
//! [`Db`], the one way request handlers run database work (off the async workers).
//!
//! With `DATABASE_URL=postgres://…` the same [`Db`] runs on PostgreSQL instead ([`postgres`]).
//! A store operation is one `async` body over a [`Tx`], run by [`Db::read`], [`Db::write`] or
//! [`Db::read_point`] on whichever backend this is (`tx.rs`): its SQL and its rules are
//! written once.
//!
//! Durability choice: WAL journal with `synchronous=FULL`. In WAL mode a commit is appended to
//! the WAL before the client is answered, so an acknowledged write survives `kill -9` of the
//! process even at `NORMAL`; `FULL` also fsyncs the WAL on every commit, so it survives a power
//! loss or kernel crash as well. Writes are rare next to reads here (reads do not fsync), so we
//! pay that cost.

mod ours;
pub mod postgres;
mod tx;
mod values;
mod worker_read;

pub use ours::refuse_foreign;
pub use tx::{Column, Dialect, Param, Row, Tx};
pub use values::Stamp;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, Params, Statement, TransactionBehavior};

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
    (
        "0003_forge",
        include_str!("../db/migrations/0003_forge.sql"),
    ),
    (
        "0004_ways_in",
        include_str!("../db/migrations/0004_ways_in.sql"),
    ),
    (
        "0005_jira_issues",
        include_str!("../db/migrations/0005_jira_issues.sql"),
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
    read: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
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
    crate::util::fs::refuse_other_names(path).map_err(|why| DbError::Link {
        path: path.display().to_string(),
        why,
    })?;
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
    refuse_foreign(path)?;
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
///
/// Foreign keys are off while migrations run (SQLite ignores the pragma inside a transaction,
/// so it is set around them): a migration that rebuilds a table drops the old one, and with
/// foreign keys on that `DROP TABLE` would cascade-delete every row pointing at it. Each
/// migration instead ends with `PRAGMA foreign_key_check`, and one that would leave a dangling
/// reference is rolled back.
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
    let enforced: bool = conn.query_row("PRAGMA foreign_keys", [], |row| row.get(0))?;
    conn.pragma_update(None, "foreign_keys", false)?;
    let applied = apply_each(conn, migrations);
    let restored = conn.pragma_update(None, "foreign_keys", enforced);
    let applied = applied?;
    restored?;
    Ok(applied)
}

fn apply_each(
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
        let dangling =
            dangling_references(&tx).map_err(|source| DbError::Migration { name, source })?;
        if dangling > 0 {
            return Err(DbError::ForeignKeys {
                name,
                rows: dangling,
            });
        }
        tx.commit()?;
        applied.push(name);
    }
}

/// How many rows point at a row that does not exist (`PRAGMA foreign_key_check`).
fn dangling_references(conn: &Connection) -> rusqlite::Result<usize> {
    let mut stmt = conn.prepare("PRAGMA foreign_key_check")?;
    let mut rows = stmt.query([])?;
    let mut count = 0;
    while rows.next()?.is_some() {
        count += 1;
    }
    Ok(count)
}

/// The database as request handlers use it: the SQLite pool, whose work runs on the blocking
/// thread pool with a connection taken inside it (so a slow disk or a busy writer never stalls
/// an async worker) — except short indexed point reads ([`Db::read_point`]), which cannot wait
/// on anything — or a PostgreSQL pool ([`Db::pg`]).
#[derive(Clone)]
pub struct Db {
    backend: Pools,
    /// Read-only SQLite connections of the async workers; `None` for an in-memory database
    /// and for PostgreSQL.
    worker_reads: Option<Arc<worker_read::WorkerReads>>,
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
        let worker_reads = path
            .filter(|path| !path.is_empty())
            .map(|path| worker_read::WorkerReads::new(Path::new(&path)));
        Self {
            backend: Pools::Sqlite(pool),
            worker_reads,
        }
    }

    /// Runs `read` — **one statement finding at most one row through an index** — on the
    /// calling async worker's own read-only connection, without the hop to the blocking pool;
    /// on the pool when the worker has no connection yet (it is opened there and kept) or
    /// when the read fails there (busy or otherwise). Why that cannot stall the worker:
    /// `src/db/worker_read.rs`. Anything longer, and every write, goes through [`Db::run`].
    /// SQLite only, like [`Db::run`].
    async fn read_point_sqlite<T, F>(&self, read: F) -> crate::error::Result<T>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> crate::error::Result<T> + Clone + Send + 'static,
    {
        let Some(reads) = &self.worker_reads else {
            return self.run(move |conn| read(conn)).await;
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

    /// Wraps an opened, migrated PostgreSQL pool.
    pub fn postgres(pool: postgres::PgPool) -> Self {
        Self {
            backend: Pools::Postgres(Arc::new(pool)),
            worker_reads: None,
        }
    }

    /// [`Db::read_point`] for a SQLite-only closure, until its caller moves into a store.
    pub async fn read_point_legacy<T, F>(&self, read: F) -> crate::error::Result<T>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> crate::error::Result<T> + Clone + Send + 'static,
    {
        self.read_point_sqlite(read).await
    }

    /// The PostgreSQL pool, when this is PostgreSQL: facades call the PostgreSQL twin of a
    /// store function through it, and the SQLite one through [`Db::run`] otherwise.
    pub fn pg(&self) -> Option<&postgres::PgPool> {
        match &self.backend {
            Pools::Postgres(pool) => Some(pool),
            Pools::Sqlite(_) => None,
        }
    }

    /// How many connections the pool keeps at most (what a per-site budget takes a share of).
    pub fn pool_size(&self) -> usize {
        match &self.backend {
            Pools::Sqlite(pool) => pool.max_size() as usize,
            Pools::Postgres(pool) => pool.max_size(),
        }
    }

    /// Runs `work` with a pooled SQLite connection on the blocking pool. A busy database or an
    /// exhausted pool is a 503 (`AppError::Unavailable`), any other failure a 500. On
    /// PostgreSQL it is a 500 naming the gap: every store function needs its twin there.
    pub async fn run<T, F>(&self, work: F) -> crate::error::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> crate::error::Result<T> + Send + 'static,
    {
        let pool = match &self.backend {
            Pools::Sqlite(pool) => pool.clone(),
            Pools::Postgres(_) => {
                return Err(crate::error::AppError::internal(format!(
                    "a SQLite-only store call ({}) ran on PostgreSQL",
                    std::any::type_name::<F>()
                )));
            }
        };
        actix_web::web::block(move || {
            let mut conn = pool.get()?;
            work(&mut conn)
        })
        .await?
    }

    /// Whether the database can be read and written within `patience`. On SQLite the write
    /// probe takes and releases the write lock without changing anything, so a database locked
    /// by another process (a stuck maintenance job) is reported, not waited for; on PostgreSQL
    /// the server must answer and accept writes (not a read-only standby).
    pub async fn ready(&self, patience: Duration) -> crate::error::Result<()> {
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
    let mut conn = Connection::open_in_memory().unwrap();
    configure_connection(&mut conn).unwrap();
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
            vec![
                "0001_initial",
                "0002_site_id",
                "0003_forge",
                "0004_ways_in",
                "0005_jira_issues"
            ]
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
            apply(&mut conn, &MIGRATIONS[..2]).unwrap(),
            vec!["0002_site_id"],
            "the good schema still migrates from where it stood"
        );
    }

    /// Every row of the three tables, in id order, as text.
    fn rows(conn: &Connection) -> Vec<String> {
        let mut out = Vec::new();
        for (table, columns) in [
            (
                "jwt_tokens",
                "id, addon_key, client_key, shared_secret, base_url, display_url, product_type, \
                 description, oauth_client_id, server_version, plugins_version, sen, \
                 installation_id, installed, enabled, installed_at, updated_at, uninstalled_at",
            ),
            ("jwt_users", "*"),
            (
                "tasks",
                "id, site_id, title, done, created_by, page_id, created_at, updated_at",
            ),
        ] {
            let sql = format!("SELECT {columns} FROM {table} ORDER BY id");
            let mut stmt = conn.prepare(&sql).unwrap();
            let n = stmt.column_count();
            let found = stmt
                .query_map([], |row| {
                    let values: Vec<String> = (0..n)
                        .map(|i| format!("{:?}", row.get_ref(i).unwrap()))
                        .collect();
                    Ok(format!("{table}: {}", values.join("|")))
                })
                .unwrap();
            out.extend(found.map(Result::unwrap));
        }
        out
    }

    #[test]
    fn the_forge_migration_keeps_every_site_user_and_task_of_schema_2() {
        let mut conn = memory();
        apply(&mut conn, &MIGRATIONS[..2]).unwrap();
        conn.execute_batch(
            "INSERT INTO jwt_tokens (addon_key, client_key, shared_secret, base_url, display_url,
                 product_type, installation_id, installed, enabled, installed_at, updated_at,
                 uninstalled_at)
             VALUES ('app', 'c1', 's1', 'https://a.atlassian.net/wiki', NULL, 'confluence',
                     'ari:cloud:ecosystem::installation/1', 1, 1, 't1', 't1', NULL),
                    ('app', 'c2', NULL, 'https://b.atlassian.net/wiki', 'https://b.example',
                     'confluence', NULL, 0, 0, 't2', 't3', 't3');
             INSERT INTO jwt_users (site_id, account_id, first_seen_at, last_seen_at)
             VALUES (1, 'u1', 't', 't'), (2, 'u2', 't', 't');
             INSERT INTO tasks (site_id, title, done, created_by, page_id, created_at, updated_at)
             VALUES (1, 'one', 0, 'u1', '42', 't', 't'), (2, 'two', 1, NULL, NULL, 't', 't'),
                    (1, 'three', 0, 'u1', NULL, 't', 't');
             DELETE FROM tasks WHERE title = 'three';",
        )
        .unwrap();
        let before = rows(&conn);
        assert_eq!(before.len(), 6, "{before:?}");

        assert_eq!(
            apply(&mut conn, &MIGRATIONS[..3]).unwrap(),
            vec!["0003_forge"]
        );
        assert_eq!(rows(&conn), before, "every row unchanged");
        let enforced: bool = conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap();
        assert!(enforced, "foreign keys are on again after migrating");
        // The references still point at the rebuilt table: deleting a site cascades.
        conn.execute("DELETE FROM jwt_tokens WHERE id = 2", [])
            .unwrap();
        let left: i64 = conn
            .query_row("SELECT count(*) FROM tasks WHERE site_id = 2", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(left, 0);
        // An id is still never reused after a delete (AUTOINCREMENT survived).
        conn.execute(
            "INSERT INTO tasks (site_id, title, created_at, updated_at) VALUES (1, 'four', 't', 't')",
            [],
        )
        .unwrap();
        let newest: i64 = conn
            .query_row("SELECT max(id) FROM tasks", [], |r| r.get(0))
            .unwrap();
        assert_eq!(newest, 4);
    }

    #[test]
    fn the_ways_in_migration_backfills_each_way_from_the_columns_of_schema_3() {
        let mut conn = memory();
        apply(&mut conn, &MIGRATIONS[..3]).unwrap();
        conn.execute_batch(
            "INSERT INTO jwt_tokens (addon_key, client_key, shared_secret, base_url, product_type,
                 installation_id, cloud_id, api_base_url, installed, enabled, installed_at,
                 updated_at, uninstalled_at)
             VALUES ('app', 'live', 's', 'https://a/wiki', 'confluence', NULL, NULL, NULL,
                     1, 1, 't1', 't1', NULL),
                    ('app', 'gone', NULL, 'https://b/wiki', 'confluence', NULL, NULL, NULL,
                     0, 0, 't1', 't2', 't2'),
                    ('app', 'moved', NULL, 'https://c/wiki', 'confluence', 'i-c', 'cloud-c',
                     'https://api/ex/confluence/cloud-c', 0, 0, 't1', 't3', 't3'),
                    ('app', 'adopted', 's', 'https://d/wiki', 'confluence', 'i-d', NULL, NULL,
                     1, 1, 't1', 't1', NULL),
                    ('app', NULL, NULL, NULL, 'confluence', 'i-e', 'cloud-e', NULL,
                     1, 1, 't4', 't4', NULL);",
        )
        .unwrap();
        assert_eq!(
            apply(&mut conn, &MIGRATIONS[..4]).unwrap(),
            vec!["0004_ways_in"]
        );
        let ways: Vec<String> = conn
            .prepare(
                "SELECT concat_ws('|', connect_state, connect_installed_at,
                     connect_uninstalled_at, forge_state, forge_installed_at)
                 FROM jwt_tokens ORDER BY id",
            )
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(
            ways,
            [
                "installed|t1",
                "uninstalled|t1|t2",
                "uninstalled|t1|t3|installed|t1",
                "installed|t1",
                "installed|t4",
            ]
        );
    }

    #[test]
    fn a_forge_only_site_needs_no_client_key_but_some_way_in() {
        let mut conn = memory();
        migrate(&mut conn).unwrap();
        conn.execute(
            "INSERT INTO jwt_tokens (addon_key, product_type, installation_id, cloud_id, installed_at, updated_at)
             VALUES ('app', 'confluence', 'ari:cloud:ecosystem::installation/9', 'cloud-9', 't', 't')",
            [],
        )
        .unwrap();
        let neither = conn.execute(
            "INSERT INTO jwt_tokens (addon_key, product_type, installed_at, updated_at)
             VALUES ('app', 'confluence', 't', 't')",
            [],
        );
        assert!(neither.is_err(), "a site with no way in is refused");
        let same_cloud = conn.execute(
            "INSERT INTO jwt_tokens (addon_key, product_type, installation_id, cloud_id, installed_at, updated_at)
             VALUES ('app', 'confluence', 'other', 'cloud-9', 't', 't')",
            [],
        );
        assert!(same_cloud.is_err(), "cloud ids are unique");
    }

    #[test]
    fn a_migration_that_would_leave_dangling_references_is_rolled_back() {
        let mut conn = memory();
        apply(&mut conn, &MIGRATIONS[..2]).unwrap();
        conn.execute_batch(
            "INSERT INTO jwt_tokens (addon_key, client_key, base_url, product_type, installed_at, updated_at)
             VALUES ('app', 'c1', 'https://a', 'confluence', 't', 't');
             INSERT INTO tasks (site_id, title, created_at, updated_at) VALUES (1, 'kept', 't', 't');",
        )
        .unwrap();
        let careless: &[(&'static str, &str)] = &[
            MIGRATIONS[0],
            MIGRATIONS[1],
            (
                "0003_careless",
                "CREATE TABLE jwt_tokens_new (id INTEGER PRIMARY KEY, addon_key TEXT);
                 DROP TABLE jwt_tokens;
                 ALTER TABLE jwt_tokens_new RENAME TO jwt_tokens;",
            ),
        ];
        let err = apply(&mut conn, careless).unwrap_err();
        assert!(
            matches!(
                err,
                DbError::ForeignKeys {
                    name: "0003_careless",
                    rows: 1
                }
            ),
            "{err}"
        );
        assert_eq!(schema_version(&conn).unwrap(), 2);
        let kept: i64 = conn
            .query_row(
                "SELECT count(*) FROM tasks JOIN jwt_tokens ON jwt_tokens.id = tasks.site_id",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(kept, 1, "the site and its task are still there");
    }
}
