//! "Publish to Confluence": the site's open tasks as a new page in a space the user chooses.
//! Written once for every way in ([`Caller`]): Connect's `POST /api/publish` creates the page
//! as the signed-in user, Forge's `POST /forge/api/publish` as the app with its system token
//! against the site's `apiBaseUrl` ([`target`]). What is published — every open task, found
//! through the listing's bounded scan, at most [`MAX_PUBLISHED_TASKS`] — the page
//! ([`page`]) and the answers are the same.
//!
//! Errors are `{"error": "..."}`: 403 without a signed-in user, 422 for a bad space key or
//! title or when Confluence refused the page, 502/504 when it failed or was slow, and on Forge
//! 503 when no app system token is in memory for the site (Forge reserves 401 for its own
//! token failures).

mod page;
pub(crate) mod target;

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
pub(crate) use target::{Links, NotCreated, PageTarget};

/// Open tasks listed on a published page at most.
const MAX_PUBLISHED_TASKS: u32 = 500;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PublishRequest {
    space_key: String,
    #[serde(default)]
    title: Option<String>,
}

#[derive(Deserialize)]
struct Created {
    id: String,
    #[serde(default, rename = "_links")]
    links: Option<Links>,
}

/// `POST /api/publish` (and `/forge/api/publish`) `{"space_key": "DOCS", "title"?: "..."}`
/// -> 201 `{"id", "url", "title", "tasks"}`.
pub(crate) async fn publish<C: Caller>(
    ctx: C,
    req: HttpRequest,
    body: web::Payload,
    todo: web::Data<Todo>,
) -> Result<HttpResponse> {
    let input: PublishRequest = read_json(&req, body, MAX_JSON_BYTES).await?;
    let space_key = page::parse_space_key(&input.space_key)?;
    let title = page::parse_title(input.title.as_deref())?;
    let Some(account) = ctx.account_id() else {
        return Ok(error(
            HttpResponse::Forbidden(),
            "Sign in to Confluence to publish.",
        ));
    };
    let pages = ctx.pages(account);
    let (tasks, truncated) = open_tasks(&todo, ctx.site()).await?;
    let content = page::content(&title, &space_key, &tasks, truncated);
    let created = match pages.create(&content).await {
        Ok(response) => response.json::<Created>().map_err(NotCreated::Host),
        Err(err) => Err(err),
    };
    let created = match created {
        Ok(created) => created,
        Err(err) => return Ok(refused(&err)),
    };
    let url = pages.page_url(&created.links.unwrap_or_default());
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "id": created.id, "url": url, "title": title, "tasks": tasks.len() })))
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

/// What the browser is told when Confluence did not create the page (the cause is logged).
fn refused(err: &NotCreated) -> HttpResponse {
    let err = match err {
        NotCreated::NoSystemToken => {
            log::warn!("publish: no app system token for the site in memory");
            return error(
                HttpResponse::ServiceUnavailable(),
                "Confluence cannot be reached as the app yet (Forge sent no app system token). \
                 Reload the page and try again.",
            );
        }
        NotCreated::Host(err) => err,
    };
    log::warn!("publish: {err}");
    match err.status() {
        Some(400 | 403 | 404 | 409) => error(
            HttpResponse::UnprocessableEntity(),
            "Confluence did not create the page: check the space key, that you may add pages \
             there, and that no page has this title yet.",
        ),
        _ if err.is_timeout() => error(
            HttpResponse::GatewayTimeout(),
            "Confluence did not answer in time. Please try again.",
        ),
        _ => error(
            HttpResponse::BadGateway(),
            "Confluence could not be reached to publish. Please try again.",
        ),
    }
}

fn error(mut builder: actix_web::HttpResponseBuilder, message: &str) -> HttpResponse {
    builder
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "error": message }))
}
