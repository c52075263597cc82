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
}

/// A Forge event body as `POST /forge/events` parses it (a `read_json` value).
pub fn forge_event(body: &Value) -> Result<ForgeEvent, AppError> {
    use crate::forge::events::{Kind, parse};
    parse(body).map(|event| ForgeEvent {
        installed: event.kind == Kind::Installed,
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
