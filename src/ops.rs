//! Operations on a deployed instance, behind the `healthcheck`, `backup`, `restore` and `purge`
//! commands: what a container health probe, a cron job or an operator runs next to the server.
//!
//! `purge` and `sites` are one function each over both backends, run on the configured database
//! as [`deployed`] opens it; `copy` moves the data between the backends ([`copy`]), and
//! `backup`/`restore` name `pg_dump`/`pg_restore` on PostgreSQL instead.
//!
//! Coordination with the server goes through an advisory lock on `<DATABASE_PATH>.lock`
//! ([`lock`]): every process using the database holds it shared, `restore` needs it exclusively.

pub(crate) mod backup;
pub(crate) mod copy;
pub(crate) mod deployed;
pub(crate) mod health;
pub(crate) mod lock;
pub(crate) mod purge;
pub(crate) mod restore;
pub(crate) mod sites;

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use crate::db;

/// Why an operation failed; printed as one line by `main`.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error("{0}")]
    Unhealthy(String),
    #[error(
        "refusing to {action}: another todo-connect process (a running server, a backup or a \
         purge) is using {path}; stop the server first"
    )]
    InUse { action: &'static str, path: String },
    #[error("the database {path} is being restored; try again once the restore has finished")]
    Restoring { path: String },
    #[error("no database at {0}")]
    Missing(String),
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Sqlite {
        path: String,
        source: rusqlite::Error,
    },
    #[error(transparent)]
    Db(#[from] db::DbError),
    /// A file-level operation asked of a PostgreSQL deployment: what to use instead.
    #[error(
        "{command} works on the SQLite file only; DATABASE_URL points at PostgreSQL ({url}): {instead}"
    )]
    NotOnPostgres {
        command: &'static str,
        url: String,
        instead: &'static str,
    },
}

impl OpsError {
    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |source| Self::Io {
            path: path.display().to_string(),
            source,
        }
    }

    fn sqlite(path: &Path) -> impl FnOnce(rusqlite::Error) -> Self + '_ {
        move |source| Self::Sqlite {
            path: path.display().to_string(),
            source,
        }
    }

    fn invalid(path: &Path, message: impl Into<String>) -> Self {
        Self::Invalid {
            path: path.display().to_string(),
            message: message.into(),
        }
    }
}

/// What a database file holds, for the lines the commands print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Summary {
    schema_version: i64,
    installations: i64,
    users: i64,
    tasks: i64,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "schema version {}, {} installations, {} users, {} tasks",
            self.schema_version, self.installations, self.users, self.tasks
        )
    }
}

/// Opens an existing database with the server's pragmas (busy timeout, WAL, foreign keys);
/// never creates one.
fn open_existing(path: &Path) -> Result<Connection, OpsError> {
    if !path.is_file() {
        return Err(OpsError::Missing(path.display().to_string()));
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(path, flags).map_err(OpsError::sqlite(path))?;
    db::configure_connection(&mut conn).map_err(OpsError::sqlite(path))?;
    Ok(conn)
}

/// Checks that `conn` holds an intact todo-connect database this binary can run, and
/// summarises it.
fn verify(conn: &Connection, path: &Path) -> Result<Summary, OpsError> {
    let schema_version = intact_version(conn, path)?;
    summarise(conn, path, schema_version)
}

/// The schema version of an intact database (`PRAGMA integrity_check` says `ok`) whose version
/// this binary knows; a file that is no database at all says so here.
fn intact_version(conn: &Connection, path: &Path) -> Result<i64, OpsError> {
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(OpsError::sqlite(path))?;
    if check != "ok" {
        return Err(OpsError::invalid(
            path,
            format!("fails the integrity check: {check}"),
        ));
    }
    let schema_version = db::schema_version(conn).map_err(OpsError::sqlite(path))?;
    let known = db::latest_version();
    if schema_version > known {
        return Err(OpsError::invalid(
            path,
            format!(
                "schema version {schema_version} is newer than this binary knows ({known}); \
                 use a newer todo-connect"
            ),
        ));
    }
    if schema_version < 1 {
        return Err(OpsError::invalid(path, "is not a todo-connect database"));
    }
    Ok(schema_version)
}

/// What a database at `schema_version` holds (rows of its three tables).
fn summarise(conn: &Connection, path: &Path, schema_version: i64) -> Result<Summary, OpsError> {
    let count = |table: &str| -> rusqlite::Result<i64> {
        conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
    };
    let summary = (|| {
        Ok::<_, rusqlite::Error>(Summary {
            schema_version,
            installations: count("jwt_tokens")?,
            users: count("jwt_users")?,
            tasks: count("tasks")?,
        })
    })();
    summary.map_err(|_| OpsError::invalid(path, "is not a todo-connect database"))
}

/// `path` with `suffix` appended to its file name (`todo.sqlite3` → `todo.sqlite3-wal`).
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Flushes a file's contents to disk.
fn fsync_file(path: &Path) -> Result<(), OpsError> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(OpsError::io(path))
}

/// Makes a rename inside `path`'s folder durable.
fn fsync_parent(path: &Path) -> Result<(), OpsError> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    fsync_file(parent)
}
