//! Atlassian Connect: descriptor, signed lifecycle, JWT verification, the current site and user.
//! Knows nothing of todos; it could become its own crate.

pub mod descriptor;
pub mod extract;
pub mod host_client;
pub mod install_keys;
pub mod installations;
pub mod jwt;
pub mod lifecycle;
pub mod qsh;
pub mod token_source;

use std::sync::Arc;
use std::time::Duration;

use crate::config::Settings;
use crate::db::Pool;
use crate::error::{AppError, Result};

pub use extract::{ApiRoute, ConnectContext, IframeRoute, LifecycleRoute};
pub use installations::Installation;

/// How often one user's visit is written to `jwt_users` at most.
pub const USER_RECORD_WINDOW: Duration = Duration::from_secs(5 * 60);

/// Everything the Connect side needs at request time, built once at start-up.
pub struct Connect {
    pub settings: Settings,
    pub pool: Pool,
    pub installations: installations::InstallationCache,
    pub seen_users: installations::SeenUsers,
    pub install_keys: install_keys::InstallKeys,
    pub http: reqwest::Client,
    /// The descriptor JSON, rendered and validated once.
    pub descriptor: String,
}

impl Connect {
    /// Builds the Connect state around a pool and an HTTP client.
    pub fn new(settings: Settings, pool: Pool, http: reqwest::Client, descriptor: String) -> Self {
        let install_keys = install_keys::InstallKeys::new(&settings.connect_keys_url, http.clone());
        Self {
            settings,
            pool,
            installations: installations::InstallationCache::default(),
            seen_users: installations::SeenUsers::new(USER_RECORD_WINDOW),
            install_keys,
            http,
            descriptor,
        }
    }

    /// The installed site for a client key: from memory, or one database read on a miss.
    pub async fn installation(&self, client_key: &str) -> Result<Option<Arc<Installation>>> {
        if let Some(found) = self.installations.get(client_key) {
            return Ok(Some(found));
        }
        let generation = self.installations.generation();
        let pool = self.pool.clone();
        let addon_key = self.settings.addon_key.clone();
        let key = client_key.to_string();
        let found = actix_web::web::block(move || -> Result<Option<Installation>> {
            let conn = pool.get()?;
            Ok(installations::find_installed(&conn, &addon_key, &key)?)
        })
        .await??;
        Ok(found.map(|row| {
            let row = Arc::new(row);
            self.installations.insert(generation, row.clone());
            row
        }))
    }

    /// The 401 every authentication failure answers with.
    pub fn unauthorized(&self) -> AppError {
        AppError::Unauthorized {
            realm: self.settings.addon_key.clone(),
        }
    }
}
