//! What the fuzz targets in `fuzz/` call: the parsers and validators that face the network,
//! exposed as they are (re-exported or wrapped, never copied), so what is fuzzed is what
//! ships and a rename that breaks a target breaks CI (`scripts/fuzz-check.sh`). Not an API:
//! hidden from the docs, changed whenever a target needs it.

use std::collections::HashMap;

use jsonwebtoken::DecodingKey;
use serde_json::Value;

pub use crate::connect::{jwt, lifecycle, qsh};
pub use crate::error::AppError;
pub use crate::forge::api_base::ApiBaseRule;
pub use crate::forge::{events::INSTALLED, fit};
pub use crate::todo::api::MAX_LIMIT;
pub use crate::todo::store::ListQuery;
pub use crate::todo::task::{MAX_TITLE_CHARS, PageId, TaskTitle};
pub use crate::util::url::BaseUrl;
pub use crate::util::yaml;
pub use crate::web::json::parse_json;

/// The RSA signing keys of a JWKS document by `kid`, as the Forge key cache reads a fetched set.
pub fn forge_key_set(body: &[u8]) -> Result<HashMap<String, DecodingKey>, String> {
    crate::forge::jwks::parse_set(body)
}

/// What `POST /forge/events` reads from a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForgeEvent {
    /// Required on lifecycle events; Jira's deletions may leave it to the token.
    pub installation_id: Option<String>,
    pub app_id: Option<String>,
    /// Whether it is the installation event (recorded and marked installed).
    pub installed: bool,
    /// A Jira deletion: `("issue" | "project", its id)`, the id whose tasks' links go.
    pub deleted: Option<(&'static str, String)>,
}

/// A Forge event body as `POST /forge/events` parses it (a `read_json` value).
pub fn forge_event(body: &Value) -> Result<ForgeEvent, AppError> {
    use crate::forge::events::{Kind, parse};
    parse(body).map(|event| ForgeEvent {
        installed: event.kind == Kind::Installed,
        deleted: match &event.kind {
            Kind::IssueDeleted(id) => Some(("issue", id.clone())),
            Kind::ProjectDeleted(id) => Some(("project", id.clone())),
            _ => None,
        },
        installation_id: event.installation_id,
        app_id: event.app_id,
    })
}

/// The ids a Connect lifecycle body names: `clientKey`, `baseUrl`, `installationId`, `cloudId`.
pub type LifecycleIds = (String, String, Option<String>, Option<String>);

/// A Connect lifecycle body as every lifecycle callback parses it.
pub fn lifecycle_body(body: &[u8]) -> Result<LifecycleIds, AppError> {
    lifecycle::parse(body).map(|p| (p.client_key, p.base_url, p.installation_id, p.cloud_id))
}

/// The body of `POST /api/tasks`, parsed and checked as the handler does.
pub fn create_task(body: &[u8]) -> Result<(TaskTitle, Option<PageId>), AppError> {
    crate::web::json::parse_json(body).and_then(crate::todo::api::checked_create)
}

/// The body of `PATCH /api/tasks/{id}`, parsed and checked as the handler does.
pub fn update_task(body: &[u8]) -> Result<(Option<TaskTitle>, Option<bool>), AppError> {
    crate::web::json::parse_json(body).and_then(crate::todo::api::checked_patch)
}

/// The query string of `GET /api/tasks`, checked as the handler does.
pub fn list_query(query: &str) -> Result<ListQuery, AppError> {
    crate::todo::api::parse_list(query)
}

/// The settings the program would run with, given the contents of its settings files (`None`:
/// that file does not exist) and its environment, read on the one path `Settings::load` takes.
/// `app_env` is `development`, `test` or `production`.
pub fn settings(
    app_env: &str,
    default_file: Option<&[u8]>,
    env_file: Option<&[u8]>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<SettingsFacts, String> {
    use crate::config::{AppEnv, Settings};
    let app_env = AppEnv::parse(app_env).map_err(|e| e.to_string())?;
    let [default, other] = crate::config::FILES;
    let files: Vec<(&'static str, &[u8])> = [(default, default_file), (other, env_file)]
        .into_iter()
        .filter_map(|(origin, source)| source.map(|s| (origin, s)))
        .collect();
    let settings = Settings::read(app_env, &files, env).map_err(|e| e.to_string())?;
    Ok(SettingsFacts {
        production: settings.is_production(),
        debug: format!("{settings:?}"),
        database_url: settings.database_url.as_ref().map(|u| u.to_string()),
        site_url: settings.site_url.as_str().to_string(),
        connect_keys_url: settings.connect_keys_url.as_str().to_string(),
        forge_jwks_url: settings.forge_jwks_url.map(|u| u.as_str().to_string()),
        host: settings.host,
        port: settings.port,
        addon_key: settings.addon_key,
        allowed_hosts: settings
            .allowed_hosts
            .iter()
            .map(|p| p.to_string())
            .collect(),
        database_pool_size: settings.database_pool_size,
        database_timeout_secs: settings.database_timeout.as_secs(),
        max_connections: settings.max_connections,
        max_tasks_per_site: settings.max_tasks_per_site,
        forge_app_id: settings.forge_app_id,
    })
}

/// What the `settings_file` target checks of loaded settings (the fields are the crate's own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsFacts {
    pub production: bool,
    /// The settings' `Debug` text, as a log line would show them.
    pub debug: String,
    /// `DATABASE_URL` as it is displayed (without its password).
    pub database_url: Option<String>,
    pub site_url: String,
    pub connect_keys_url: String,
    pub forge_jwks_url: Option<String>,
    pub host: String,
    pub port: u16,
    pub addon_key: String,
    pub allowed_hosts: Vec<String>,
    pub database_pool_size: usize,
    pub database_timeout_secs: u64,
    pub max_connections: usize,
    pub max_tasks_per_site: usize,
    pub forge_app_id: Option<String>,
}

/// Every setting's variable name, as errors name them.
pub fn setting_names() -> Vec<&'static str> {
    crate::config::SETTINGS.iter().map(|s| s.name).collect()
}

/// Creates an empty todo-connect database at `path`, migrated as `todo-connect migrate` does.
pub fn new_database(path: &std::path::Path) -> Result<(), String> {
    let db = crate::db::open_pool(path, 1).map_err(|e| e.to_string())?;
    let mut conn = db.get().map_err(|e| e.to_string())?;
    crate::db::migrate(&mut conn)
        .map(drop)
        .map_err(|e| e.to_string())
}

/// `todo-connect restore <file>` onto the database at `database`: the summary it prints, or
/// its error (before `main` makes it one line).
pub fn restore(database: &std::path::Path, file: &std::path::Path) -> Result<String, String> {
    crate::ops::restore::restore(database, file)
        .map(|summary| summary.to_string())
        .map_err(|e| e.to_string())
}
