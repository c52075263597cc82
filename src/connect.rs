//! Atlassian Connect: descriptor, signed lifecycle, JWT verification, the current site and user.
//! The app never calls a Connect site back (the page does, as the user). Knows nothing of todos; it could become its own crate.

pub(crate) mod descriptor;
mod extract;
mod install_keys;
mod installation_cache;
pub mod installations;
pub mod jwt;
pub mod lifecycle;
pub mod qsh;
mod token_source;

use std::sync::Arc;
use std::time::Duration;

use actix_web::HttpRequest;

use crate::bookkeeping::Bookkeeping;
use crate::config::Settings;
use crate::db::Db;
use crate::error::{AppError, Result};
use crate::site::store::connect::{self as sites, Heard};
use crate::site::{SiteChanges, SiteId};
use crate::util::telemetry;
use jwt::TokenError;

pub(crate) use extract::{ApiRoute, ConnectContext, IframeRoute, LifecycleRoute};
pub use installations::Installation;

/// How long a replica keeps an installation at most (PostgreSQL): the safety net behind the
/// change notifications, for one lost in between.
const SHARED_CACHE_TTL: Duration = Duration::from_secs(10);

/// Everything the Connect side needs at request time, built once at start-up; the extractor
/// finds it as `web::Data<Connect>`.
pub(crate) struct Connect {
    settings: Settings,
    db: Db,
    installations: Arc<installation_cache::InstallationCache>,
    /// Where the site's Connect use and the calling users are noted (shared with the Forge
    /// side); a request never waits for it.
    bookkeeping: Bookkeeping,
    install_keys: install_keys::InstallKeys,
    /// The descriptor JSON, rendered and validated once.
    descriptor: String,
    /// Told which sites an install moved to other identities, so the Forge side's site cache
    /// drops their entries (and only theirs).
    site_changes: SiteChanges,
}

impl Connect {
    /// Builds the Connect state around the database, the shared HTTP client and the site
    /// change count shared with the Forge side.
    pub(crate) fn new(
        settings: Settings,
        db: Db,
        http: reqwest::Client,
        descriptor: String,
        site_changes: SiteChanges,
        bookkeeping: Bookkeeping,
    ) -> Self {
        Self {
            install_keys: install_keys::InstallKeys::new(&settings.connect_keys_url, http.clone()),
            installations: Arc::new(if sites::replicated(&db) {
                installation_cache::InstallationCache::shared(SHARED_CACHE_TTL)
            } else {
                installation_cache::InstallationCache::default()
            }),
            bookkeeping,
            settings,
            db,
            descriptor,
            site_changes,
        }
    }

    /// After a lifecycle change committed: forget the site's cached installation, and tell
    /// the caches of identities which sites now answer to other identities (`moved`: an
    /// install that recorded a Forge identity or merged a Forge-only site; nothing for an
    /// uninstall or a toggle, which leave every identity naming the same site).
    fn changed(&self, client_key: &str, moved: &[SiteId]) {
        self.installations.invalidate(client_key);
        for site in moved {
            self.site_changes.site(*site);
        }
    }

    /// The installed site for a client key: from memory, or one database read on a miss.
    async fn installation(&self, client_key: &str) -> Result<Option<Arc<Installation>>> {
        if let Some(found) = self.installations.get(client_key) {
            return Ok(Some(found));
        }
        let generation = self.installations.generation();
        let found = sites::find_installed(&self.db, &self.settings.addon_key, client_key).await?;
        Ok(found.map(|row| {
            let row = Arc::new(row);
            self.installations.insert(generation, row.clone());
            row
        }))
    }

    /// On PostgreSQL, starts hearing the other replicas' lifecycle changes (on the current
    /// runtime): each notification forgets that site and bumps the site change count the Forge
    /// side's cache follows; while the listener is down no installation is cached. Everything
    /// heard also goes to `also` (the layers above, e.g. the tasks' caches), over the same one
    /// listener. On SQLite (one server) there is nothing to hear.
    pub(crate) fn watch_changes(&self, also: impl Fn(Heard<'_>) + 'static) {
        let (cache, changes) = (self.installations.clone(), self.site_changes.clone());
        sites::hear_changes(&self.db, move |heard| {
            Self::heard(&cache, &changes, heard);
            also(heard);
        });
    }

    /// What one change heard means for the installation cache and the site change count.
    fn heard(
        cache: &installation_cache::InstallationCache,
        changes: &SiteChanges,
        heard: Heard<'_>,
    ) {
        match heard {
            // A gap in hearing changes: every identity cache starts over.
            Heard::Listening => {
                cache.listening(true);
                changes.bump();
            }
            Heard::Lost => {
                cache.listening(false);
                changes.bump();
            }
            Heard::SomeSite => changes.bump(),
            Heard::Site(site) => changes.site(site),
            Heard::ClientKey(client_key) => cache.invalidate(client_key),
            Heard::Tasks(..) => {}
        }
    }

    /// The 401 every authentication failure answers with, the one place it is made: logs why
    /// (at debug, never the token) and counts it once by way in and reason.
    fn refuse(&self, req: &HttpRequest, way: telemetry::Way, reason: &TokenError) -> AppError {
        log::debug!("refused {} {}: {reason}", req.method(), req.path());
        telemetry::refused(way, reason.refusal());
        AppError::Unauthorized {
            scheme: "JWT",
            realm: self.settings.addon_key.clone(),
        }
    }
}
