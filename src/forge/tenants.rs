//! Which site a Forge call belongs to: SQL over `jwt_tokens` and an in-memory cache, so a
//! verified request reads no row for its site.
//!
//! Matching, in order: the token's installation id names a known site; else its cloud id names a
//! known site (a reinstall, or a Connect site that adopted Forge), which then records the new
//! installation id; else a new Forge-only site is created, keyed by installation id. Both ids
//! are unique columns, so a token can never reach two sites; a token whose installation id and
//! cloud id name two different sites is refused.

use std::collections::HashMap;
use std::sync::RwLock;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::fit::Identity;
use crate::site::{SiteChanges, SiteId};

/// A token whose installation id and cloud id name two different sites (or a site recorded
/// with another cloud id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TwoSites;

/// The site a verified Forge identity belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    pub site: SiteId,
    /// The site now answers to a new installation id (a reinstall or an adoption): caches
    /// that map identities to sites must forget what they hold.
    pub moved: bool,
}

/// The site a verified Forge identity belongs to, creating or updating rows as the rules say.
/// One IMMEDIATE transaction, so concurrent first calls of one installation create one site.
pub fn resolve(
    conn: &mut Connection,
    addon_key: &str,
    identity: &Identity,
    now: &str,
) -> rusqlite::Result<Result<Resolved, TwoSites>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let by_installation: Option<(SiteId, Option<String>)> = tx
        .query_row(
            "SELECT id, cloud_id FROM jwt_tokens WHERE installation_id = ?1",
            [&identity.installation_id],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    let by_cloud: Option<SiteId> = match &identity.cloud_id {
        Some(cloud) => tx
            .query_row(
                "SELECT id FROM jwt_tokens WHERE cloud_id = ?1",
                [cloud],
                |row| row.get(0),
            )
            .optional()?,
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
                "UPDATE jwt_tokens SET cloud_id = COALESCE(cloud_id, ?2),
                     api_base_url = COALESCE(?3, api_base_url), updated_at = ?4
                 WHERE id = ?1 AND (cloud_id IS NULL AND ?2 IS NOT NULL
                                    OR ?3 IS NOT NULL AND api_base_url IS NOT ?3)",
                params![
                    site,
                    identity.cloud_id,
                    identity.confluence_api_base_url,
                    now
                ],
            )?;
            site
        }
        (None, Some(site)) => {
            tx.execute(
                "UPDATE jwt_tokens SET installation_id = ?2,
                     api_base_url = COALESCE(?3, api_base_url), updated_at = ?4
                 WHERE id = ?1",
                params![
                    site,
                    identity.installation_id,
                    identity.confluence_api_base_url,
                    now
                ],
            )?;
            log::info!(
                "site {site} now reached through Forge installation {}",
                identity.installation_id
            );
            moved = true;
            site
        }
        (None, None) => {
            let site = tx.query_row(
                "INSERT INTO jwt_tokens (addon_key, product_type, installation_id, cloud_id,
                     api_base_url, installed, enabled, installed_at, updated_at)
                 VALUES (?1, ?6, ?2, ?3, ?4, 1, 1, ?5, ?5)
                 RETURNING id",
                params![
                    addon_key,
                    identity.installation_id,
                    identity.cloud_id,
                    identity.confluence_api_base_url,
                    now,
                    first_product(identity)
                ],
                |row| row.get(0),
            )?;
            log::info!("new Forge site {site} ({})", identity.installation_id);
            site
        }
    };
    tx.commit()?;
    Ok(Ok(Resolved { site, moved }))
}

/// The product a Forge-first site is recorded under: the one its first call came from (a Jira
/// panel may be the first to call), Confluence when the token names none (the app's required
/// product).
pub fn first_product(identity: &Identity) -> &'static str {
    identity
        .product
        .unwrap_or(crate::forge::Product::Confluence)
        .as_str()
}

/// Marks a site installed again (a Forge `installed` event after a Connect uninstall): it is in
/// use, so a purge of uninstalled sites must not take it. Its Connect secret stays erased.
pub fn mark_installed(conn: &Connection, site: SiteId, now: &str) -> rusqlite::Result<bool> {
    let changed = conn.execute(
        "UPDATE jwt_tokens SET installed = 1, uninstalled_at = NULL, updated_at = ?2
         WHERE id = ?1 AND installed = 0",
        params![site, now],
    )?;
    Ok(changed > 0)
}

/// What the cache keeps per installation id: its site and the site's cloud id.
type Entry = (SiteId, Option<String>);

/// Sites by installation id. Filled after a database read, emptied whenever the shared
/// [`SiteChanges`] count moves (any lifecycle change, through Connect or Forge); a fill that
/// raced with a change is not kept.
pub struct TenantCache {
    changes: SiteChanges,
    inner: RwLock<(u64, HashMap<String, Entry>)>,
}

/// Installation ids kept at most; past it the cache starts over.
const MAX_ENTRIES: usize = 100_000;

impl TenantCache {
    /// An empty cache following `changes`.
    pub fn new(changes: SiteChanges) -> Self {
        let at = changes.current();
        Self {
            changes,
            inner: RwLock::new((at, HashMap::new())),
        }
    }

    /// The site of an identity, when the cache alone can answer safely: the installation id is
    /// known and the token's cloud id (if any) is the site's.
    pub fn get(&self, identity: &Identity) -> Option<SiteId> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        if inner.0 != self.changes.current() {
            return None;
        }
        let (site, cloud) = inner.1.get(&identity.installation_id)?;
        match (&identity.cloud_id, cloud) {
            (None, _) => Some(*site),
            (Some(wanted), Some(known)) if wanted == known => Some(*site),
            _ => None,
        }
    }

    /// The count to pass to [`TenantCache::insert`] after a database read.
    pub fn generation(&self) -> u64 {
        self.changes.current()
    }

    /// Keeps a resolution made at `generation`, unless a change happened since.
    pub fn insert(&self, generation: u64, identity: &Identity, site: SiteId) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if generation != self.changes.current() {
            return;
        }
        if inner.0 != generation || inner.1.len() >= MAX_ENTRIES {
            *inner = (generation, HashMap::new());
        }
        let entry = (site, identity.cloud_id.clone());
        inner.1.insert(identity.installation_id.clone(), entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::db::configure_connection(&mut conn).unwrap();
        crate::db::migrate(&mut conn).unwrap();
        conn
    }

    fn who(installation: &str, cloud: Option<&str>) -> Identity {
        Identity {
            installation_id: installation.into(),
            cloud_id: cloud.map(str::to_string),
            api_base_url: cloud.map(|c| format!("https://api.atlassian.com/ex/confluence/{c}")),
            product: Some(crate::forge::Product::Confluence),
            confluence_api_base_url: cloud
                .map(|c| format!("https://api.atlassian.com/ex/confluence/{c}")),
            account_id: None,
            issue: None,
        }
    }

    fn site_of(conn: &mut Connection, identity: &Identity) -> Result<SiteId, TwoSites> {
        resolve(conn, "app", identity, "t").unwrap().map(|r| r.site)
    }

    #[test]
    fn a_new_installation_is_a_new_site_and_the_same_one_finds_it_again() {
        let mut conn = conn();
        let a = site_of(&mut conn, &who("i-a", Some("cloud-a"))).unwrap();
        let b = site_of(&mut conn, &who("i-b", Some("cloud-b"))).unwrap();
        assert_ne!(a, b);
        assert_eq!(site_of(&mut conn, &who("i-a", Some("cloud-a"))), Ok(a));
        assert_eq!(site_of(&mut conn, &who("i-a", None)), Ok(a));
        let rows: i64 = conn
            .query_row("SELECT count(*) FROM jwt_tokens", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 2);
    }

    #[test]
    fn a_reinstall_keeps_the_site_and_records_the_new_installation_id() {
        let mut conn = conn();
        let site = site_of(&mut conn, &who("i-old", Some("cloud-a"))).unwrap();
        assert_eq!(site_of(&mut conn, &who("i-new", Some("cloud-a"))), Ok(site));
        let id: String = conn
            .query_row(
                "SELECT installation_id FROM jwt_tokens WHERE id = ?1",
                [site],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(id, "i-new");
    }

    #[test]
    fn ids_naming_two_sites_or_a_site_with_another_cloud_are_refused() {
        let mut conn = conn();
        site_of(&mut conn, &who("i-a", Some("cloud-a"))).unwrap();
        site_of(&mut conn, &who("i-b", Some("cloud-b"))).unwrap();
        assert_eq!(
            site_of(&mut conn, &who("i-a", Some("cloud-b"))),
            Err(TwoSites)
        );
        assert_eq!(
            site_of(&mut conn, &who("i-a", Some("cloud-z"))),
            Err(TwoSites)
        );
    }

    #[test]
    fn a_site_first_seen_without_cloud_id_learns_it() {
        let mut conn = conn();
        let site = site_of(&mut conn, &who("i-a", None)).unwrap();
        assert_eq!(site_of(&mut conn, &who("i-a", Some("cloud-a"))), Ok(site));
        assert_eq!(site_of(&mut conn, &who("i-new", Some("cloud-a"))), Ok(site));
    }

    #[test]
    fn the_cache_answers_only_for_the_same_cloud_and_forgets_on_any_change() {
        let changes = SiteChanges::default();
        let cache = TenantCache::new(changes.clone());
        let a = who("i-a", Some("cloud-a"));
        cache.insert(cache.generation(), &a, SiteId(1));
        assert_eq!(cache.get(&a), Some(SiteId(1)));
        assert_eq!(cache.get(&who("i-a", None)), Some(SiteId(1)));
        assert_eq!(cache.get(&who("i-a", Some("cloud-b"))), None);
        let stale = cache.generation();
        changes.bump();
        assert_eq!(cache.get(&a), None);
        cache.insert(stale, &a, SiteId(1));
        assert_eq!(
            cache.get(&a),
            None,
            "a fill that raced a change is not kept"
        );
    }
}
