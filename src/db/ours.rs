//! Whether a SQLite file is ours to write: one that holds tables todo-connect never creates is
//! another application's database (a mistyped `DATABASE_PATH`, `copy --to` or `backup`
//! target), and migrating our schema into it, or replacing it, would damage someone else's data.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::OnceLock;

use rusqlite::{Connection, OpenFlags};

use super::migrate::MIGRATIONS;
use super::{DbError, migrate_to};

/// Refuses an existing SQLite file at `path` with a table or view that no version of our
/// schema has. A missing or empty file, or one SQLite cannot read (damaged, not a database),
/// is not refused here: what opens it next reports that, and a damaged database must stay
/// replaceable by `restore`. Opened read-only; nothing in the file changes.
pub(crate) fn refuse_foreign(path: &Path) -> Result<(), DbError> {
    if std::fs::metadata(path).map_or(true, |m| m.len() == 0) {
        return Ok(());
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let Ok(conn) = Connection::open_with_flags(path, flags) else {
        return Ok(());
    };
    let Ok(found) = tables(&conn) else {
        return Ok(());
    };
    let foreign: Vec<String> = found.difference(ours()).cloned().collect();
    if foreign.is_empty() {
        return Ok(());
    }
    let mut listed = foreign
        .iter()
        .take(5)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if foreign.len() > 5 {
        listed.push_str(&format!(" and {} more", foreign.len() - 5));
    }
    Err(DbError::Foreign {
        path: path.display().to_string(),
        tables: listed,
    })
}

/// Tables and views, SQLite's own aside.
fn tables(conn: &Connection) -> rusqlite::Result<BTreeSet<String>> {
    conn.prepare(
        "SELECT name FROM sqlite_schema WHERE type IN ('table', 'view')
         AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
    )?
    .query_map([], |r| r.get(0))?
    .collect()
}

/// Every table any version of our schema has (an older file is still ours).
fn ours() -> &'static BTreeSet<String> {
    static OURS: OnceLock<BTreeSet<String>> = OnceLock::new();
    OURS.get_or_init(|| {
        let mut all = BTreeSet::new();
        for version in 1..=MIGRATIONS.len() as i64 {
            if let Ok(mut conn) = Connection::open_in_memory()
                && migrate_to(&mut conn, version).is_ok()
                && let Ok(names) = tables(&conn)
            {
                all.extend(names);
            }
        }
        all
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_files_of_any_version_pass_and_another_applications_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("old.sqlite3");
        migrate_to(&mut Connection::open(&old).unwrap(), 1).unwrap();
        assert!(refuse_foreign(&old).is_ok());
        let empty = dir.path().join("empty.sqlite3");
        std::fs::write(&empty, b"").unwrap();
        assert!(refuse_foreign(&empty).is_ok());
        assert!(refuse_foreign(&dir.path().join("missing")).is_ok());

        let theirs = dir.path().join("theirs.sqlite3");
        Connection::open(&theirs)
            .unwrap()
            .execute_batch("CREATE TABLE invoices (id INTEGER PRIMARY KEY, amount INTEGER)")
            .unwrap();
        let before = std::fs::read(&theirs).unwrap();
        let refused = refuse_foreign(&theirs).unwrap_err().to_string();
        assert!(refused.contains("invoices"), "{refused}");
        assert_eq!(std::fs::read(&theirs).unwrap(), before);
    }
}
