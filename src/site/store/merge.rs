//! Merging two rows that turned out to be one Confluence site (met through Forge first, through
//! Connect later), on either backend: every table [`crate::site::merging`] knows moves its rows
//! by that module's rule, the Forge way in carries over, the merged row goes. A table the rule
//! does not know makes the merge refuse with nothing changed, on both backends alike.

use crate::db::{Dialect, Tx};
use crate::error::{AppError, Result};
use crate::site::SiteId;
use crate::site::merging::{self, Moved, OnConflict};

/// Every `(table, column)` with a foreign key to `jwt_tokens`, on SQLite.
const SQLITE_REFERENCES: &str = "SELECT m.name, p.\"from\" FROM sqlite_schema AS m
     JOIN pragma_foreign_key_list(m.name) AS p
     WHERE m.type = 'table' AND p.\"table\" = 'jwt_tokens'";

/// Every `(table, column)` with a foreign key to `jwt_tokens`, on PostgreSQL.
const POSTGRES_REFERENCES: &str = "SELECT CAST(cl.relname AS text), CAST(a.attname AS text)
     FROM pg_constraint c
     JOIN pg_class cl ON cl.oid = c.conrelid
     JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
     WHERE c.contype = 'f' AND c.confrelid = CAST('jwt_tokens' AS regclass)";

/// Holds the merged row (PostgreSQL): a task create holds it while it counts and inserts, so
/// it either finishes before the merge (its task then moves) or finds the site gone after.
const HOLD_MERGED: &str = "SELECT 1 FROM jwt_tokens WHERE id = $1 FOR UPDATE";

/// Carries the Forge way in of the merged site (`$1`) over to the site it becomes (`$2`): its
/// state, times and last use, so the merge neither forgets that Forge reaches the site nor
/// makes it look unused.
const MERGE_FORGE_WAY: &str = "UPDATE jwt_tokens SET
        (forge_state, forge_installed_at, forge_uninstalled_at, forge_seen_at) =
        (SELECT f.forge_state, f.forge_installed_at, f.forge_uninstalled_at, f.forge_seen_at
         FROM jwt_tokens AS f WHERE f.id = $1)
    WHERE id = $2 AND EXISTS (SELECT 1 FROM jwt_tokens AS f
                              WHERE f.id = $1 AND f.forge_state IS NOT NULL)";

/// Removes the merged row (what stayed with it, the duplicates the survivor won, goes too).
const DELETE_MERGED: &str = "DELETE FROM jwt_tokens WHERE id = $1";

/// The statement moving one table's rows from site `$2` to site `$1`, by its conflict rule.
/// Names come from [`merging::MOVED`], never from input.
fn move_statement(moved: &Moved) -> String {
    let (table, column) = (moved.table, moved.column);
    match moved.on_conflict {
        OnConflict::Never => format!("UPDATE {table} SET {column} = $1 WHERE {column} = $2"),
        OnConflict::SurvivorWins { key } => format!(
            "UPDATE {table} AS moved SET {column} = $1 WHERE {column} = $2 AND NOT EXISTS
                 (SELECT 1 FROM {table} AS kept WHERE kept.{column} = $1 AND kept.{key} = moved.{key})"
        ),
    }
}

/// Moves everything of site `from` to site `into` and deletes `from`, inside the caller's
/// transaction (which holds the sites lock). Refuses — an error, nothing changed — when the
/// schema has a reference to `jwt_tokens` the merge does not know.
pub(crate) async fn merge_site(tx: &Tx<'_>, from: SiteId, into: SiteId) -> Result<()> {
    let listing = match tx.dialect() {
        Dialect::Sqlite => SQLITE_REFERENCES,
        Dialect::Postgres => {
            tx.execute(HOLD_MERGED, &[&from]).await?;
            POSTGRES_REFERENCES
        }
    };
    let references = tx
        .query(listing, &[], |row| Ok((row.get(0)?, row.get(1)?)))
        .await?;
    let plan = merging::plan(&references).map_err(|unknown| {
        AppError::internal(format!(
            "merging site {from} into {into} refused: {unknown}"
        ))
    })?;
    for moved in plan {
        tx.execute(&move_statement(moved), &[&into, &from]).await?;
    }
    tx.execute(MERGE_FORGE_WAY, &[&from, &into]).await?;
    tx.execute(DELETE_MERGED, &[&from]).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shared_statements_number_their_parameters_as_postgresql_does() {
        let moves: Vec<String> = merging::MOVED.iter().map(move_statement).collect();
        let mut shared = vec![MERGE_FORGE_WAY, DELETE_MERGED, SQLITE_REFERENCES];
        shared.extend(moves.iter().map(String::as_str));
        crate::db::assert_shared_sql(&shared);
    }

    #[test]
    fn the_sqlite_listing_finds_exactly_the_tables_the_merge_knows() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        crate::db::configure_connection(&mut conn).unwrap();
        crate::db::migrate(&mut conn).unwrap();
        let found: Vec<(String, String)> = conn
            .prepare(SQLITE_REFERENCES)
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(
            merging::plan(&found).unwrap().len(),
            merging::MOVED.len(),
            "{found:?}"
        );
    }
}
