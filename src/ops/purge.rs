//! `purge --uninstalled-for <days>`: honours uninstalls by deleting the installation row, users
//! and tasks of every site uninstalled longer ago than that. One IMMEDIATE transaction with the
//! server's busy timeout, so it runs safely from cron beside a live server; a site that was
//! reinstalled meanwhile is `installed = 1` again and never matches.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior, params};

use super::{OpsError, lock, open_existing};
use crate::db;
use crate::util::time::rfc3339;

/// One site whose data was deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurgedSite {
    pub client_key: String,
    pub base_url: String,
    pub uninstalled_at: String,
    pub tasks: i64,
    pub users: i64,
}

/// What a purge did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurgeReport {
    /// Sites uninstalled before this instant (RFC 3339 UTC) were purged.
    pub cutoff: String,
    pub sites: Vec<PurgedSite>,
    /// Nothing was deleted (`--dry-run`).
    pub dry_run: bool,
}

/// The instant `days` days before now, formatted like every timestamp column, so that text
/// comparison orders it correctly.
pub fn cutoff(days: u32) -> String {
    rfc3339(cutoff_time(days))
}

/// The instant `days` days before now (at the stored precision).
pub fn cutoff_time(days: u32) -> time::OffsetDateTime {
    crate::util::time::now_millis() - time::Duration::days(i64::from(days))
}

/// Deletes the data of sites uninstalled more than `days` days ago (or only reports it).
pub fn purge(database: &Path, days: u32, dry_run: bool) -> Result<PurgeReport, OpsError> {
    if !database.is_file() {
        return Err(OpsError::Missing(database.display().to_string()));
    }
    let _lock = lock::shared(database)?;
    let mut conn = open_existing(database)?;
    let version = db::schema_version(&conn).map_err(OpsError::sqlite(database))?;
    if version != db::latest_version() {
        return Err(OpsError::invalid(
            database,
            format!(
                "schema version {version}, this binary knows {}; run `todo-connect migrate` \
                 with the matching binary first",
                db::latest_version()
            ),
        ));
    }
    let cutoff = cutoff(days);
    let sites = purge_before(&mut conn, &cutoff, dry_run).map_err(OpsError::sqlite(database))?;
    Ok(PurgeReport {
        cutoff,
        sites,
        dry_run,
    })
}

fn purge_before(
    conn: &mut Connection,
    cutoff: &str,
    dry_run: bool,
) -> rusqlite::Result<Vec<PurgedSite>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let expired: Vec<(i64, String, String, String)> = tx
        .prepare(
            "SELECT id, client_key, base_url, uninstalled_at FROM jwt_tokens
             WHERE installed = 0 AND uninstalled_at IS NOT NULL AND uninstalled_at < ?1
             ORDER BY id",
        )?
        .query_map([cutoff], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut sites = Vec::with_capacity(expired.len());
    for (id, client_key, base_url, uninstalled_at) in expired {
        let tasks = tx.execute("DELETE FROM tasks WHERE site_id = ?1", [id])? as i64;
        let users = tx.execute("DELETE FROM jwt_users WHERE site_id = ?1", [id])? as i64;
        tx.execute(
            "DELETE FROM jwt_tokens WHERE id = ?1 AND installed = 0",
            params![id],
        )?;
        sites.push(PurgedSite {
            client_key,
            base_url,
            uninstalled_at,
            tasks,
            users,
        });
    }
    if dry_run {
        tx.rollback()?;
    } else {
        tx.commit()?;
    }
    Ok(sites)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cutoff_is_formatted_like_the_timestamp_columns() {
        let now = crate::util::time::now_rfc3339();
        let cut = cutoff(0);
        assert_eq!(cut.len(), now.len());
        assert!(cut.ends_with('Z') && cut.as_bytes()[10] == b'T');
        assert!(cutoff(30) < cut);
    }
}
