//! Installations (`jwt_tokens`): SQL and an in-memory cache so a verified request reads no
//! database row for its installation. (The accounts seen per site, `jwt_users`, are
//! [`crate::users`]'.)

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
use rusqlite::{Connection, OptionalExtension, params};

use super::jwt::Secret;
use crate::site::SiteId;
use crate::util::url::BaseUrl;

/// One active installation of the app on a site, as the request path needs it.
#[derive(Clone)]
pub struct Installation {
    /// The tenant this installation is.
    pub site: SiteId,
    pub client_key: String,
    pub base_url: BaseUrl,
    /// The `https://` origin of the site's display URL (a custom domain), when it has one.
    pub display_origin: Option<String>,
    pub oauth_client_id: Option<String>,
    pub enabled: bool,
    pub shared_secret: Secret,
    /// The HMAC key built once from the secret, not on every request.
    pub decoding_key: DecodingKey,
}

impl std::fmt::Debug for Installation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Installation")
            .field("site", &self.site)
            .field("client_key", &self.client_key)
            .field("base_url", &self.base_url)
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

/// What an `installed` callback tells us about a site.
#[derive(Debug, Clone)]
pub struct NewInstallation {
    pub client_key: String,
    pub shared_secret: Secret,
    pub base_url: String,
    pub display_url: Option<String>,
    pub product_type: String,
    pub description: Option<String>,
    pub oauth_client_id: Option<String>,
    pub server_version: Option<String>,
    pub plugins_version: Option<String>,
    pub sen: Option<String>,
    /// The Forge installation, once the app adopted Connect on Forge.
    pub installation_id: Option<String>,
    /// The site's cloud id, when the payload carries one.
    pub cloud_id: Option<String>,
}

/// Loads the installed installation (enabled or not) for a client key; `None` when unknown
/// or uninstalled.
pub fn find_installed(
    conn: &Connection,
    addon_key: &str,
    client_key: &str,
) -> rusqlite::Result<Option<Installation>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, client_key, base_url, display_url, oauth_client_id, enabled, shared_secret
         FROM jwt_tokens
         WHERE addon_key = ?1 AND client_key = ?2 AND installed = 1 AND shared_secret IS NOT NULL",
    )?;
    stmt.query_row(params![addon_key, client_key], |row| {
        Installation::from_row(
            row.get(0)?,
            row.get(1)?,
            row.get::<_, String>(2)?,
            row.get(3)?,
            row.get(4)?,
            row.get(5)?,
            row.get(6)?,
        )
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, e))
    })
    .optional()
}

impl Installation {
    /// An installation from its stored columns (either backend): the base URL parsed, the
    /// display URL reduced to its origin, the HMAC key built once.
    #[allow(clippy::too_many_arguments)]
    pub fn from_row(
        site: SiteId,
        client_key: String,
        base_url: String,
        display_url: Option<String>,
        oauth_client_id: Option<String>,
        enabled: bool,
        secret: String,
    ) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let decoding_key = DecodingKey::from_secret(secret.as_bytes())?;
        let base_url = BaseUrl::parse(&base_url, false)?;
        Ok(Installation {
            site,
            client_key,
            base_url,
            display_origin: display_url
                .and_then(|url| BaseUrl::parse(&url, true).ok())
                .map(|url| url.origin()),
            oauth_client_id,
            enabled,
            shared_secret: Secret::new(secret),
            decoding_key,
        })
    }
}

/// Inserts or re-installs a site: the secret rotates, the row is installed and enabled again.
/// Its tasks (kept across an uninstall) come back with it. Its Forge identity (installation
/// and cloud id) is written by [`record_forge_identity`], after any merge.
pub fn upsert_installed(
    conn: &Connection,
    addon_key: &str,
    new: &NewInstallation,
    now: &str,
) -> rusqlite::Result<SiteId> {
    conn.query_row(
        "INSERT INTO jwt_tokens (addon_key, client_key, shared_secret, base_url, display_url, product_type,
             description, oauth_client_id, server_version, plugins_version, sen,
             installed, enabled, installed_at, updated_at, uninstalled_at, connect_state,
             connect_installed_at, connect_uninstalled_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 1, 1, ?12, ?12, NULL, 'installed',
                 ?12, NULL)
         ON CONFLICT (addon_key, client_key) DO UPDATE SET
             shared_secret = excluded.shared_secret, base_url = excluded.base_url,
             display_url = excluded.display_url, product_type = excluded.product_type,
             description = excluded.description, oauth_client_id = excluded.oauth_client_id,
             server_version = excluded.server_version, plugins_version = excluded.plugins_version,
             sen = excluded.sen, installed = 1, enabled = 1, installed_at = excluded.installed_at,
             updated_at = excluded.updated_at, uninstalled_at = NULL,
             connect_state = 'installed', connect_installed_at = excluded.updated_at,
             connect_uninstalled_at = NULL
         RETURNING id",
        params![
            addon_key, new.client_key, new.shared_secret.expose(), new.base_url, new.display_url,
            new.product_type, new.description, new.oauth_client_id, new.server_version,
            new.plugins_version, new.sen, now
        ],
        |row| row.get(0),
    )
}

/// Whether another Connect site (one with a client key) already holds this Forge installation
/// id or cloud id.
pub fn forge_identity_taken(
    conn: &Connection,
    addon_key: &str,
    client_key: &str,
    installation_id: Option<&str>,
    cloud_id: Option<&str>,
) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM jwt_tokens
             WHERE client_key IS NOT NULL AND NOT (addon_key = ?1 AND client_key = ?2)
               AND (installation_id = ?3 OR cloud_id = ?4))",
        params![addon_key, client_key, installation_id, cloud_id],
        |row| row.get(0),
    )
}

/// A site known only through Forge (no client key), with what it recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForgeOnlySite {
    pub site: SiteId,
    pub cloud_id: Option<String>,
    pub api_base_url: Option<String>,
}

/// The Forge-only sites holding this installation id or cloud id: the same Confluence site,
/// met through Forge before its Connect install arrived.
pub fn forge_only_sites(
    conn: &Connection,
    installation_id: Option<&str>,
    cloud_id: Option<&str>,
) -> rusqlite::Result<Vec<ForgeOnlySite>> {
    conn.prepare(
        "SELECT id, cloud_id, api_base_url FROM jwt_tokens
         WHERE client_key IS NULL AND (installation_id = ?1 OR cloud_id = ?2) ORDER BY id",
    )?
    .query_map(params![installation_id, cloud_id], |row| {
        Ok(ForgeOnlySite {
            site: row.get(0)?,
            cloud_id: row.get(1)?,
            api_base_url: row.get(2)?,
        })
    })?
    .collect()
}

/// Records a site's Forge identity: a given installation id or cloud id replaces the stored
/// one (an installation id changes on reinstall), and an API base URL fills a missing one.
pub fn record_forge_identity(
    conn: &Connection,
    site: SiteId,
    installation_id: Option<&str>,
    cloud_id: Option<&str>,
    api_base_url: Option<&str>,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE jwt_tokens SET installation_id = COALESCE(?2, installation_id),
             cloud_id = COALESCE(?3, cloud_id), api_base_url = COALESCE(api_base_url, ?4)
         WHERE id = ?1",
        params![site, installation_id, cloud_id, api_base_url],
    )?;
    Ok(())
}

/// Marks the Connect way in uninstalled and erases its secret; tasks are kept. The site stays
/// installed while Forge still is (a Connect app retired after the move to Forge: its tasks
/// stay reachable through Forge, and `purge` does not take it). Idempotent.
pub fn mark_uninstalled(
    conn: &Connection,
    addon_key: &str,
    client_key: &str,
    now: &str,
) -> rusqlite::Result<bool> {
    let changed = conn.execute(
        "UPDATE jwt_tokens SET installed = CASE WHEN forge_state = 'installed' THEN 1 ELSE 0 END,
             enabled = 0, shared_secret = NULL,
             uninstalled_at = CASE WHEN forge_state = 'installed' THEN NULL ELSE ?3 END,
             connect_state = 'uninstalled', connect_uninstalled_at = ?3, updated_at = ?3
         WHERE addon_key = ?1 AND client_key = ?2 AND shared_secret IS NOT NULL",
        params![addon_key, client_key, now],
    )?;
    Ok(changed > 0)
}

/// Enables or disables an installed site.
pub fn set_enabled(
    conn: &Connection,
    addon_key: &str,
    client_key: &str,
    enabled: bool,
    now: &str,
) -> rusqlite::Result<bool> {
    let changed = conn.execute(
        "UPDATE jwt_tokens SET enabled = ?3, updated_at = ?4
         WHERE addon_key = ?1 AND client_key = ?2 AND installed = 1",
        params![addon_key, client_key, enabled, now],
    )?;
    Ok(changed > 0)
}

/// A lifecycle change to an installed site's row, for either backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SiteChange {
    /// `uninstalled`: erase the secret, keep the tasks.
    Uninstall,
    /// `enabled` (true) / `disabled` (false).
    Enable(bool),
}

impl SiteChange {
    /// Applies the change on SQLite; `false` when nothing changed (idempotent).
    pub fn apply(
        self,
        conn: &Connection,
        addon_key: &str,
        client_key: &str,
        now: &str,
    ) -> rusqlite::Result<bool> {
        match self {
            Self::Uninstall => mark_uninstalled(conn, addon_key, client_key, now),
            Self::Enable(on) => set_enabled(conn, addon_key, client_key, on, now),
        }
    }
}

/// Installed sites by client key, so a verified request reads no row for its installation.
///
/// Every lifecycle change calls [`InstallationCache::invalidate`] after its commit. A load that
/// raced with a change is not cached: loads carry the generation they started at.
///
/// With several replicas on PostgreSQL ([`InstallationCache::shared`]) the other replicas'
/// changes arrive as notifications: the cache trusts itself only while it is listening
/// ([`InstallationCache::listening`]), keeps nothing while the listener is down, and each entry
/// lives at most a short time-to-live, the safety net for a notification lost in between.
pub struct InstallationCache {
    inner: RwLock<Cached>,
    ttl: Option<Duration>,
}

struct Cached {
    generation: u64,
    /// Whether entries may be kept (always on a single server; while listening on replicas).
    trusted: bool,
    sites: HashMap<String, (Arc<Installation>, Instant)>,
}

impl Default for InstallationCache {
    fn default() -> Self {
        Self::new(true, None)
    }
}

impl InstallationCache {
    fn new(trusted: bool, ttl: Option<Duration>) -> Self {
        Self {
            inner: RwLock::new(Cached {
                generation: 0,
                trusted,
                sites: HashMap::new(),
            }),
            ttl,
        }
    }

    /// The cache of one replica among several: keeps nothing until [`Self::listening`], and
    /// nothing longer than `ttl`.
    pub fn shared(ttl: Duration) -> Self {
        Self::new(false, Some(ttl))
    }

    /// The cached installation, if any (and not older than the time-to-live).
    pub fn get(&self, client_key: &str) -> Option<Arc<Installation>> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let (found, at) = inner.sites.get(client_key)?;
        match self.ttl {
            Some(ttl) if at.elapsed() >= ttl => None,
            _ => Some(found.clone()),
        }
    }

    /// The generation to pass to [`InstallationCache::insert`] after a database read.
    pub fn generation(&self) -> u64 {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .generation
    }

    /// Caches a row read at `generation`, unless a lifecycle change happened since (or the
    /// cache cannot hear about changes right now).
    pub fn insert(&self, generation: u64, installation: Arc<Installation>) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if inner.generation == generation && inner.trusted {
            inner.sites.insert(
                installation.client_key.clone(),
                (installation, Instant::now()),
            );
        }
    }

    /// Forgets a site after a lifecycle change.
    pub fn invalidate(&self, client_key: &str) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        inner.generation += 1;
        inner.sites.remove(client_key);
    }

    /// Forgets everything; then keeps entries again only when `listening` (changes made
    /// elsewhere are heard), else reads every installation from the database.
    pub fn listening(&self, listening: bool) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        inner.generation += 1;
        inner.sites.clear();
        inner.trusted = listening;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(key: &str) -> Arc<Installation> {
        Arc::new(
            Installation::from_row(
                SiteId(1),
                key.into(),
                "https://example.atlassian.net/wiki".into(),
                None,
                None,
                true,
                "secret".into(),
            )
            .unwrap(),
        )
    }

    #[test]
    fn a_load_that_raced_a_change_is_not_cached() {
        let cache = InstallationCache::default();
        let generation = cache.generation();
        cache.invalidate("a");
        cache.insert(generation, site("a"));
        assert!(cache.get("a").is_none());
        cache.insert(cache.generation(), site("a"));
        assert!(cache.get("a").is_some());
    }

    #[test]
    fn a_replica_caches_only_while_it_hears_changes() {
        let cache = InstallationCache::shared(Duration::from_secs(60));
        cache.insert(cache.generation(), site("a"));
        assert!(cache.get("a").is_none(), "not listening yet");
        cache.listening(true);
        cache.insert(cache.generation(), site("a"));
        assert!(cache.get("a").is_some());
        cache.listening(false);
        assert!(
            cache.get("a").is_none(),
            "forgotten when the listener is lost"
        );
        cache.insert(cache.generation(), site("a"));
        assert!(cache.get("a").is_none(), "nothing kept while not listening");
    }

    #[test]
    fn a_replica_keeps_an_entry_no_longer_than_its_time_to_live() {
        let cache = InstallationCache::shared(Duration::ZERO);
        cache.listening(true);
        cache.insert(cache.generation(), site("a"));
        assert!(cache.get("a").is_none());
    }
}
