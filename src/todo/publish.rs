//! "Publish to Confluence": the site's open tasks as a new page in a space the user chooses.
//! The server is the one home of *what* is published — every open task, found through the
//! listing's bounded scan, at most [`MAX_PUBLISHED_TASKS`], in storage format with every title
//! escaped ([`page`]) — and makes no outbound call: `POST /api/publish` (Connect) and
//! `POST /forge/api/publish` (Forge), one handler for every way in ([`Caller`]), answer the
//! page as Confluence's content API takes it. The page's script (`assets/js/publish.js`) then
//! creates it through the host's own API as the viewing user (`AP.request` in Connect,
//! `requestConfluence` in Forge), so no response waits on Atlassian and the user's own
//! permissions decide where a page may be created.
//!
//! Errors are `{"error": "..."}`: 403 without a signed-in user, 422 for a bad space key or
//! title; nothing is stored or sent either way.

mod page;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::Todo;
use super::api::MAX_JSON_BYTES;
use super::caller::Caller;
use super::store::ListQuery;
use super::task::Task;
use crate::error::Result;
use crate::site::SiteId;
use crate::web::json::read_json;

/// Open tasks listed on a published page at most.
const MAX_PUBLISHED_TASKS: u32 = 500;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PublishRequest {
    space_key: String,
    #[serde(default)]
    title: Option<String>,
}

/// `POST /api/publish` (and `/forge/api/publish`) `{"space_key": "DOCS", "title"?: "..."}`
/// -> 200 `{"page": <the body of POST …/rest/api/content>, "tasks": <open tasks listed>}`.
pub(crate) async fn publish<C: Caller>(
    ctx: C,
    req: HttpRequest,
    body: web::Payload,
    todo: web::Data<Todo>,
) -> Result<HttpResponse> {
    let input: PublishRequest = read_json(&req, body, MAX_JSON_BYTES).await?;
    let space_key = page::parse_space_key(&input.space_key)?;
    let title = page::parse_title(input.title.as_deref())?;
    if ctx.account_id().is_none() {
        return Ok(HttpResponse::Forbidden()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(json!({ "error": "Sign in to Confluence to publish." })));
    }
    let (tasks, truncated) = open_tasks(&todo, ctx.site()).await?;
    let content = page::content(&title, &space_key, &tasks, truncated);
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "page": content, "tasks": tasks.len() })))
}

/// The site's open tasks, newest first, at most [`MAX_PUBLISHED_TASKS`], and whether there
/// are more. A listing looks at a bounded number of rows per call and says where it stopped
/// (`next_before`), so this follows it until it has one task more than it lists or the site's
/// tasks are all seen: a site whose newest thousands of tasks are done still publishes its
/// older open ones. The rounds are bounded by the site's task quota.
async fn open_tasks(todo: &Todo, site: SiteId) -> Result<(Vec<Task>, bool)> {
    let wanted = MAX_PUBLISHED_TASKS as usize + 1;
    let mut tasks: Vec<Task> = Vec::new();
    let mut before = None;
    loop {
        let query = ListQuery {
            limit: (wanted - tasks.len()) as u32,
            before,
            done: Some(false),
            search: None,
        };
        let (page, next) = todo.list(site, query).await?;
        tasks.extend(page);
        match next {
            Some(next) if tasks.len() < wanted => before = Some(next),
            _ => break,
        }
    }
    let truncated = tasks.len() > MAX_PUBLISHED_TASKS as usize;
    tasks.truncate(MAX_PUBLISHED_TASKS as usize);
    Ok((tasks, truncated))
}
