//! `purge --uninstalled-for <days>`: deletes the users and tasks of every site that no way in
//! reaches any more — each way in it ever had (Connect, Forge) is gone, the last one longer ago
//! than that, and none was used since ([`crate::site::ways_in::purge_verdict`], the one rule).
//! One function over both backends, in one transaction that holds the sites lock (SQLite: the
//! IMMEDIATE transaction, with the server's busy timeout; PostgreSQL: the advisory lock Forge
//! resolutions and Connect installs take, and the candidate rows `FOR UPDATE`), so it runs
//! safely from cron beside live servers: a site reinstalled or used meanwhile is not taken.
//! On PostgreSQL the other replicas hear each purged site and forget it.

use super::sites::{SiteRow, Which, read_sites};
use crate::db::{Db, Dialect, postgres};
use crate::error::Result;
use crate::site::SiteId;
use crate::site::ways_in::purge_verdict;
use crate::util::time::rfc3339;

/// One site whose data was deleted (or would be, on a dry run), and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PurgedSite {
    pub(crate) id: i64,
    /// The Connect client key, else the Forge cloud id, else `-`.
    pub(crate) name: String,
    /// The Connect base URL, else `forge`.
    pub(crate) base_url: String,
    /// Which ways in went when (the rule's reason).
    pub(crate) reason: String,
    pub(crate) tasks: i64,
    pub(crate) users: i64,
}

/// What a purge did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PurgeReport {
    /// Sites whose last way in went before this instant (RFC 3339 UTC) were purged.
    pub(crate) cutoff: String,
    pub(crate) sites: Vec<PurgedSite>,
    /// Nothing was deleted (`--dry-run`).
    pub(crate) dry_run: bool,
}

/// The instant `days` days before now (at the stored precision).
fn cutoff_time(days: u32) -> time::OffsetDateTime {
    crate::util::time::now_millis() - time::Duration::days(i64::from(days))
}

/// The sites among `candidates` the rule lets go, with the reason and the tasks counted when
/// read (users are counted by the purge).
fn to_purge(candidates: Vec<SiteRow>, cutoff: time::OffsetDateTime) -> Vec<PurgedSite> {
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
                tasks: site.tasks,
                users: 0,
            })
        })
        .collect()
}

/// The rows of a purged site, children first; `$1` is the site. The first two are counted.
const DELETE_TASKS: &str = "DELETE FROM tasks WHERE site_id = $1";
const DELETE_USERS: &str = "DELETE FROM jwt_users WHERE site_id = $1";
const DELETE_REST: [&str; 2] = [
    "DELETE FROM forge_retired_installations WHERE site_id = $1",
    "DELETE FROM jwt_tokens WHERE id = $1",
];

/// What a dry run reports instead of deleting: the same rows, counted in the same transaction.
const COUNT_USERS: &str = "SELECT count(*) FROM jwt_users WHERE site_id = $1";

/// Tells the other replicas that a site went (PostgreSQL only; delivered at commit).
const NOTIFY: &str = "SELECT pg_notify($1, $2)";

/// Deletes the data of sites whose every way in went more than `days` days ago (or, on a dry
/// run, only counts it, under the same locks).
pub(crate) async fn purge(db: &Db, days: u32, dry_run: bool) -> Result<PurgeReport> {
    let cutoff = cutoff_time(days);
    let sites = db
        .write(async move |tx| {
            tx.lock_sites().await?;
            let mut sites = to_purge(read_sites(tx, Which::GoneForPurge).await?, cutoff);
            for site in &mut sites {
                let id = SiteId(site.id);
                if dry_run {
                    site.users = tx.value(COUNT_USERS, &[&id]).await?;
                    continue;
                }
                site.tasks = tx.execute(DELETE_TASKS, &[&id]).await? as i64;
                site.users = tx.execute(DELETE_USERS, &[&id]).await? as i64;
                for sql in DELETE_REST {
                    tx.execute(sql, &[&id]).await?;
                }
                if tx.dialect() == Dialect::Postgres {
                    let payload = postgres::site_payload(id);
                    tx.execute(NOTIFY, &[&postgres::SITE_CHANGES_CHANNEL, &payload])
                        .await?;
                }
            }
            Ok(sites)
        })
        .await?;
    Ok(PurgeReport {
        cutoff: rfc3339(cutoff),
        sites,
        dry_run,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cutoff_is_formatted_like_the_timestamp_columns() {
        let now = crate::util::time::now_rfc3339();
        let cut = rfc3339(cutoff_time(0));
        assert_eq!(cut.len(), now.len());
        assert!(cut.ends_with('Z') && cut.as_bytes()[10] == b'T');
        assert!(rfc3339(cutoff_time(30)) < cut);
    }

    #[test]
    fn the_shared_statements_number_their_parameters_as_postgresql_does() {
        let mut statements = vec![DELETE_TASKS, DELETE_USERS, COUNT_USERS];
        statements.extend(DELETE_REST);
        crate::db::assert_shared_sql(&statements);
    }
}
