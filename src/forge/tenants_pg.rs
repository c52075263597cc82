//! Which site a Forge call belongs to, on PostgreSQL: the twin of [`super::tenants::resolve`]
//! and [`super::tenants::mark_installed`], same rules, same results. Resolutions and Connect
//! installs are serialised by one advisory lock (SQLite's IMMEDIATE transaction), so concurrent
//! first calls of one installation create one site; a change other replicas' caches must see
//! (a site that moved to a new installation, a site installed again) is notified on commit.

use deadpool_postgres::GenericClient;
use time::OffsetDateTime;

use super::fit::Identity;
use super::tenants::{Resolved, TwoSites};
use crate::db::postgres::{PgClient, PgError, lock_sites, notify_site_changed as notify_changed};
use crate::site::SiteId;

/// The site a verified Forge identity belongs to, creating or updating rows as the rules say.
pub async fn resolve(
    client: &mut PgClient,
    addon_key: &str,
    identity: &Identity,
    now: OffsetDateTime,
) -> Result<Result<Resolved, TwoSites>, PgError> {
    let tx = client.transaction().await?;
    lock_sites(&tx).await?;
    let by_installation: Option<(SiteId, Option<String>)> = tx
        .query_opt(
            "SELECT id, cloud_id FROM jwt_tokens WHERE installation_id = $1",
            &[&identity.installation_id],
        )
        .await?
        .map(|row| Ok::<_, PgError>((SiteId(row.try_get(0)?), row.try_get(1)?)))
        .transpose()?;
    let by_cloud: Option<SiteId> = match &identity.cloud_id {
        Some(cloud) => tx
            .query_opt("SELECT id FROM jwt_tokens WHERE cloud_id = $1", &[cloud])
            .await?
            .map(|row| row.try_get(0).map(SiteId))
            .transpose()?,
        None => None,
    };
    let mut moved = false;
    let site = match (by_installation, by_cloud) {
        (Some((a, _)), Some(b)) if a != b => return Ok(Err(TwoSites)),
        (Some((_, Some(known))), _) if identity.cloud_id.as_ref().is_some_and(|c| *c != known) => {
            return Ok(Err(TwoSites));
        }
        (Some((site, _)), _) => {
            tx.execute(
                "UPDATE jwt_tokens SET cloud_id = COALESCE(cloud_id, $2),
                     api_base_url = COALESCE($3, api_base_url), updated_at = $4
                 WHERE id = $1 AND (cloud_id IS NULL AND $2::text IS NOT NULL
                     OR $3::text IS NOT NULL AND api_base_url IS DISTINCT FROM $3)",
                &[
                    &site.0,
                    &identity.cloud_id,
                    &identity.confluence_api_base_url,
                    &now,
                ],
            )
            .await?;
            site
        }
        (None, Some(site)) => {
            tx.execute(
                "UPDATE jwt_tokens SET installation_id = $2,
                     api_base_url = COALESCE($3, api_base_url), updated_at = $4
                 WHERE id = $1",
                &[
                    &site.0,
                    &identity.installation_id,
                    &identity.confluence_api_base_url,
                    &now,
                ],
            )
            .await?;
            log::info!(
                "site {site} now reached through Forge installation {}",
                identity.installation_id
            );
            moved = true;
            site
        }
        (None, None) => {
            let row = tx
                .query_one(
                    "INSERT INTO jwt_tokens (addon_key, product_type, installation_id, cloud_id,
                         api_base_url, installed, enabled, installed_at, updated_at)
                     VALUES ($1, $6, $2, $3, $4, true, true, $5, $5)
                     RETURNING id",
                    &[
                        &addon_key,
                        &identity.installation_id,
                        &identity.cloud_id,
                        &identity.confluence_api_base_url,
                        &now,
                        &super::tenants::first_product(identity),
                    ],
                )
                .await?;
            let site = SiteId(row.try_get(0)?);
            log::info!("new Forge site {site} ({})", identity.installation_id);
            site
        }
    };
    if moved {
        notify_changed(&tx, "").await?;
    }
    tx.commit().await?;
    Ok(Ok(Resolved { site, moved }))
}

/// Marks a site installed again (a Forge `installed` event after a Connect uninstall).
pub async fn mark_installed(
    client: &mut PgClient,
    site: SiteId,
    now: OffsetDateTime,
) -> Result<bool, PgError> {
    let tx = client.transaction().await?;
    let changed = tx
        .execute(
            "UPDATE jwt_tokens SET installed = true, uninstalled_at = NULL, updated_at = $2
             WHERE id = $1 AND NOT installed",
            &[&site.0, &now],
        )
        .await?
        > 0;
    if changed {
        notify_changed(&tx, "").await?;
    }
    tx.commit().await?;
    Ok(changed)
}
