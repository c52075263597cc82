//! `purge --uninstalled-for <days>`: deletes the users and tasks of every site that no way in
//! reaches any more — each way in it ever had (Connect, Forge) is gone, the last one longer ago
//! than that, and none was used since ([`crate::site::ways_in::purge_verdict`], the one rule
//! both backends apply). One IMMEDIATE transaction with the server's busy timeout, so it runs
//! safely from cron beside a live server: a site reinstalled or used meanwhile is not taken.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use super::sites::{SiteRow, read_sites};
use super::{OpsError, lock, open_existing};
use crate::db;
use crate::site::ways_in::purge_verdict;
use crate::util::time::rfc3339;

/// One site whose data was deleted (or would be, on a dry run), and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurgedSite {
    pub id: i64,
    /// The Connect client key, else the Forge cloud id, else `-`.
    pub name: String,
    /// The Connect base URL, else `forge`.
    pub base_url: String,
    /// Which ways in went when (the rule's reason).
    pub reason: String,
    pub tasks: i64,
    pub users: i64,
}

/// What a purge did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurgeReport {
    /// Sites whose last way in went before this instant (RFC 3339 UTC) were purged.
    pub cutoff: String,
    pub sites: Vec<PurgedSite>,
    /// Nothing was deleted (`--dry-run`).
    pub dry_run: bool,
}

/// The instant `days` days before now, formatted like every timestamp column.
pub fn cutoff(days: u32) -> String {
    rfc3339(cutoff_time(days))
}

/// The instant `days` days before now (at the stored precision).
pub fn cutoff_time(days: u32) -> time::OffsetDateTime {
    crate::util::time::now_millis() - time::Duration::days(i64::from(days))
}

/// The sites among `candidates` the rule lets go, with the reason, not yet counted.
pub fn to_purge(candidates: Vec<SiteRow>, cutoff: time::OffsetDateTime) -> Vec<PurgedSite> {
    candidates
        .into_iter()
        .filter_map(|site| {
            let verdict = purge_verdict(&site.ways, cutoff);
            verdict.is_purge().then(|| PurgedSite {
                id: site.id.0,
                name: site
                    .client_key
                    .or(site.cloud_id)
                    .unwrap_or_else(|| "-".into()),
                base_url: site.base_url.unwrap_or_else(|| "forge".into()),
                reason: verdict.to_string(),
                tasks: 0,
                users: 0,
            })
        })
        .collect()
}

/// Refuses a database at another schema version than this binary's.
pub fn check_version(conn: &Connection, database: &Path) -> Result<(), OpsError> {
    let version = db::schema_version(conn).map_err(OpsError::sqlite(database))?;
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
    Ok(())
}

/// Deletes the data of sites whose every way in went more than `days` days ago (or only
/// reports it).
pub fn purge(database: &Path, days: u32, dry_run: bool) -> Result<PurgeReport, OpsError> {
    if !database.is_file() {
        return Err(OpsError::Missing(database.display().to_string()));
    }
    let _lock = lock::shared(database)?;
    let mut conn = open_existing(database)?;
    check_version(&conn, database)?;
    let cutoff = cutoff_time(days);
    let sites = purge_before(&mut conn, cutoff, dry_run).map_err(OpsError::sqlite(database))?;
    Ok(PurgeReport {
        cutoff: rfc3339(cutoff),
        sites,
        dry_run,
    })
}

fn purge_before(
    conn: &mut Connection,
    cutoff: time::OffsetDateTime,
    dry_run: bool,
) -> rusqlite::Result<Vec<PurgedSite>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut sites = to_purge(read_sites(&tx, true)?, cutoff);
    for site in &mut sites {
        site.tasks = tx.execute("DELETE FROM tasks WHERE site_id = ?1", [site.id])? as i64;
        site.users = tx.execute("DELETE FROM jwt_users WHERE site_id = ?1", [site.id])? as i64;
        tx.execute(
            "DELETE FROM forge_retired_installations WHERE site_id = ?1",
            [site.id],
        )?;
        tx.execute("DELETE FROM jwt_tokens WHERE id = ?1", [site.id])?;
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
