//! Forge Remote: Forge calls this binary with a Forge Invocation Token, verified against
//! Atlassian's key set; the call is mapped to its site (one tenant whether it arrives through
//! Connect or Forge), lifecycle events record the installation, and the app system token is
//! kept in memory for calls back to the site. Knows nothing of todos; beside `connect/`, not
//! above it.

pub(crate) mod api_base;
pub(crate) mod events;
mod extract;
pub mod fit;
mod jira;
pub(crate) mod jwks;
pub(crate) mod pre_uninstall;
mod system_token;
mod tenant_cache;
mod tenants;

use std::sync::Arc;

use crate::bookkeeping::Bookkeeping;
use crate::config::Settings;
use crate::db::Db;
use crate::error::{AppError, Result};
use crate::site::ways_in::Way;
use crate::site::{SiteChanges, SiteId, store};
use crate::util::url::BaseUrl;

pub(crate) use extract::{ForgeCall, ForgeContext};
use fit::{FitError, Identity};
pub(crate) use jira::JiraIssue;
pub(crate) use system_token::{CallError, ClientFactory};

/// Everything the Forge side needs at request time, built once at start-up; the extractors
/// and the events route find it as `web::Data<Forge>`.
pub(crate) struct Forge {
    /// Our app's ARI; `None` turns Forge off (its routes answer 404).
    app_id: Option<String>,
    jwks_url: Option<BaseUrl>,
    addon_key: String,
    production: bool,
    db: Db,
    keys: jwks::ForgeKeys,
    tenants: tenant_cache::TenantCache,
    changes: SiteChanges,
    system_tokens: Arc<system_token::SystemTokens>,
    http: reqwest::Client,
    /// Where the site's Forge use and the UI callers (`principal`) are noted, shared with the
    /// Connect side; a request never waits for it.
    bookkeeping: Bookkeeping,
}

impl Forge {
    /// The Forge state for these settings, sharing the database, the outbound client, the
    /// site change count and the record of users with the Connect side.
    pub(crate) fn new(
        settings: &Settings,
        db: Db,
        http: reqwest::Client,
        changes: SiteChanges,
        bookkeeping: Bookkeeping,
    ) -> Self {
        Self {
            app_id: settings.forge_app_id.clone(),
            jwks_url: settings.forge_jwks_url.clone(),
            addon_key: settings.addon_key.clone(),
            production: settings.is_production(),
            db,
            keys: jwks::ForgeKeys::new(http.clone()),
            tenants: tenant_cache::TenantCache::new(changes.clone()),
            changes,
            system_tokens: Arc::default(),
            http,
            bookkeeping,
        }
    }

    /// Whether Forge is on (`FORGE_APP_ID` set).
    fn is_on(&self) -> bool {
        self.app_id.is_some()
    }

    /// Our app's ARI, when Forge is on.
    fn app_id(&self) -> Option<&str> {
        self.app_id.as_deref()
    }

    /// The 401 every Forge authentication failure answers with (a JSON body, and the bearer
    /// scheme the token comes in).
    fn unauthorized(&self) -> AppError {
        AppError::Unauthorized {
            scheme: "Bearer",
            realm: self.addon_key.clone(),
        }
    }

    /// Verifies a FIT: the key named by its `kid` from the right key set, then the claims for
    /// our app ARI; the identity it carries.
    async fn verify(&self, token: &str) -> std::result::Result<Identity, FitError> {
        let audience = self.app_id.as_deref().ok_or(FitError::Missing)?;
        let kid = fit::key_id(token)?;
        let api_base = fit::unverified_api_base_url(token);
        let url = jwks::jwks_url(self.jwks_url.as_ref(), self.production, api_base.as_deref());
        let key = self.keys.key(&url, &kid).await?;
        let rule = api_base::ApiBaseRule {
            staging: url == jwks::STAGING_JWKS,
            loopback: !self.production,
        };
        fit::verify(token, &key, audience)?.identity(rule)
    }

    /// The site of a verified identity: from memory, or resolved (and recorded) in the
    /// sites store on a miss. `Ok(Err(_))` when the store refuses it (its ids name two
    /// different sites, or a reinstall retired its installation id).
    async fn site_of(&self, identity: &Identity) -> Result<std::result::Result<SiteId, FitError>> {
        if let Some(site) = self.tenants.get(identity) {
            return Ok(Ok(site));
        }
        let generation = self.tenants.generation();
        let resolved = store::forge::resolve(
            &self.db,
            self.addon_key.clone(),
            tenants::store_identity(identity),
        )
        .await?;
        let resolved = match resolved {
            Ok(resolved) => resolved,
            Err(why) => return Ok(Err(tenants::refusal(why))),
        };
        if resolved.moved {
            self.changes.site(resolved.site);
        }
        self.tenants.insert(generation, identity, resolved.site);
        Ok(Ok(resolved.site))
    }

    /// Keeps the app system token a call carried, for the API base URL its token names — when
    /// that URL is acceptable (https on an Atlassian host in production).
    fn remember_system_token(&self, site: SiteId, identity: &Identity, token: &str) {
        let api = identity
            .api_base_url
            .as_deref()
            .and_then(|url| BaseUrl::parse(url, self.production).ok())
            .filter(|url| !self.production || is_atlassian_api_host(url.host()));
        match api {
            Some(api) => self.system_tokens.remember(site, token, api),
            None => log::debug!("system token for site {site} ignored: no usable apiBaseUrl"),
        }
    }

    /// Clients for any site, for background calls (they find the system tokens kept here).
    pub(crate) fn clients(&self) -> ClientFactory {
        ClientFactory::new(self.system_tokens.clone(), self.http.clone())
    }

    /// Records that the app is installed on `site` (a Forge `installed` event).
    async fn mark_installed(&self, site: SiteId) -> Result<()> {
        store::forge::mark_installed(&self.db, site).await?;
        Ok(())
    }

    /// Records the Forge way in gone for the site of this installation id (its `preUninstall`);
    /// `None` when no site has that installation id now (nothing is created or changed).
    async fn mark_uninstalled(&self, installation_id: &str) -> Result<Option<SiteId>> {
        let site = store::forge::mark_uninstalled(&self.db, installation_id.to_string()).await?;
        if let Some(site) = site {
            // The next use must be on record, however soon it comes.
            self.bookkeeping.forget_site(site, Way::Forge);
            // From now on a purge may take the site: the next call resolves it from the store
            // again, not from memory, so a purged site is never served (a gone row found by
            // the bookkeeping writer is the safety net for what this does not see).
            self.changes.site(site);
        }
        Ok(site)
    }
}

/// Atlassian's API hosts (`api.atlassian.com`, `api.stg.atlassian.com`, …).
fn is_atlassian_api_host(host: &str) -> bool {
    host == "atlassian.com" || host.ends_with(".atlassian.com")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_atlassian_api_hosts_get_the_system_token_in_production() {
        for host in ["api.atlassian.com", "api.stg.atlassian.com"] {
            assert!(is_atlassian_api_host(host), "{host}");
        }
        for host in [
            "evil.com",
            "atlassian.com.evil.com",
            "apiatlassian.com",
            "127.0.0.1",
        ] {
            assert!(!is_atlassian_api_host(host), "{host}");
        }
    }
}
