//! The Connect identity of a site (`jwt_tokens`: client key, secret, lifecycle state) on either
//! backend: the installation a request may use and the install (which may merge the Forge-only
//! rows of the same site); uninstall, enable/disable ([`change`]) and hearing other replicas'
//! changes ([`hear_changes`]) are in `connect/changes.rs`.
//! What the rows mean is decided in [`crate::site::installed`].

use crate::connect::installations::{Installation, NewInstallation};
use crate::db::{Db, Stamp, Tx};
use crate::error::Result;
use crate::site::SiteId;
use crate::site::installed::{self, ForgeOnlySite, InstallRefused, StoredConnect};

mod changes;

pub(crate) use changes::{Heard, SiteChange, change, hear_changes, replicated};

/// A site's Connect columns by client key (the unique key: one indexed row at most).
const FIND_CONNECT: &str = "SELECT id, client_key, base_url, display_url, installed, enabled,
         shared_secret
     FROM jwt_tokens WHERE addon_key = $1 AND client_key = $2";

/// Inserts or re-installs a site: the secret rotates, the row is installed and enabled again,
/// its tasks (kept across an uninstall) come back with it.
const UPSERT_INSTALLED: &str = "INSERT INTO jwt_tokens (addon_key, client_key, shared_secret,
         base_url, display_url, product_type, description, oauth_client_id, server_version,
         plugins_version, sen, installed, enabled, installed_at, updated_at, uninstalled_at,
         connect_state, connect_installed_at, connect_uninstalled_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, true, true, $12, $12, NULL,
             'installed', $12, NULL)
     ON CONFLICT (addon_key, client_key) DO UPDATE SET
         shared_secret = excluded.shared_secret, base_url = excluded.base_url,
         display_url = excluded.display_url, product_type = excluded.product_type,
         description = excluded.description, oauth_client_id = excluded.oauth_client_id,
         server_version = excluded.server_version, plugins_version = excluded.plugins_version,
         sen = excluded.sen, installed = true, enabled = true,
         installed_at = excluded.installed_at, updated_at = excluded.updated_at,
         uninstalled_at = NULL, connect_state = 'installed',
         connect_installed_at = excluded.updated_at, connect_uninstalled_at = NULL
     RETURNING id";

/// Whether another Connect site (another client key) holds this installation id or cloud id.
const FORGE_IDENTITY_TAKEN: &str = "SELECT EXISTS (SELECT 1 FROM jwt_tokens
         WHERE client_key IS NOT NULL AND NOT (addon_key = $1 AND client_key = $2)
           AND (installation_id = $3 OR cloud_id = $4))";

/// The Forge-only sites (no client key) holding this installation id or cloud id.
const FORGE_ONLY_SITES: &str = "SELECT id, cloud_id, api_base_url FROM jwt_tokens
     WHERE client_key IS NULL AND (installation_id = $1 OR cloud_id = $2) ORDER BY id";

/// Records a site's Forge identity: a given installation id or cloud id replaces the stored
/// one (an installation id changes on reinstall); an API base URL fills a missing one.
const RECORD_FORGE_IDENTITY: &str = "UPDATE jwt_tokens SET
         installation_id = COALESCE($1, installation_id), cloud_id = COALESCE($2, cloud_id),
         api_base_url = COALESCE(api_base_url, $3)
     WHERE id = $4";

/// The installation a request from `client_key` may use; `None` when the site is unknown,
/// uninstalled, or its row unusable ([`installed::usable_installation`]: the same 401 on
/// both backends).
pub(crate) async fn find_installed(
    db: &Db,
    addon_key: &str,
    client_key: &str,
) -> Result<Option<Installation>> {
    let (addon_key, client_key) = (addon_key.to_string(), client_key.to_string());
    let stored = db
        .read(async move |tx| {
            tx.query_opt(FIND_CONNECT, &[&addon_key, &client_key], |row| {
                Ok(StoredConnect {
                    site: row.get(0)?,
                    client_key: row.get(1)?,
                    base_url: row.get(2)?,
                    display_url: row.get(3)?,
                    installed: row.get(4)?,
                    enabled: row.get(5)?,
                    shared_secret: row.get(6)?,
                })
            })
            .await
        })
        .await?;
    Ok(stored.and_then(installed::usable_installation))
}

/// Installs (or re-installs) a site in one transaction under the sites lock: refuse a Forge
/// identity another Connect site holds, merge the Forge-only rows of the same site into this
/// one ([`installed::install_plan`]), record the identity, tell the other replicas. Returns the
/// sites whose identities changed (this one and those merged into it).
pub async fn install(
    db: &Db,
    addon_key: &str,
    new: NewInstallation,
) -> Result<std::result::Result<Vec<SiteId>, InstallRefused>> {
    let addon_key = addon_key.to_string();
    let now = Stamp::now();
    db.write(async move |tx| install_in(tx, &addon_key, &new, now).await)
        .await
}

/// [`install`] inside a transaction the caller runs: what the load test's seeding
/// (`crate::seeding`) calls for each site of a batch, so a seeded site is exactly an installed
/// one.
pub(crate) async fn install_in(
    tx: &Tx<'_>,
    addon_key: &str,
    new: &NewInstallation,
    now: Stamp,
) -> Result<std::result::Result<Vec<SiteId>, InstallRefused>> {
    tx.lock_sites().await?;
    let (installation_id, cloud_id) = (new.installation_id.as_deref(), new.cloud_id.as_deref());
    let taken: bool = tx
        .value(
            FORGE_IDENTITY_TAKEN,
            &[&addon_key, &new.client_key, &installation_id, &cloud_id],
        )
        .await?;
    let found = tx
        .query(FORGE_ONLY_SITES, &[&installation_id, &cloud_id], |row| {
            Ok(ForgeOnlySite {
                site: row.get(0)?,
                cloud_id: row.get(1)?,
                api_base_url: row.get(2)?,
            })
        })
        .await?;
    let merged = match installed::install_plan(taken, found) {
        Ok(merged) => merged,
        Err(refused) => return Ok(Err(refused)),
    };
    let site = upsert_installed(tx, addon_key, new, now).await?;
    for forge_only in &merged {
        super::merge::merge_site(tx, forge_only.site, site).await?;
        log::info!(
            "site {} merged into {site}: one site, reached both ways",
            forge_only.site
        );
        let (cloud, api) = (&forge_only.cloud_id, &forge_only.api_base_url);
        tx.execute(RECORD_FORGE_IDENTITY, &[&None::<&str>, cloud, api, &site])
            .await?;
    }
    tx.execute(
        RECORD_FORGE_IDENTITY,
        &[&installation_id, &cloud_id, &None::<&str>, &site],
    )
    .await?;
    tx.notify_site_changed(&new.client_key).await?;
    let moved = installed::moved_sites(site, &merged);
    for changed in &moved {
        let payload = crate::db::postgres::site_payload(*changed);
        tx.notify_site_changed(&payload).await?;
    }
    Ok(Ok(moved))
}

async fn upsert_installed(
    tx: &Tx<'_>,
    addon_key: &str,
    new: &NewInstallation,
    now: Stamp,
) -> Result<SiteId> {
    let row = tx
        .query_opt(
            UPSERT_INSTALLED,
            &[
                &addon_key,
                &new.client_key,
                &new.shared_secret.expose(),
                &new.base_url,
                &new.display_url,
                &new.product_type,
                &new.description,
                &new.oauth_client_id,
                &new.server_version,
                &new.plugins_version,
                &new.sen,
                &now,
            ],
            |row| row.get(0),
        )
        .await?;
    row.ok_or_else(|| crate::error::AppError::internal("the install upsert returned no row"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shared_statements_number_their_parameters_as_postgresql_does() {
        crate::db::assert_shared_sql(&[
            FIND_CONNECT,
            UPSERT_INSTALLED,
            FORGE_IDENTITY_TAKEN,
            FORGE_ONLY_SITES,
            RECORD_FORGE_IDENTITY,
        ]);
    }
}
