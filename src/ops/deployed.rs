//! The configured database as an operation on a deployed instance (`purge`, `sites`) opens it:
//! the same [`Db`] the server runs on, SQLite or PostgreSQL, so that each operation is one
//! store function over both backends and the command line never asks which one it is.

use std::future::Future;
use std::time::Duration;

use super::{OpsError, lock};
use crate::config::Settings;
use crate::db::{self, Db, Dialect, Tx, postgres};
use crate::error::{AppError, Result};

/// How long one statement or lock wait of an operation may take on PostgreSQL. Far longer
/// than a request's `DATABASE_TIMEOUT`: a purge from cron waits for the sites lock behind the
/// replicas' installs and may delete many rows, yet a stuck server still ends it.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(600);

/// An opened database and what keeps it safe to use while the operation runs.
pub(crate) struct Deployed {
    pub(crate) db: Db,
    /// For messages: the file path, or the URL (which prints no password).
    name: String,
    /// SQLite: the shared lock every process using the file holds, so no `restore` swaps the
    /// file underneath the operation.
    _lock: Option<lock::DatabaseLock>,
}

impl Deployed {
    /// Opens the configured database, never creating one, without migrating it (an operation
    /// refuses another schema version instead, [`Deployed::check_version`]). On SQLite its one
    /// connection has the server's pragmas, busy timeout included.
    pub(crate) fn open(settings: &Settings) -> Result<Self, OpsError> {
        if let Some(url) = &settings.database_url {
            let pool = postgres::PgPool::with_timeout(url, 1, OPERATION_TIMEOUT)?;
            return Ok(Self {
                db: Db::postgres(pool),
                name: url.to_string(),
                _lock: None,
            });
        }
        let path = &settings.database_path;
        if !path.is_file() {
            return Err(OpsError::Missing(path.display().to_string()));
        }
        let held = lock::shared(path)?;
        let pool = db::open_pool(path, 1)?;
        Ok(Self {
            db: Db::new(pool),
            name: path.display().to_string(),
            _lock: Some(held),
        })
    }

    /// Refuses a database at another schema version than this binary's.
    pub(crate) async fn check_version(&self) -> Result<(), OpsError> {
        let version = self
            .db
            .read(async |tx| schema_version(tx).await)
            .await
            .map_err(|e| self.error(e))?;
        let known = db::latest_version();
        if version != known {
            return Err(OpsError::Invalid {
                path: self.name.clone(),
                message: format!(
                    "schema version {version}, this binary knows {known}; run `todo-connect \
                     migrate` with the matching binary first"
                ),
            });
        }
        Ok(())
    }

    /// An operation's failure, naming the database; the cause of an internal error in full
    /// (the operator reads it, not a client).
    pub(crate) fn error(&self, err: AppError) -> OpsError {
        let message = match err {
            AppError::Internal(cause) => cause,
            AppError::Unavailable => {
                "the database is busy or does not answer; try again later".to_string()
            }
            other => other.to_string(),
        };
        OpsError::Invalid {
            path: self.name.clone(),
            message,
        }
    }
}

/// The schema version the database records (0 before the first migration): SQLite keeps it in
/// the file's header, our PostgreSQL migrations in a table.
async fn schema_version(tx: &Tx<'_>) -> Result<i64> {
    match tx.dialect() {
        Dialect::Sqlite => tx.value("PRAGMA user_version", &[]).await,
        Dialect::Postgres => {
            let migrated: bool = tx
                .value("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])
                .await?;
            if !migrated {
                return Ok(0);
            }
            tx.value(
                "SELECT CAST(COALESCE(max(version), 0) AS bigint) FROM schema_migrations",
                &[],
            )
            .await
        }
    }
}

/// Runs an operation's work to its end from the synchronous command line, on a runtime of its
/// own (where [`Db::read`] and [`Db::write`] find the blocking pool they use on SQLite).
pub(crate) fn block_on<T, W, F>(work: W) -> T
where
    T: Send + 'static,
    W: FnOnce() -> F + Send + 'static,
    F: Future<Output = T>,
{
    postgres::block_on(work)
}
