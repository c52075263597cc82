//! The advisory lock on `<DATABASE_PATH>.lock` that keeps `restore` from swapping the file under
//! a running server: servers, backups and purges hold it shared for their lifetime, `restore`
//! holds it exclusively. The kernel releases it when the process ends, even on `kill -9`.
//! A server also holds `<DATABASE_PATH>.serve.lock` exclusively: two servers on one file would
//! each trust their own installation cache, so one could keep accepting a secret the other
//! has erased.
//!
//! Both are taken through [`open_file`], which refuses a database path that is or passes
//! through a link (another name would mean another lock) and names the lock file from the
//! path's one spelling.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};

use super::{OpsError, with_suffix};

/// A held lock; released on drop.
#[derive(Debug)]
pub(crate) struct DatabaseLock {
    _file: File,
    path: PathBuf,
}

impl DatabaseLock {
    /// The lock file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

/// Takes the shared lock every process using the database holds; fails at once while a
/// restore holds it exclusively.
pub(crate) fn shared(database: &Path) -> Result<DatabaseLock, OpsError> {
    let (file, path) = open(database)?;
    match file.try_lock_shared() {
        Ok(()) => Ok(DatabaseLock { _file: file, path }),
        Err(TryLockError::WouldBlock) => Err(OpsError::Restoring {
            path: database.display().to_string(),
        }),
        Err(TryLockError::Error(e)) => Err(OpsError::io(&path)(e)),
    }
}

/// Makes sure this is the only server on the database; fails at once if another one runs.
pub(crate) fn single_server(database: &Path) -> Result<DatabaseLock, OpsError> {
    let (file, path) = open_file(database, ".serve.lock")?;
    match file.try_lock() {
        Ok(()) => Ok(DatabaseLock { _file: file, path }),
        Err(TryLockError::WouldBlock) => Err(OpsError::InUse {
            action: "serve",
            path: database.display().to_string(),
        }),
        Err(TryLockError::Error(e)) => Err(OpsError::io(&path)(e)),
    }
}

/// Takes the lock exclusively (what `restore` needs); fails at once while anyone holds it.
pub(crate) fn exclusive(database: &Path, action: &'static str) -> Result<DatabaseLock, OpsError> {
    let (file, path) = open(database)?;
    match file.try_lock() {
        Ok(()) => Ok(DatabaseLock { _file: file, path }),
        Err(TryLockError::WouldBlock) => Err(OpsError::InUse {
            action,
            path: database.display().to_string(),
        }),
        Err(TryLockError::Error(e)) => Err(OpsError::io(&path)(e)),
    }
}

fn open(database: &Path) -> Result<(File, PathBuf), OpsError> {
    open_file(database, ".lock")
}

/// The lock file `<database><suffix>`, named from the one spelling of a path without links:
/// however a command spells the database, it meets the same lock.
fn open_file(given: &Path, suffix: &str) -> Result<(File, PathBuf), OpsError> {
    crate::util::fs::refuse_other_names(given).map_err(|why| OpsError::invalid(given, why))?;
    let database = crate::util::fs::one_spelling(given).map_err(OpsError::io(given))?;
    if let Some(parent) = database.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(OpsError::io(parent))?;
    }
    let path = with_suffix(&database, suffix);
    let file = crate::util::fs::open_private(&path).map_err(OpsError::io(&path))?;
    Ok((file, path))
}
