//! Which site a Forge call belongs to, on PostgreSQL: the twin of [`super::tenants`], same
//! rules, same results. Resolutions and Connect installs are serialised by one advisory lock
//! (SQLite's IMMEDIATE transaction), so concurrent first calls of one installation create one
//! site; a site that moved to a new installation id is notified on commit, by its id, so other
//! replicas forget that site's cache entries only.

use deadpool_postgres::GenericClient;
use time::OffsetDateTime;

use super::fit::Identity;
use super::tenants::{Refused, Resolved};
use crate::db::postgres::{PgClient, PgError, lock_sites, notify_site_changed, site_payload};
use crate::site::SiteId;

const REFRESH: &str = "UPDATE jwt_tokens SET cloud_id = COALESCE(cloud_id, $2),
        api_base_url = COALESCE($3, api_base_url),
        forge_state = COALESCE(forge_state, 'installed'),
        forge_installed_at = CASE WHEN forge_state IS NULL THEN $4::timestamptz
                                  ELSE forge_installed_at END,
        installed = CASE WHEN forge_state IS NULL THEN true ELSE installed END,
        uninstalled_at = CASE WHEN forge_state IS NULL THEN NULL ELSE uninstalled_at END,
        updated_at = $4
    WHERE id = $1 AND (cloud_id IS NULL AND $2::text IS NOT NULL
                       OR $3::text IS NOT NULL AND api_base_url IS DISTINCT FROM $3
                       OR forge_state IS NULL)";

const RETIRE: &str =
    "INSERT INTO forge_retired_installations (installation_id, site_id, retired_at)
    SELECT installation_id, id, $2 FROM jwt_tokens
    WHERE id = $1 AND installation_id IS NOT NULL AND installation_id <> $3
    ON CONFLICT (installation_id) DO NOTHING";

const REINSTALL: &str = "UPDATE jwt_tokens SET installation_id = $2,
        api_base_url = COALESCE($3, api_base_url), forge_state = 'installed',
        forge_installed_at = $4, forge_uninstalled_at = NULL, installed = true,
        uninstalled_at = NULL, updated_at = $4
    WHERE id = $1";

/// The site a verified Forge identity belongs to, creating or updating rows as the rules say.
pub async fn resolve(
    client: &mut PgClient,
    addon_key: &str,
    identity: &Identity,
    now: OffsetDateTime,
) -> Result<Result<Resolved, Refused>, PgError> {
    let tx = client.transaction().await?;
    lock_sites(&tx).await?;
    let id = &identity.installation_id;
    let retired: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM forge_retired_installations WHERE installation_id = $1)",
            &[id],
        )
        .await?
        .try_get(0)?;
    if retired {
        return Ok(Err(Refused::Retired));
    }
    let by_installation: Option<(SiteId, Option<String>)> = tx
        .query_opt(
            "SELECT id, cloud_id FROM jwt_tokens WHERE installation_id = $1",
            &[id],
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
        (Some((a, _)), Some(b)) if a != b => return Ok(Err(Refused::TwoSites)),
        (Some((_, Some(known))), _) if identity.cloud_id.as_ref().is_some_and(|c| *c != known) => {
            return Ok(Err(Refused::TwoSites));
        }
        (Some((site, _)), _) => {
            let api = &identity.confluence_api_base_url;
            tx.execute(REFRESH, &[&site.0, &identity.cloud_id, api, &now])
                .await?;
            site
        }
        (None, Some(site)) => {
            tx.execute(RETIRE, &[&site.0, &now, id]).await?;
            tx.execute(
                REINSTALL,
                &[&site.0, id, &identity.confluence_api_base_url, &now],
            )
            .await?;
            log::info!("site {site} now reached through Forge installation {id}");
            moved = true;
            site
        }
        (None, None) => {
            let row = tx
                .query_one(
                    "INSERT INTO jwt_tokens (addon_key, product_type, installation_id, cloud_id,
                         api_base_url, installed, enabled, installed_at, updated_at, forge_state,
                         forge_installed_at)
                     VALUES ($1, $6, $2, $3, $4, true, true, $5, $5, 'installed', $5)
                     RETURNING id",
                    &[
                        &addon_key,
                        id,
                        &identity.cloud_id,
                        &identity.confluence_api_base_url,
                        &now,
                        &super::tenants::first_product(identity),
                    ],
                )
                .await?;
            let site = SiteId(row.try_get(0)?);
            log::info!("new Forge site {site} ({id})");
            site
        }
    };
    if moved {
        notify_site_changed(&tx, &site_payload(site)).await?;
    }
    tx.commit().await?;
    Ok(Ok(Resolved { site, moved }))
}

/// The site whose current installation id this is (see the SQLite function of the same name).
pub async fn find(
    client: &impl GenericClient,
    installation_id: &str,
) -> Result<Option<SiteId>, PgError> {
    client
        .query_opt(
            "SELECT id FROM jwt_tokens WHERE installation_id = $1",
            &[&installation_id],
        )
        .await?
        .map(|row| row.try_get(0).map(SiteId))
        .transpose()
}

/// Marks the Forge way in installed (a Forge `installed` event).
pub async fn mark_installed(
    client: &impl GenericClient,
    site: SiteId,
    now: OffsetDateTime,
) -> Result<bool, PgError> {
    let changed = client
        .execute(
            "UPDATE jwt_tokens SET installed = true, uninstalled_at = NULL,
                 forge_state = 'installed', forge_installed_at = $2,
                 forge_uninstalled_at = NULL, updated_at = $2
             WHERE id = $1 AND (forge_state IS DISTINCT FROM 'installed' OR NOT installed)",
            &[&site.0, &now],
        )
        .await?;
    Ok(changed > 0)
}

/// Marks the Forge way in gone (its `preUninstall`).
pub async fn mark_uninstalled(
    client: &impl GenericClient,
    site: SiteId,
    now: OffsetDateTime,
) -> Result<bool, PgError> {
    let changed = client
        .execute(
            "UPDATE jwt_tokens SET forge_state = 'uninstalled', forge_uninstalled_at = $2,
                 installed = (connect_state IS NOT DISTINCT FROM 'installed'),
                 uninstalled_at = CASE WHEN connect_state = 'installed' THEN NULL ELSE $2::timestamptz END,
                 updated_at = $2
             WHERE id = $1 AND forge_state IS DISTINCT FROM 'uninstalled'",
            &[&site.0, &now],
        )
        .await?;
    Ok(changed > 0)
}
