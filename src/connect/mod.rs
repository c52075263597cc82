//! Atlassian Connect: descriptor, signed lifecycle, JWT verification, the current site and user,
//! and calls back to the site. Knows nothing of todos; it could become its own crate.

pub mod descriptor;
pub mod extract;
pub mod host_client;
pub mod install_keys;
pub mod installations;
pub mod jwt;
pub mod lifecycle;
pub mod qsh;
pub mod token_source;
pub mod user_records;

use std::sync::Arc;
use std::time::Duration;

use crate::config::Settings;
use crate::db::Db;
use crate::error::{AppError, Result};

pub use extract::{ApiRoute, ConnectContext, IframeRoute, LifecycleRoute};
pub use installations::Installation;

/// How often one user's visit is written to `jwt_users` at most.
pub const USER_RECORD_WINDOW: Duration = Duration::from_secs(5 * 60);

/// Everything the Connect side needs at request time, built once at start-up; the extractor
/// finds it as `web::Data<Connect>`.
pub struct Connect {
    pub settings: Settings,
    pub db: Db,
    pub installations: installations::InstallationCache,
    pub seen_users: installations::SeenUsers,
    /// Writes `jwt_users` rows in batches.
    pub user_records: user_records::UserRecords,
    pub install_keys: install_keys::InstallKeys,
    /// Signed calls back to installed sites.
    pub hosts: host_client::HostClients,
    /// The descriptor JSON, rendered and validated once.
    pub descriptor: String,
}

impl Connect {
    /// Builds the Connect state around the database and the shared HTTP client.
    pub fn new(settings: Settings, db: Db, http: reqwest::Client, descriptor: String) -> Self {
        Self {
            install_keys: install_keys::InstallKeys::new(&settings.connect_keys_url, http.clone()),
            hosts: host_client::HostClients::new(http, &settings.addon_key, &settings.oauth_url),
            installations: installations::InstallationCache::default(),
            seen_users: installations::SeenUsers::new(USER_RECORD_WINDOW),
            user_records: user_records::UserRecords::new(db.clone()),
            settings,
            db,
            descriptor,
        }
    }

    /// The installed site for a client key: from memory, or one database read on a miss.
    pub async fn installation(&self, client_key: &str) -> Result<Option<Arc<Installation>>> {
        if let Some(found) = self.installations.get(client_key) {
            return Ok(Some(found));
        }
        let generation = self.installations.generation();
        let addon_key = self.settings.addon_key.clone();
        let key = client_key.to_string();
        let found = self
            .db
            .run(move |conn| Ok(installations::find_installed(conn, &addon_key, &key)?))
            .await?;
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
