//! `backup` and `restore`: a consistent copy of the live database without downtime, and the
//! atomic swap of such a copy back in while no server runs.
//!
//! The backup copies pages with SQLite's online backup API inside one read transaction on the
//! source: in WAL mode a reader never blocks writers, and the held snapshot keeps the copy
//! consistent (without it, every commit between two steps would restart the copy, which then
//! might never finish under steady writes). Small steps with short pauses keep the I/O gentle.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;
use rusqlite::backup::{Backup, StepResult};

use super::{
    OpsError, Summary, fsync_file, fsync_parent, lock, open_existing, verify, with_suffix,
};

/// What `backup` and `restore` say on PostgreSQL, where they do not apply: the tools to use.
pub fn not_on_postgres(command: &'static str, settings: &crate::config::Settings) -> OpsError {
    let instead = if command == "backup" {
        "take a consistent online backup with `pg_dump --format=custom --file=todo.dump \
         \"$DATABASE_URL\"` (the replicas keep serving)"
    } else {
        "stop every replica, then `pg_restore --clean --if-exists --no-owner \
         --dbname=\"$DATABASE_URL\" todo.dump`, and start them again"
    };
    OpsError::NotOnPostgres {
        command,
        url: settings
            .database_url
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        instead,
    }
}

/// Pages copied per step (4 MiB with the default 4 KiB pages).
const PAGES_PER_STEP: i32 = 1024;
/// The pause between steps.
const PAUSE: Duration = Duration::from_millis(5);

/// Copies the database at `database` to `dest` while the server keeps serving: written to a
/// temporary file beside `dest`, checked with `PRAGMA integrity_check`, then renamed into place.
pub fn backup(database: &Path, dest: &Path) -> Result<Summary, OpsError> {
    if !database.is_file() {
        return Err(OpsError::Missing(database.display().to_string()));
    }
    let _lock = lock::shared(database)?;
    if same_file(database, dest) {
        return Err(OpsError::invalid(dest, "is the live database itself"));
    }
    let source = open_existing(database)?;
    let temp = temp_beside(dest)?;
    let result = copy_into(&source, database, &temp).and_then(|summary| {
        fsync_file(&temp)?;
        std::fs::rename(&temp, dest).map_err(OpsError::io(dest))?;
        fsync_parent(dest)?;
        Ok(summary)
    });
    if result.is_err() {
        remove_quietly(&temp);
    }
    result
}

/// Copies one read snapshot of `source` into a new file at `temp` and verifies the copy.
fn copy_into(source: &Connection, database: &Path, temp: &Path) -> Result<Summary, OpsError> {
    let mut dest = Connection::open(temp).map_err(OpsError::sqlite(temp))?;
    let err = OpsError::sqlite(database);
    // The snapshot: a read transaction the backup steps run inside.
    source
        .execute_batch("BEGIN DEFERRED")
        .and_then(|()| source.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(())))
        .map_err(err)?;
    let copied = run_backup(source, &mut dest);
    let _ = source.execute_batch("ROLLBACK");
    copied.map_err(OpsError::sqlite(database))?;
    // A self-contained file: no -wal beside it, whatever mode the source was in.
    dest.pragma_update_and_check(None, "journal_mode", "DELETE", |r| r.get::<_, String>(0))
        .map_err(OpsError::sqlite(temp))?;
    let summary = verify(&dest, temp)?;
    dest.close().map_err(|(_, e)| OpsError::sqlite(temp)(e))?;
    Ok(summary)
}

fn run_backup(source: &Connection, dest: &mut Connection) -> rusqlite::Result<()> {
    let backup = Backup::new(source, dest)?;
    loop {
        match backup.step(PAGES_PER_STEP)? {
            StepResult::Done => return Ok(()),
            _ => std::thread::sleep(PAUSE),
        }
    }
}

/// Replaces the database at `database` with the backup `file`, refusing while any other
/// todo-connect process uses it. The copy is checked before anything is touched, then renamed
/// over the database in one step: a crash leaves either the old or the new database.
pub fn restore(database: &Path, file: &Path) -> Result<Summary, OpsError> {
    if !file.is_file() {
        return Err(OpsError::Missing(file.display().to_string()));
    }
    if same_file(database, file) {
        return Err(OpsError::invalid(file, "is the live database itself"));
    }
    check_readonly(file)?;
    let _lock = lock::exclusive(database, "restore")?;
    let temp = temp_beside(database)?;
    let result = prepare_copy(file, &temp).and_then(|summary| {
        retire_current(database)?;
        std::fs::rename(&temp, database).map_err(OpsError::io(database))?;
        fsync_parent(database)?;
        Ok(summary)
    });
    if result.is_err() {
        remove_quietly(&temp);
    }
    result
}

/// Checks the backup in place without writing to it.
fn check_readonly(file: &Path) -> Result<Summary, OpsError> {
    let flags =
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(file, flags).map_err(OpsError::sqlite(file))?;
    verify(&conn, file)
}

/// Copies the backup beside the database, makes it self-contained, checks it and syncs it.
fn prepare_copy(file: &Path, temp: &Path) -> Result<Summary, OpsError> {
    std::fs::copy(file, temp).map_err(OpsError::io(temp))?;
    let conn = Connection::open(temp).map_err(OpsError::sqlite(temp))?;
    conn.pragma_update_and_check(None, "journal_mode", "DELETE", |r| r.get::<_, String>(0))
        .map_err(OpsError::sqlite(temp))?;
    let summary = verify(&conn, temp)?;
    conn.close().map_err(|(_, e)| OpsError::sqlite(temp)(e))?;
    fsync_file(temp)?;
    Ok(summary)
}

/// Folds the current database's WAL into its file and removes the side files, so no stale WAL
/// is ever replayed onto the restored file. Best effort on the old file: a damaged database,
/// often the reason for a restore, must not block its replacement.
fn retire_current(database: &Path) -> Result<(), OpsError> {
    if database.is_file() {
        let folded = Connection::open(database).and_then(|conn| {
            conn.pragma_update_and_check(None, "journal_mode", "DELETE", |r| {
                r.get::<_, String>(0)
            })?;
            conn.close().map_err(|(_, e)| e)
        });
        if let Err(e) = folded {
            log::warn!(
                "replacing {} without folding its WAL: {e}",
                database.display()
            );
        }
    }
    for suffix in ["-wal", "-shm", "-journal"] {
        let side = with_suffix(database, suffix);
        match std::fs::remove_file(&side) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(OpsError::io(&side)(e));
            }
            _ => {}
        }
    }
    Ok(())
}

/// A fresh temporary path in `path`'s folder (renames stay within one file system).
fn temp_beside(path: &Path) -> Result<PathBuf, OpsError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(OpsError::io(parent))?;
    }
    let temp = with_suffix(path, &format!(".tmp-{}", std::process::id()));
    remove_quietly(&temp);
    Ok(temp)
}

fn remove_quietly(path: &Path) {
    for suffix in ["", "-journal", "-wal", "-shm"] {
        let _ = std::fs::remove_file(with_suffix(path, suffix));
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
