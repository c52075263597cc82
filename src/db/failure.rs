//! The one home where the database drivers' errors become the app's ([`AppError`]) and are
//! counted in `db_errors_total` by kind, one classification per driver: a busy or unreachable
//! database is a 503 to retry (`AppError::Unavailable`), anything else a 500 whose cause is
//! logged, never sent. Every failed statement or connection checkout passes here once (the
//! PostgreSQL deadline, which has no driver error, counts in `postgres/deadline.rs`).

use crate::error::AppError;
use crate::util::telemetry::{self, DbFailure};

impl From<rusqlite::Error> for AppError {
    fn from(err: rusqlite::Error) -> Self {
        let failure = sqlite_failure(&err);
        if let Some(kind) = failure {
            telemetry::db_error(kind);
        }
        match failure {
            Some(DbFailure::Busy) => {
                log::warn!("database busy: {err}");
                Self::Unavailable
            }
            _ => Self::internal(format!("sqlite: {err}")),
        }
    }
}

/// What kind of failure a SQLite error is, for `db_errors_total`: `None` for "no row", which
/// is an answer, not a failure. Busy and locked are the lock waits that ran out (a 503 to
/// retry); a constraint is a refused statement; anything else (a full disk, a corrupt page, a
/// value of the wrong type) is "other".
fn sqlite_failure(err: &rusqlite::Error) -> Option<DbFailure> {
    use rusqlite::ErrorCode::{CannotOpen, ConstraintViolation, DatabaseBusy, DatabaseLocked};
    match err {
        rusqlite::Error::QueryReturnedNoRows => None,
        _ => Some(match err.sqlite_error_code() {
            Some(DatabaseBusy | DatabaseLocked) => DbFailure::Busy,
            Some(ConstraintViolation) => DbFailure::Constraint,
            Some(CannotOpen) => DbFailure::Connection,
            _ => DbFailure::Other,
        }),
    }
}

impl From<r2d2::Error> for AppError {
    /// The pool had no SQLite connection in time (or could not open one).
    fn from(err: r2d2::Error) -> Self {
        telemetry::db_error(DbFailure::Connection);
        log::warn!("no database connection: {err}");
        Self::Unavailable
    }
}

impl From<tokio_postgres::Error> for AppError {
    /// The PostgreSQL twin of the SQLite mapping: a lost connection, a timeout, a lock or
    /// serialization conflict, an overloaded or restarting server, or a read-only standby is a
    /// 503 to retry; anything else is a 500.
    fn from(err: tokio_postgres::Error) -> Self {
        let kind = postgres_failure(&err);
        telemetry::db_error(kind);
        let transient = match err.code() {
            Some(code) => {
                let code = code.code();
                matches!(
                    &code[..2],
                    "08" // connection exception
                        | "53" // insufficient resources (too many connections, …)
                        | "57" // operator intervention: timeouts, shutdown, cannot connect now
                ) || matches!(
                    code,
                    "40001" | "40P01" | "55P03" | "25006" // serialization, deadlock, lock, read-only
                )
            }
            // No SQLSTATE: transient when the connection broke or could not be made; a type
            // mismatch or similar is our bug.
            None => kind == DbFailure::Connection,
        };
        if transient {
            log::warn!("database unavailable: {}", describe(&err));
            Self::Unavailable
        } else {
            Self::internal(format!("postgres: {}", describe(&err)))
        }
    }
}

/// What kind of failure a PostgreSQL error is, for `db_errors_total`, by SQLSTATE:
/// serialization (40001), deadlock (40P01), a lock not had in time (55P03) and a statement
/// timeout (57014) are "busy"; class 23 is a constraint; a connection exception (08), too many
/// connections (53300), a server shutting down or starting (57P01–57P03), and a connection
/// broken or never made (no SQLSTATE) are "connection"; the rest is "other".
fn postgres_failure(err: &tokio_postgres::Error) -> DbFailure {
    let Some(code) = err.code() else {
        let text = err.to_string();
        let lost = err.is_closed()
            || std::error::Error::source(err).is_some_and(|s| s.is::<std::io::Error>())
            || text.starts_with("error connecting")
            || text.starts_with("timeout");
        return if lost {
            DbFailure::Connection
        } else {
            DbFailure::Other
        };
    };
    sqlstate_failure(code.code())
}

/// The kind of failure a SQLSTATE names (see [`postgres_failure`]).
fn sqlstate_failure(code: &str) -> DbFailure {
    match code {
        "40001" | "40P01" | "55P03" | "57014" => DbFailure::Busy,
        "53300" | "57P01" | "57P02" | "57P03" => DbFailure::Connection,
        other if other.starts_with("23") => DbFailure::Constraint,
        other if other.starts_with("08") => DbFailure::Connection,
        _ => DbFailure::Other,
    }
}

/// The server's message and code, which `tokio_postgres::Error`'s `Display` leaves out.
fn describe(err: &tokio_postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => err.to_string(),
    }
}

impl From<deadpool_postgres::PoolError> for AppError {
    /// The pool had no PostgreSQL connection (none free in time, or the server could not be
    /// reached to open one).
    fn from(err: deadpool_postgres::PoolError) -> Self {
        telemetry::db_error(DbFailure::Connection);
        log::warn!("no database connection: {err}");
        Self::Unavailable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_failures_are_told_apart_and_no_row_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite3");
        let holder = rusqlite::Connection::open(&path).unwrap();
        holder
            .execute_batch("CREATE TABLE t (v INTEGER NOT NULL UNIQUE); INSERT INTO t VALUES (1);")
            .unwrap();
        let duplicate = holder.execute("INSERT INTO t VALUES (1)", []).unwrap_err();
        assert_eq!(sqlite_failure(&duplicate), Some(DbFailure::Constraint));
        let none = holder
            .query_row("SELECT v FROM t WHERE v = 2", [], |r| r.get::<_, i64>(0))
            .unwrap_err();
        assert_eq!(sqlite_failure(&none), None);
        let typo = holder.execute("SELEC 1", []).unwrap_err();
        assert_eq!(sqlite_failure(&typo), Some(DbFailure::Other));

        holder.execute_batch("BEGIN IMMEDIATE").unwrap();
        let waiter = rusqlite::Connection::open(&path).unwrap();
        waiter.busy_timeout(std::time::Duration::ZERO).unwrap();
        let busy = waiter.execute_batch("BEGIN IMMEDIATE").unwrap_err();
        assert_eq!(sqlite_failure(&busy), Some(DbFailure::Busy));
        assert!(matches!(AppError::from(busy), AppError::Unavailable));
    }

    #[test]
    fn sqlstates_are_told_apart() {
        for (code, kind) in [
            ("40001", DbFailure::Busy),
            ("40P01", DbFailure::Busy),
            ("55P03", DbFailure::Busy),
            ("57014", DbFailure::Busy),
            ("23505", DbFailure::Constraint),
            ("23503", DbFailure::Constraint),
            ("08006", DbFailure::Connection),
            ("53300", DbFailure::Connection),
            ("57P01", DbFailure::Connection),
            ("42601", DbFailure::Other),
            ("22P02", DbFailure::Other),
        ] {
            assert_eq!(sqlstate_failure(code), kind, "{code}");
        }
    }
}
