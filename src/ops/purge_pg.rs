//! The PostgreSQL twin of [`super::purge`]: the same selection (uninstalled, and longer ago
//! than the cutoff), the same deletions in one transaction, the same report. Safe beside
//! running replicas: a site reinstalled meanwhile is installed again and never matches, and
//! the rows are locked (`FOR UPDATE`) so a reinstall racing the purge waits for it.

use tokio_postgres::Client;

use super::OpsError;
use super::purge::{PurgeReport, PurgedSite, cutoff_time};
use crate::config::DatabaseUrl;
use crate::db::{self, postgres};
use crate::util::time::rfc3339;

/// Deletes the data of sites uninstalled more than `days` days ago (or only reports it).
pub fn purge(url: &DatabaseUrl, days: u32, dry_run: bool) -> Result<PurgeReport, OpsError> {
    let pool = postgres::PgPool::new(url, 1)?;
    postgres::block_on(move || async move {
        let mut client = pool.command_client().await?;
        let version = postgres::schema_version(&client)
            .await
            .map_err(|e| pool.error(e))?;
        if version != db::latest_version() {
            return Err(OpsError::Db(pool.error(format!(
                "schema version {version}, this binary knows {}; run `todo-connect migrate` \
                 with the matching binary first",
                db::latest_version()
            ))));
        }
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
    let expired = tx
        .query(
            "SELECT id, client_key, base_url, uninstalled_at FROM jwt_tokens
             WHERE NOT installed AND uninstalled_at IS NOT NULL AND uninstalled_at < $1
             ORDER BY id FOR UPDATE",
            &[&cutoff],
        )
        .await?;
    let mut sites = Vec::with_capacity(expired.len());
    for row in expired {
        let id: i64 = row.try_get(0)?;
        let tasks = tx
            .execute("DELETE FROM tasks WHERE site_id = $1", &[&id])
            .await? as i64;
        let users = tx
            .execute("DELETE FROM jwt_users WHERE site_id = $1", &[&id])
            .await? as i64;
        tx.execute(
            "DELETE FROM jwt_tokens WHERE id = $1 AND NOT installed",
            &[&id],
        )
        .await?;
        sites.push(PurgedSite {
            client_key: row.try_get(1)?,
            base_url: row.try_get(2)?,
            uninstalled_at: rfc3339(row.try_get(3)?),
            tasks,
            users,
        });
    }
    if dry_run {
        tx.rollback().await?;
    } else {
        tx.commit().await?;
    }
    Ok(sites)
}
