//! Which site a Forge call belongs to, and the Forge way in's state on it: SQL over
//! `jwt_tokens` (the in-memory side is [`super::tenant_cache`]).
//!
//! Matching, in order: an installation id a reinstall retired is refused; the token's
//! installation id names a known site; else its cloud id names a known site (a reinstall, or a
//! Connect site that adopted Forge), which then records the new installation id and retires
//! the old one; else a new Forge-only site is created, keyed by installation id. Both ids are
//! unique columns, so a token can never reach two sites; a token whose installation id and
//! cloud id name two different sites is refused. Rows are written only when something changed.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::fit::Identity;
use crate::site::SiteId;

/// Why a verified identity is given no site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Its installation id and cloud id name two different sites (or a site recorded with
    /// another cloud id).
    TwoSites,
    /// Its installation id was replaced by a reinstall.
    Retired,
}

/// The site a verified Forge identity belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    pub site: SiteId,
    /// The site now answers to a new installation id (a reinstall or an adoption): caches
    /// that map identities to that site must forget it.
    pub moved: bool,
}

/// Whether an installation id was retired by a reinstall.
const RETIRED: &str = "SELECT EXISTS (SELECT 1 FROM forge_retired_installations
                                         WHERE installation_id = ?1)";

/// Refreshes what a call tells about a known site, only when it changes something: a cloud id
/// learnt, a new `apiBaseUrl`, or the Forge way in seen for the first time (first use installs).
const REFRESH: &str = "UPDATE jwt_tokens SET cloud_id = COALESCE(cloud_id, ?2),
        api_base_url = COALESCE(?3, api_base_url),
        forge_state = COALESCE(forge_state, 'installed'),
        forge_installed_at = CASE WHEN forge_state IS NULL THEN ?4 ELSE forge_installed_at END,
        installed = CASE WHEN forge_state IS NULL THEN 1 ELSE installed END,
        uninstalled_at = CASE WHEN forge_state IS NULL THEN NULL ELSE uninstalled_at END,
        updated_at = ?4
    WHERE id = ?1 AND (cloud_id IS NULL AND ?2 IS NOT NULL
                       OR ?3 IS NOT NULL AND api_base_url IS NOT ?3
                       OR forge_state IS NULL)";

/// Retires a site's installation id before a new one replaces it.
const RETIRE: &str =
    "INSERT INTO forge_retired_installations (installation_id, site_id, retired_at)
    SELECT installation_id, id, ?2 FROM jwt_tokens
    WHERE id = ?1 AND installation_id IS NOT NULL AND installation_id <> ?3
    ON CONFLICT (installation_id) DO NOTHING";

/// A new installation of the site: its id, and the Forge way in installed (again).
const REINSTALL: &str = "UPDATE jwt_tokens SET installation_id = ?2,
        api_base_url = COALESCE(?3, api_base_url), forge_state = 'installed',
        forge_installed_at = ?4, forge_uninstalled_at = NULL, installed = 1,
        uninstalled_at = NULL, updated_at = ?4
    WHERE id = ?1";

/// The site a verified Forge identity belongs to, creating or updating rows as the rules say.
/// One IMMEDIATE transaction, so concurrent first calls of one installation create one site.
pub fn resolve(
    conn: &mut Connection,
    addon_key: &str,
    identity: &Identity,
    now: &str,
) -> rusqlite::Result<Result<Resolved, Refused>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if tx.query_row(RETIRED, [&identity.installation_id], |row| row.get(0))? {
        return Ok(Err(Refused::Retired));
    }
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
        (Some((a, _)), Some(b)) if a != b => return Ok(Err(Refused::TwoSites)),
        (Some((_, Some(known))), _) if identity.cloud_id.as_ref().is_some_and(|c| *c != known) => {
            return Ok(Err(Refused::TwoSites));
        }
        (Some((site, _)), _) => {
            let api = &identity.confluence_api_base_url;
            tx.execute(REFRESH, params![site, identity.cloud_id, api, now])?;
            site
        }
        (None, Some(site)) => {
            let id = &identity.installation_id;
            tx.execute(RETIRE, params![site, now, id])?;
            tx.execute(
                REINSTALL,
                params![site, id, identity.confluence_api_base_url, now],
            )?;
            log::info!("site {site} now reached through Forge installation {id}");
            moved = true;
            site
        }
        (None, None) => {
            let site = tx.query_row(
                "INSERT INTO jwt_tokens (addon_key, product_type, installation_id, cloud_id,
                     api_base_url, installed, enabled, installed_at, updated_at, forge_state,
                     forge_installed_at)
                 VALUES (?1, ?6, ?2, ?3, ?4, 1, 1, ?5, ?5, 'installed', ?5)
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

/// The site whose current installation id this is, without creating or changing anything
/// (a `preUninstall` of an unknown or retired installation changes no site).
pub fn find(conn: &Connection, installation_id: &str) -> rusqlite::Result<Option<SiteId>> {
    conn.query_row(
        "SELECT id FROM jwt_tokens WHERE installation_id = ?1",
        [installation_id],
        |row| row.get(0),
    )
    .optional()
}

/// Marks the Forge way in installed (a Forge `installed` event, also after a Connect
/// uninstall): the site is in use, so a purge must not take it. Its Connect secret stays erased.
pub fn mark_installed(conn: &Connection, site: SiteId, now: &str) -> rusqlite::Result<bool> {
    let changed = conn.execute(
        "UPDATE jwt_tokens SET installed = 1, uninstalled_at = NULL, forge_state = 'installed',
             forge_installed_at = ?2, forge_uninstalled_at = NULL, updated_at = ?2
         WHERE id = ?1 AND (forge_state IS NOT 'installed' OR installed = 0)",
        params![site, now],
    )?;
    Ok(changed > 0)
}

/// Marks the Forge way in gone (its `preUninstall`); the site stays installed while Connect
/// is. Idempotent: `false` when it already was.
pub fn mark_uninstalled(conn: &Connection, site: SiteId, now: &str) -> rusqlite::Result<bool> {
    let changed = conn.execute(
        "UPDATE jwt_tokens SET forge_state = 'uninstalled', forge_uninstalled_at = ?2,
             installed = CASE WHEN connect_state = 'installed' THEN 1 ELSE 0 END,
             uninstalled_at = CASE WHEN connect_state = 'installed' THEN NULL ELSE ?2 END,
             updated_at = ?2
         WHERE id = ?1 AND forge_state IS NOT 'uninstalled'",
        params![site, now],
    )?;
    Ok(changed > 0)
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

    fn site_of(conn: &mut Connection, identity: &Identity) -> Result<SiteId, Refused> {
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
            Err(Refused::TwoSites)
        );
        assert_eq!(
            site_of(&mut conn, &who("i-a", Some("cloud-z"))),
            Err(Refused::TwoSites)
        );
    }

    #[test]
    fn a_site_first_seen_without_cloud_id_learns_it() {
        let mut conn = conn();
        let site = site_of(&mut conn, &who("i-a", None)).unwrap();
        assert_eq!(site_of(&mut conn, &who("i-a", Some("cloud-a"))), Ok(site));
        assert_eq!(site_of(&mut conn, &who("i-new", Some("cloud-a"))), Ok(site));
    }

    fn updated_at(conn: &Connection, site: SiteId) -> String {
        conn.query_row(
            "SELECT updated_at FROM jwt_tokens WHERE id = ?1",
            [site],
            |r| r.get(0),
        )
        .unwrap()
    }

    #[test]
    fn a_reinstall_retires_the_old_id_and_flapping_back_rewrites_nothing() {
        let mut conn = conn();
        let old = who("i-old", Some("cloud-a"));
        let site = resolve(&mut conn, "app", &old, "t1").unwrap().unwrap().site;
        let new = resolve(&mut conn, "app", &who("i-new", Some("cloud-a")), "t2").unwrap();
        assert_eq!(new, Ok(Resolved { site, moved: true }));
        assert_eq!(updated_at(&conn, site), "t2");
        for at in ["t3", "t4"] {
            assert_eq!(
                resolve(&mut conn, "app", &old, at).unwrap(),
                Err(Refused::Retired)
            );
            let same = resolve(&mut conn, "app", &who("i-new", Some("cloud-a")), at).unwrap();
            assert_eq!(same, Ok(Resolved { site, moved: false }));
        }
        assert_eq!(
            updated_at(&conn, site),
            "t2",
            "nothing changed, nothing rewritten"
        );
    }

    #[test]
    fn first_use_installs_the_forge_way_in_and_pre_uninstall_removes_it() {
        let mut conn = conn();
        let site = site_of(&mut conn, &who("i-a", Some("cloud-a"))).unwrap();
        let state = |conn: &Connection| -> (Option<String>, bool) {
            conn.query_row(
                "SELECT forge_state, installed FROM jwt_tokens WHERE id = ?1",
                [site],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap()
        };
        assert_eq!(state(&conn), (Some("installed".into()), true));
        assert!(mark_uninstalled(&conn, site, "t9").unwrap());
        assert!(!mark_uninstalled(&conn, site, "t10").unwrap(), "idempotent");
        assert_eq!(state(&conn), (Some("uninstalled".into()), false));
        assert_eq!(find(&conn, "i-a").unwrap(), Some(site));
        assert_eq!(find(&conn, "i-unknown").unwrap(), None);
        assert!(mark_installed(&conn, site, "t11").unwrap());
        assert_eq!(state(&conn), (Some("installed".into()), true));
    }
}
