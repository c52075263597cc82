//! Installations and recorded users on PostgreSQL: the twin of each function in
//! [`super::installations`], plus [`notify_changed`], which tells every replica (inside the
//! changing transaction, so on commit) to forget its cached copy of a site.

use time::OffsetDateTime;

use super::installations::{ForgeOnlySite, Installation, NewInstallation, SiteChange};
use crate::db::postgres::{GenericClient, PgError};
use crate::site::SiteId;

/// The `LISTEN`/`NOTIFY` channel of lifecycle changes; the payload is the client key.
pub use crate::db::postgres::SITE_CHANGES_CHANNEL as CHANGES_CHANNEL;

/// The unique constraints a Forge identity may collide on.
const FORGE_IDENTITY_UNIQUE: [&str; 2] =
    ["jwt_tokens_installation_id_key", "jwt_tokens_cloud_id_key"];

/// Loads the installed installation (enabled or not) for a client key; `None` when unknown or
/// uninstalled.
pub async fn find_installed(
    client: &impl GenericClient,
    addon_key: &str,
    client_key: &str,
) -> Result<Option<Installation>, PgError> {
    let stmt = client
        .prepare_cached(
            "SELECT id, client_key, base_url, display_url, oauth_client_id, enabled, shared_secret
             FROM jwt_tokens
             WHERE addon_key = $1 AND client_key = $2 AND installed AND shared_secret IS NOT NULL",
        )
        .await?;
    let Some(row) = client.query_opt(&stmt, &[&addon_key, &client_key]).await? else {
        return Ok(None);
    };
    let installation = Installation::from_row(
        SiteId(row.try_get(0)?),
        row.try_get(1)?,
        row.try_get(2)?,
        row.try_get(3)?,
        row.try_get(4)?,
        row.try_get(5)?,
        row.try_get(6)?,
    );
    match installation {
        Ok(found) => Ok(Some(found)),
        Err(e) => {
            // A row the app cannot use (a base URL it no longer accepts): treated as unknown.
            log::warn!("installation of {client_key} is unusable: {e}");
            Ok(None)
        }
    }
}

/// Inserts or re-installs a site: the secret rotates, the row is installed and enabled again.
/// Its Forge identity is written by [`record_forge_identity`], after any merge.
pub async fn upsert_installed(
    client: &impl GenericClient,
    addon_key: &str,
    new: &NewInstallation,
    now: OffsetDateTime,
) -> Result<SiteId, PgError> {
    let row = client
        .query_one(
            "INSERT INTO jwt_tokens (addon_key, client_key, shared_secret, base_url, display_url,
                 product_type, description, oauth_client_id, server_version, plugins_version, sen,
                 installed, enabled, installed_at, updated_at, uninstalled_at, connect_state,
                 connect_installed_at, connect_uninstalled_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, true, true, $12, $12, NULL,
                     'installed', $12, NULL)
             ON CONFLICT (addon_key, client_key) DO UPDATE SET
                 shared_secret = excluded.shared_secret, base_url = excluded.base_url,
                 display_url = excluded.display_url, product_type = excluded.product_type,
                 description = excluded.description, oauth_client_id = excluded.oauth_client_id,
                 server_version = excluded.server_version,
                 plugins_version = excluded.plugins_version, sen = excluded.sen,
                 installed = true, enabled = true, installed_at = excluded.installed_at,
                 updated_at = excluded.updated_at, uninstalled_at = NULL,
                 connect_state = 'installed', connect_installed_at = excluded.updated_at,
                 connect_uninstalled_at = NULL
             RETURNING id",
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
        )
        .await?;
    Ok(SiteId(row.try_get(0)?))
}

/// Whether another Connect site (one with a client key) already holds this Forge installation
/// id or cloud id.
pub async fn forge_identity_taken(
    client: &impl GenericClient,
    addon_key: &str,
    client_key: &str,
    installation_id: Option<&str>,
    cloud_id: Option<&str>,
) -> Result<bool, PgError> {
    client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM jwt_tokens
                 WHERE client_key IS NOT NULL AND NOT (addon_key = $1 AND client_key = $2)
                   AND (installation_id = $3 OR cloud_id = $4))",
            &[&addon_key, &client_key, &installation_id, &cloud_id],
        )
        .await?
        .try_get(0)
}

/// The Forge-only sites holding this installation id or cloud id.
pub async fn forge_only_sites(
    client: &impl GenericClient,
    installation_id: Option<&str>,
    cloud_id: Option<&str>,
) -> Result<Vec<ForgeOnlySite>, PgError> {
    client
        .query(
            "SELECT id, cloud_id, api_base_url FROM jwt_tokens
             WHERE client_key IS NULL AND (installation_id = $1 OR cloud_id = $2) ORDER BY id",
            &[&installation_id, &cloud_id],
        )
        .await?
        .iter()
        .map(|row| {
            Ok(ForgeOnlySite {
                site: SiteId(row.try_get(0)?),
                cloud_id: row.try_get(1)?,
                api_base_url: row.try_get(2)?,
            })
        })
        .collect()
}

/// Records a site's Forge identity (see the SQLite function of the same name).
pub async fn record_forge_identity(
    client: &impl GenericClient,
    site: SiteId,
    installation_id: Option<&str>,
    cloud_id: Option<&str>,
    api_base_url: Option<&str>,
) -> Result<(), PgError> {
    client
        .execute(
            "UPDATE jwt_tokens SET installation_id = COALESCE($2, installation_id),
                 cloud_id = COALESCE($3, cloud_id), api_base_url = COALESCE(api_base_url, $4)
             WHERE id = $1",
            &[&site.0, &installation_id, &cloud_id, &api_base_url],
        )
        .await?;
    Ok(())
}

/// Applies a lifecycle change; `false` when nothing changed (idempotent).
pub async fn apply_change(
    client: &impl GenericClient,
    change: SiteChange,
    addon_key: &str,
    client_key: &str,
    now: OffsetDateTime,
) -> Result<bool, PgError> {
    let changed = match change {
        SiteChange::Uninstall => client
            .execute(
                "UPDATE jwt_tokens SET installed = (forge_state IS NOT DISTINCT FROM 'installed'),
                         enabled = false, shared_secret = NULL,
                         uninstalled_at = CASE WHEN forge_state = 'installed' THEN NULL ELSE $3::timestamptz END,
                         connect_state = 'uninstalled', connect_uninstalled_at = $3,
                         updated_at = $3
                     WHERE addon_key = $1 AND client_key = $2 AND shared_secret IS NOT NULL",
                &[&addon_key, &client_key, &now],
            )
            .await?,
        SiteChange::Enable(enabled) => {
            client
                .execute(
                    "UPDATE jwt_tokens SET enabled = $3, updated_at = $4
                     WHERE addon_key = $1 AND client_key = $2 AND installed",
                    &[&addon_key, &client_key, &enabled, &now],
                )
                .await?
        }
    };
    Ok(changed > 0)
}

/// Tells every replica to forget its cached copy of the site, once the transaction commits.
pub async fn notify_changed(client: &impl GenericClient, client_key: &str) -> Result<(), PgError> {
    crate::db::postgres::notify_site_changed(client, client_key).await
}

/// Whether an error is the unique violation of a Forge installation id or cloud id (a
/// concurrent change of another site with the same id got there first).
pub fn is_forge_identity_conflict(err: &PgError) -> bool {
    err.as_db_error()
        .and_then(|e| e.constraint())
        .is_some_and(|c| FORGE_IDENTITY_UNIQUE.contains(&c))
}
