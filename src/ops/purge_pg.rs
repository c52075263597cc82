//! The PostgreSQL twin of [`super::purge`]: the same candidates, the same rule
//! ([`super::purge::to_purge`]), the same deletions in one transaction, the same report. Safe
//! beside running replicas: the purge holds the lock Forge resolutions and Connect installs
//! take, and the candidate rows (`FOR UPDATE`), so a reinstall racing it waits for it; the
//! replicas hear each purged site and forget it.

use tokio_postgres::Client;

use super::OpsError;
use super::purge::{PurgeReport, PurgedSite, cutoff_time, to_purge};
use super::sites_pg::read_sites;
use crate::config::DatabaseUrl;
use crate::db::{self, postgres};
use crate::site::SiteId;
use crate::util::time::rfc3339;

/// Refuses a database at another schema version than this binary's.
pub async fn check_version(pool: &postgres::PgPool, client: &Client) -> Result<(), OpsError> {
    let version = postgres::schema_version(client)
        .await
        .map_err(|e| pool.error(e))?;
    if version != db::latest_version() {
        return Err(OpsError::Db(pool.error(format!(
            "schema version {version}, this binary knows {}; run `todo-connect migrate` \
             with the matching binary first",
            db::latest_version()
        ))));
    }
    Ok(())
}

/// Deletes the data of sites whose every way in went more than `days` days ago (or only
/// reports it).
pub fn purge(url: &DatabaseUrl, days: u32, dry_run: bool) -> Result<PurgeReport, OpsError> {
    let pool = postgres::PgPool::new(url, 1)?;
    postgres::block_on(move || async move {
        let mut client = pool.command_client().await?;
        check_version(&pool, &client).await?;
        let cutoff = cutoff_time(days);
        let sites = purge_before(&mut client, cutoff, dry_run)
            .await
            .map_err(|e| pool.error(e))?;
        Ok(PurgeReport {
            cutoff: rfc3339(cutoff),
            sites,
            dry_run,
        })
    })
}

async fn purge_before(
    client: &mut Client,
    cutoff: time::OffsetDateTime,
    dry_run: bool,
) -> Result<Vec<PurgedSite>, tokio_postgres::Error> {
    let tx = client.transaction().await?;
    // The lock of `db::postgres::lock_sites` (which takes a pooled client's transaction).
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&postgres::SITES_LOCK])
        .await?;
    let mut sites = to_purge(read_sites(&tx, true, true).await?, cutoff);
    for site in &mut sites {
        let id = site.id;
        site.tasks = tx
            .execute("DELETE FROM tasks WHERE site_id = $1", &[&id])
            .await? as i64;
        site.users = tx
            .execute("DELETE FROM jwt_users WHERE site_id = $1", &[&id])
            .await? as i64;
        tx.execute(
            "DELETE FROM forge_retired_installations WHERE site_id = $1",
            &[&id],
        )
        .await?;
        tx.execute("DELETE FROM jwt_tokens WHERE id = $1", &[&id])
            .await?;
        let payload = postgres::site_payload(SiteId(id));
        tx.execute(
            "SELECT pg_notify($1, $2)",
            &[&postgres::SITE_CHANGES_CHANNEL, &payload],
        )
        .await?;
    }
    if dry_run {
        tx.rollback().await?;
    } else {
        tx.commit().await?;
    }
    Ok(sites)
}
