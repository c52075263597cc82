//! `restore`: puts a backup in place of the live database while no server runs, trusting
//! nothing in the file but its rows.
//!
//! The backup is opened read-only and must be intact, of a schema version this binary knows,
//! and have exactly the tables, indexes and columns of a todo-connect database of that version
//! (no views, no triggers, nothing extra). Its rows are then copied into a freshly migrated
//! private file, so whatever the backup's schema text says, the restored schema is ours; the
//! copy is checked and renamed over the database in one step: after a crash there is either
//! the old or the restored database, never a mix.
//!
//! A backup with a non-empty `-wal` (or `-journal`) beside it is refused, not read: the file
//! alone is then not the whole database (a copy of a live file taken without its log), a
//! backup written by `backup` never has one, and reading the log would need write access
//! next to the backup and trust that the log belongs to that file. Refusing is unambiguous.

use std::collections::BTreeSet;
use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::backup::{remove_quietly, same_file, temp_beside};
use super::{
    OpsError, Summary, fsync_file, fsync_parent, intact_version, lock, summarise, verify,
    with_suffix,
};
use crate::db;

/// Replaces the database at `database` with the backup `file`, refusing while any other
/// todo-connect process uses it.
pub(crate) fn restore(database: &Path, file: &Path) -> Result<Summary, OpsError> {
    if !file.is_file() {
        return Err(OpsError::Missing(file.display().to_string()));
    }
    crate::util::fs::refuse_links(file).map_err(|why| OpsError::invalid(file, why))?;
    if same_file(database, file) {
        return Err(OpsError::invalid(file, "is the live database itself"));
    }
    refuse_side_logs(file)?;
    let summary = check_backup(file)?;
    let _lock = lock::exclusive(database, "restore")?;
    db::refuse_foreign(database)?;
    let temp = temp_beside(database)?;
    let result = rebuild(file, &temp, summary.schema_version).and_then(|summary| {
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

/// Refuses a backup whose data is partly in a log file beside it.
fn refuse_side_logs(file: &Path) -> Result<(), OpsError> {
    for suffix in ["-wal", "-journal"] {
        let log = with_suffix(file, suffix);
        let len = std::fs::metadata(&log).map_or(0, |m| m.len());
        if len > 0 {
            return Err(OpsError::invalid(
                file,
                format!(
                    "has a non-empty {} beside it ({len} bytes): part of its data is only \
                     there. Restore a file written by `todo-connect backup`, or open this one \
                     with sqlite3 once (which folds the log in) and try again",
                    log.display()
                ),
            ));
        }
    }
    Ok(())
}

/// Opens the backup read-only (and `immutable`: no side file is read or created, which also
/// works on a read-only mount) and checks it: intact, a known version, exactly our schema.
fn check_backup(file: &Path) -> Result<Summary, OpsError> {
    let conn = Connection::open_with_flags(
        sqlite_uri(file, "mode=ro&immutable=1"),
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(OpsError::sqlite(file))?;
    // Integrity and version first: a file that is no database at all says so.
    let version = intact_version(&conn, file)?;
    check_schema(&conn, file, version)?;
    summarise(&conn, file, version)
}

/// What a schema is made of: `(type, name, table)` of every object, and every table's
/// columns. `sqlite_stat*` (statistics `ANALYZE` may leave) is not part of it.
type Shape = (
    BTreeSet<(String, String, String)>,
    Vec<(String, Vec<String>)>,
);

fn shape(conn: &Connection) -> rusqlite::Result<Shape> {
    let mut stmt = conn.prepare(
        "SELECT type, name, tbl_name FROM sqlite_schema
         WHERE name NOT LIKE 'sqlite\\_stat%' ESCAPE '\\' ORDER BY name",
    )?;
    let objects: BTreeSet<(String, String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut columns = Vec::new();
    for (kind, name, _) in &objects {
        if kind == "table" {
            let mut info = conn.prepare(
                "SELECT name || ' ' || type || CASE WHEN \"notnull\" THEN ' NOT NULL' ELSE '' END
                        || coalesce(' DEFAULT ' || dflt_value, '') || ' pk' || pk
                 FROM pragma_table_xinfo(?1) ORDER BY cid",
            )?;
            let cols = info
                .query_map([name], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()?;
            columns.push((name.clone(), cols));
        }
    }
    Ok((objects, columns))
}

/// The shape of a fresh todo-connect database at `version`.
fn expected_shape(version: i64) -> Result<Shape, OpsError> {
    let here = Path::new(":memory:");
    let mut fresh = Connection::open_in_memory().map_err(OpsError::sqlite(here))?;
    db::migrate_to(&mut fresh, version)
        .map_err(|e| OpsError::invalid(here, format!("cannot build schema {version}: {e}")))?;
    shape(&fresh).map_err(OpsError::sqlite(here))
}

/// Refuses a backup whose schema is not exactly that of its version: a view in place of a
/// table, a trigger (which would run inside the live database), any extra or missing object,
/// or a table whose columns differ.
fn check_schema(conn: &Connection, file: &Path, version: i64) -> Result<(), OpsError> {
    let (objects, columns) =
        shape(conn).map_err(|_| OpsError::invalid(file, "is not a todo-connect database"))?;
    let (want_objects, want_columns) = expected_shape(version)?;
    let name = |(kind, name, _): &(String, String, String)| format!("{kind} {name}");
    let extra: Vec<String> = objects.difference(&want_objects).map(name).collect();
    let missing: Vec<String> = want_objects.difference(&objects).map(name).collect();
    let mut problems = Vec::new();
    if !extra.is_empty() {
        problems.push(format!("not in that schema: {}", listed(&extra)));
    }
    if !missing.is_empty() {
        problems.push(format!("missing: {}", listed(&missing)));
    }
    if problems.is_empty() && columns != want_columns {
        let differing: Vec<String> = columns
            .iter()
            .filter(|c| !want_columns.contains(c))
            .map(|(table, _)| format!("table {table}"))
            .collect();
        problems.push(format!("other columns in: {}", listed(&differing)));
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(OpsError::invalid(
        file,
        format!(
            "does not have the schema of a todo-connect database at version {version} ({}); \
             nothing was restored",
            problems.join("; ")
        ),
    ))
}

/// At most ten names, then a count of the rest.
fn listed(names: &[String]) -> String {
    let shown = names
        .iter()
        .take(10)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    match names.len() {
        n if n > 10 => format!("{shown} and {} more", n - 10),
        _ => shown,
    }
}

/// Builds the restored database at `temp`: a fresh schema at `version`, then the backup's rows,
/// table by table, and its AUTOINCREMENT counters (ids are never reused); checked before use.
fn rebuild(file: &Path, temp: &Path, version: i64) -> Result<Summary, OpsError> {
    let mut conn = Connection::open(temp).map_err(OpsError::sqlite(temp))?;
    db::migrate_to(&mut conn, version)
        .map_err(|e| OpsError::invalid(temp, format!("cannot build schema {version}: {e}")))?;
    conn.execute(
        "ATTACH DATABASE ?1 AS backup",
        [sqlite_uri(file, "mode=ro&immutable=1")],
    )
    .map_err(OpsError::sqlite(file))?;
    // Foreign keys are checked once all rows are in, below: a migration that rebuilt a parent
    // table (0003 did `jwt_tokens`) lists it after its children, so no table order is safe.
    // (SQLite ignores this pragma inside a transaction, so it is set around the copy.)
    conn.pragma_update(None, "foreign_keys", false)
        .map_err(OpsError::sqlite(temp))?;
    copy_rows(&mut conn).map_err(OpsError::sqlite(file))?;
    conn.pragma_update(None, "foreign_keys", true)
        .map_err(OpsError::sqlite(temp))?;
    let orphans: i64 = conn
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .map_err(OpsError::sqlite(temp))?;
    if orphans > 0 {
        return Err(OpsError::invalid(
            file,
            format!("has {orphans} rows that belong to no installation; nothing was restored"),
        ));
    }
    conn.execute_batch("DETACH DATABASE backup")
        .map_err(OpsError::sqlite(temp))?;
    conn.pragma_update_and_check(None, "journal_mode", "DELETE", |r| r.get::<_, String>(0))
        .map_err(OpsError::sqlite(temp))?;
    let summary = verify(&conn, temp)?;
    conn.close().map_err(|(_, e)| OpsError::sqlite(temp)(e))?;
    fsync_file(temp)?;
    Ok(summary)
}

/// Copies every table's rows (named columns only) and the AUTOINCREMENT counters, in one
/// transaction; run with foreign keys off, and checked by the caller afterwards.
fn copy_rows(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    let tables: Vec<String> = tx
        .prepare(
            "SELECT name FROM main.sqlite_schema
             WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY rowid",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for table in &tables {
        let columns: Vec<String> = tx
            .prepare("SELECT name FROM pragma_table_info(?1, 'main') ORDER BY cid")?
            .query_map([table], |r| r.get::<_, String>(0))?
            .map(|c| c.map(|c| format!("\"{c}\"")))
            .collect::<rusqlite::Result<_>>()?;
        let columns = columns.join(", ");
        tx.execute(
            &format!(
                "INSERT INTO main.\"{table}\" ({columns}) SELECT {columns} FROM backup.\"{table}\""
            ),
            [],
        )?;
    }
    tx.execute_batch(
        "INSERT INTO main.sqlite_sequence (name, seq)
             SELECT b.name, CAST(b.seq AS INTEGER) FROM backup.sqlite_sequence b
             WHERE b.name IN (SELECT name FROM main.sqlite_schema WHERE type = 'table')
               AND NOT EXISTS (SELECT 1 FROM main.sqlite_sequence m WHERE m.name = b.name);
         UPDATE main.sqlite_sequence
             SET seq = max(seq, (SELECT CAST(b.seq AS INTEGER) FROM backup.sqlite_sequence b
                                 WHERE b.name = main.sqlite_sequence.name))
             WHERE name IN (SELECT name FROM backup.sqlite_sequence);",
    )?;
    tx.commit()
}

/// A `file:` URI for SQLite with `params`, the path percent-encoded.
fn sqlite_uri(path: &Path, params: &str) -> String {
    use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
    const RESERVED: &AsciiSet = &CONTROLS.add(b' ').add(b'#').add(b'?').add(b'%');
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let encoded = utf8_percent_encode(&absolute.to_string_lossy(), RESERVED).to_string();
    format!("file:{encoded}?{params}")
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
