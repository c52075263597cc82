//! Installations and recorded users on PostgreSQL: the twin of each function in
//! [`super::installations`], plus [`notify_changed`], which tells every replica (inside the
//! changing transaction, so on commit) to forget its cached copy of a site.

use time::OffsetDateTime;

use super::installations::{Installation, NewInstallation, SiteChange};
use crate::db::postgres::{GenericClient, PgError};
use crate::site::SiteId;

/// The `LISTEN`/`NOTIFY` channel of lifecycle changes; the payload is the client key.
pub const CHANGES_CHANNEL: &str = "todo_connect_installations";

/// The unique constraint a Forge installation id may collide on.
pub const INSTALLATION_ID_UNIQUE: &str = "jwt_tokens_installation_id_key";

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
                 installation_id, installed, enabled, installed_at, updated_at, uninstalled_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, true, true, $13, $13, NULL)
             ON CONFLICT (addon_key, client_key) DO UPDATE SET
                 shared_secret = excluded.shared_secret, base_url = excluded.base_url,
                 display_url = excluded.display_url, product_type = excluded.product_type,
                 description = excluded.description, oauth_client_id = excluded.oauth_client_id,
                 server_version = excluded.server_version,
                 plugins_version = excluded.plugins_version, sen = excluded.sen,
                 installation_id = COALESCE(excluded.installation_id, jwt_tokens.installation_id),
                 installed = true, enabled = true, installed_at = excluded.installed_at,
                 updated_at = excluded.updated_at, uninstalled_at = NULL
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
                &new.installation_id,
                &now,
            ],
        )
        .await?;
    Ok(SiteId(row.try_get(0)?))
}

/// Whether another site already holds this Forge installation id.
pub async fn installation_id_taken(
    client: &impl GenericClient,
    addon_key: &str,
    client_key: &str,
    installation_id: &str,
) -> Result<bool, PgError> {
    client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM jwt_tokens WHERE installation_id = $1
                            AND NOT (addon_key = $2 AND client_key = $3))",
            &[&installation_id, &addon_key, &client_key],
        )
        .await?
        .try_get(0)
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
                "UPDATE jwt_tokens SET installed = false, enabled = false, shared_secret = NULL,
                         uninstalled_at = $3, updated_at = $3
                     WHERE addon_key = $1 AND client_key = $2 AND installed",
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
    client
        .execute("SELECT pg_notify($1, $2)", &[&CHANGES_CHANNEL, &client_key])
        .await?;
    Ok(())
}

/// Records that an account used the app on a site.
pub async fn record_user(
    client: &impl GenericClient,
    site: SiteId,
    account_id: &str,
    now: OffsetDateTime,
) -> Result<(), PgError> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO jwt_users (site_id, account_id, first_seen_at, last_seen_at)
             VALUES ($1, $2, $3, $3)
             ON CONFLICT (site_id, account_id) DO UPDATE SET last_seen_at = excluded.last_seen_at",
        )
        .await?;
    client.execute(&stmt, &[&site.0, &account_id, &now]).await?;
    Ok(())
}

/// Whether an error is the unique violation of a Forge installation id (a concurrent install
/// of another site with the same id got there first).
pub fn is_installation_id_conflict(err: &PgError) -> bool {
    err.as_db_error()
        .is_some_and(|e| e.constraint() == Some(INSTALLATION_ID_UNIQUE))
}
