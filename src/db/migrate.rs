//! The SQLite schema's versions: the embedded migrations in `db/migrations/`, applied in
//! order, each in one transaction with its version bump (`PRAGMA user_version`), and refused
//! when they would leave a row pointing at nothing. PostgreSQL's twins of the same names live
//! in `postgres/migrate.rs`.

use rusqlite::{Connection, TransactionBehavior};

use super::DbError;

/// Versioned schema changes, in order; version N is the N-th entry. Never edit one that shipped.
pub(crate) const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_initial",
        include_str!("../../db/migrations/0001_initial.sql"),
    ),
    (
        "0002_site_id",
        include_str!("../../db/migrations/0002_site_id.sql"),
    ),
    (
        "0003_forge",
        include_str!("../../db/migrations/0003_forge.sql"),
    ),
    (
        "0004_ways_in",
        include_str!("../../db/migrations/0004_ways_in.sql"),
    ),
    (
        "0005_jira_issues",
        include_str!("../../db/migrations/0005_jira_issues.sql"),
    ),
];

/// The schema version this binary brings.
pub fn latest_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// The schema version recorded in the file.
pub(crate) fn schema_version(conn: &Connection) -> rusqlite::Result<i64> {
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
pub(crate) fn migrate_to(
    conn: &mut Connection,
    version: i64,
) -> Result<Vec<&'static str>, DbError> {
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

#[cfg(test)]
mod tests;
