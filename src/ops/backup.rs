//! `backup`: a consistent copy of the live database without downtime (its counterpart,
//! `restore`, is in [`super::restore`]), and the file helpers both share.
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
use crate::util::fs::create_private;

/// What `backup` and `restore` say on PostgreSQL, where they do not apply: the tools to use.
pub(crate) fn not_on_postgres(
    command: &'static str,
    settings: &crate::config::Settings,
) -> OpsError {
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
/// private (`0600`) temporary file beside `dest`, checked with `PRAGMA integrity_check`, then
/// renamed into place. A `dest` that exists must be a regular file: the rename would replace a
/// link, a device or a pipe itself (pointed at `/dev/null` as root, it would replace that);
/// and neither `dest` nor a folder on its way may be a link, nor `dest` another application's
/// SQLite database.
pub(crate) fn backup(database: &Path, dest: &Path) -> Result<Summary, OpsError> {
    if !database.is_file() {
        return Err(OpsError::Missing(database.display().to_string()));
    }
    crate::util::fs::refuse_links(dest).map_err(|why| OpsError::invalid(dest, why))?;
    let regular = std::fs::symlink_metadata(dest).map(|m| m.file_type().is_file());
    if let Ok(false) = regular {
        return Err(OpsError::invalid(
            dest,
            "exists and is not a regular file; refusing to replace it",
        ));
    }
    // An earlier backup may be replaced; another application's database may not.
    crate::db::refuse_foreign(dest)?;
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

/// A fresh, empty, private (`0600`) temporary file in `path`'s folder (renames stay within one
/// file system); SQLite gives its side files the same mode.
pub(super) fn temp_beside(path: &Path) -> Result<PathBuf, OpsError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(OpsError::io(parent))?;
    }
    let temp = with_suffix(path, &format!(".tmp-{}", std::process::id()));
    remove_quietly(&temp);
    create_private(&temp).map_err(OpsError::io(&temp))?;
    Ok(temp)
}

/// Removes a file and its SQLite side files, ignoring what is not there.
pub(super) fn remove_quietly(path: &Path) {
    for suffix in ["", "-journal", "-wal", "-shm"] {
        let _ = std::fs::remove_file(with_suffix(path, suffix));
    }
}

/// Whether two paths name the same existing file.
pub(super) fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
