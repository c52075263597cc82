//! The Forge identity of a site in `jwt_tokens`: which site an installation or cloud id names
//! ([`resolve`], applying [`crate::site::forge_identity::decide`]), and the Forge way in's
//! state (`forge_state`, [`mark_installed`], [`mark_uninstalled`]). Each operation is one
//! function over both backends, its SQL written once.

use crate::db::{Db, Param, Stamp, Tx};
use crate::error::Result;
use crate::site::SiteId;
use crate::site::forge_identity::{Action, ForgeIdentity, Found, Known, Refused, Resolved, decide};

/// Whether an installation id was retired by a reinstall.
const RETIRED: &str = "SELECT EXISTS (SELECT 1 FROM forge_retired_installations
                                         WHERE installation_id = $1)";

/// The site whose current installation id this is, with what the rule compares.
const BY_INSTALLATION: &str = "SELECT id, cloud_id, api_base_url, forge_state IS NOT NULL
    FROM jwt_tokens WHERE installation_id = $1";

/// The site recorded with a cloud id.
const BY_CLOUD: &str = "SELECT id FROM jwt_tokens WHERE cloud_id = $1";

/// Records what a call tells about a known site ([`Action::Refresh`]): a cloud id learnt, a
/// new `apiBaseUrl`, or the Forge way in seen for the first time (first use installs). A
/// missing value erases nothing.
const REFRESH: &str = "UPDATE jwt_tokens SET cloud_id = COALESCE(cloud_id, $1),
        api_base_url = COALESCE($2, api_base_url),
        forge_installed_at = CASE WHEN forge_state IS NULL THEN $3 ELSE forge_installed_at END,
        installed = CASE WHEN forge_state IS NULL THEN true ELSE installed END,
        uninstalled_at = CASE WHEN forge_state IS NULL THEN NULL ELSE uninstalled_at END,
        forge_state = COALESCE(forge_state, 'installed'),
        updated_at = $3
    WHERE id = $4";

/// Retires a site's installation id before a new one replaces it.
const RETIRE: &str =
    "INSERT INTO forge_retired_installations (installation_id, site_id, retired_at)
    SELECT installation_id, id, $1 FROM jwt_tokens
    WHERE id = $2 AND installation_id IS NOT NULL AND installation_id <> $3
    ON CONFLICT (installation_id) DO NOTHING";

/// A new installation of the site: its id, and the Forge way in installed (again).
const REINSTALL: &str = "UPDATE jwt_tokens SET installation_id = $1,
        api_base_url = COALESCE($2, api_base_url), forge_state = 'installed',
        forge_installed_at = $3, forge_uninstalled_at = NULL, installed = true,
        uninstalled_at = NULL, updated_at = $3
    WHERE id = $4";

/// A new Forge-only site.
const CREATE: &str = "INSERT INTO jwt_tokens (addon_key, product_type, installation_id, cloud_id,
        api_base_url, installed, enabled, installed_at, updated_at, forge_state,
        forge_installed_at)
    VALUES ($1, $2, $3, $4, $5, true, true, $6, $6, 'installed', $6)
    RETURNING id";

/// The Forge way in installed (a Forge `installed` event, also after a Connect uninstall): the
/// site is in use, so a purge must not take it. Its Connect secret stays erased.
const MARK_INSTALLED: &str = "UPDATE jwt_tokens SET installed = true, uninstalled_at = NULL,
        forge_state = 'installed', forge_installed_at = $1, forge_uninstalled_at = NULL,
        updated_at = $1
    WHERE id = $2 AND (forge_state IS DISTINCT FROM 'installed' OR NOT installed)";

/// The site whose current installation id this is, and nothing else.
const FIND: &str = "SELECT id FROM jwt_tokens WHERE installation_id = $1";

/// The Forge way in gone (its `preUninstall`); the site stays installed while Connect is.
/// `COALESCE($1, uninstalled_at)` is `$1` (never NULL): the column beside it gives the
/// parameter its type inside the `CASE`, where PostgreSQL would otherwise take it for text.
const MARK_UNINSTALLED: &str = "UPDATE jwt_tokens SET forge_state = 'uninstalled',
        forge_uninstalled_at = $1,
        installed = (connect_state IS NOT DISTINCT FROM 'installed'),
        uninstalled_at = CASE WHEN connect_state = 'installed' THEN NULL
                              ELSE COALESCE($1, uninstalled_at) END,
        updated_at = $1
    WHERE id = $2 AND forge_state IS DISTINCT FROM 'uninstalled'";

/// The site a verified Forge identity belongs to, creating or updating rows as
/// [`decide`] says. One transaction holding the sites lock (SQLite's IMMEDIATE transaction,
/// PostgreSQL's advisory lock, which Connect installs take too), so concurrent first calls of
/// one installation create one site. A site that moved to a new installation id is notified
/// to the other replicas on commit, by its id, so they forget that site's cache entries only.
pub(crate) async fn resolve(
    db: &Db,
    addon_key: String,
    identity: ForgeIdentity,
) -> Result<std::result::Result<Resolved, Refused>> {
    let now = Stamp::now();
    db.write(async move |tx| {
        tx.lock_sites().await?;
        let found = read(tx, &identity).await?;
        let id = &identity.installation_id;
        let (site, moved) = match decide(&found, &identity) {
            Action::Refuse(why) => return Ok(Err(why)),
            Action::Use(site) => (site, false),
            Action::Refresh(site) => {
                let (cloud, api) = (&identity.cloud_id, &identity.api_base_url);
                tx.execute(REFRESH, &[cloud, api, &now, &site]).await?;
                (site, false)
            }
            Action::Reinstall(site) => {
                tx.execute(RETIRE, &[&now, &site, id]).await?;
                tx.execute(REINSTALL, &[id, &identity.api_base_url, &now, &site])
                    .await?;
                tx.notify_site_id_changed(site).await?;
                log::info!("site {site} now reached through Forge installation {id}");
                (site, true)
            }
            Action::Create => {
                let (cloud, api) = (&identity.cloud_id, &identity.api_base_url);
                let params: [&dyn Param; 6] = [&addon_key, &identity.product, id, cloud, api, &now];
                let site: SiteId = tx.value(CREATE, &params).await?;
                log::info!("new Forge site {site} ({id})");
                (site, false)
            }
        };
        Ok(Ok(Resolved { site, moved }))
    })
    .await
}

/// What [`decide`] compares, read inside the resolving transaction.
async fn read(tx: &Tx<'_>, identity: &ForgeIdentity) -> Result<Found> {
    let id = &identity.installation_id;
    let retired = tx.value(RETIRED, &[id]).await?;
    let by_installation = tx
        .query_opt(BY_INSTALLATION, &[id], |row| {
            Ok(Known {
                site: row.get(0)?,
                cloud_id: row.get(1)?,
                api_base_url: row.get(2)?,
                forge_seen: row.get(3)?,
            })
        })
        .await?;
    let by_cloud = match &identity.cloud_id {
        Some(cloud) => tx.query_opt(BY_CLOUD, &[cloud], |row| row.get(0)).await?,
        None => None,
    };
    Ok(Found {
        retired,
        by_installation,
        by_cloud,
    })
}

/// Records the Forge way in installed on `site` (a Forge `installed` event); `false` when it
/// already was.
pub(crate) async fn mark_installed(db: &Db, site: SiteId) -> Result<bool> {
    let now = Stamp::now();
    db.read(async move |tx| Ok(tx.execute(MARK_INSTALLED, &[&now, &site]).await? > 0))
        .await
}

/// Records the Forge way in gone for the site whose current installation id this is (its
/// `preUninstall`); `None` when no site has it (an unknown or retired installation: nothing
/// is created or changed). Idempotent. Under the sites lock, so a reinstall moving the site
/// to a new installation id cannot slip between finding the site and marking it.
pub(crate) async fn mark_uninstalled(db: &Db, installation_id: String) -> Result<Option<SiteId>> {
    let now = Stamp::now();
    db.write(async move |tx| {
        tx.lock_sites().await?;
        let site: Option<SiteId> = tx
            .query_opt(FIND, &[&installation_id], |row| row.get(0))
            .await?;
        if let Some(site) = site {
            tx.execute(MARK_UNINSTALLED, &[&now, &site]).await?;
        }
        Ok(site)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_statement_numbers_its_parameters_as_postgresql_does() {
        crate::db::assert_shared_sql(&[
            RETIRED,
            BY_INSTALLATION,
            BY_CLOUD,
            REFRESH,
            RETIRE,
            REINSTALL,
            CREATE,
            MARK_INSTALLED,
            FIND,
            MARK_UNINSTALLED,
        ]);
    }
}
