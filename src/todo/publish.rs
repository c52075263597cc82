//! "Publish to Confluence": the site's open tasks as a new page in a space the user chooses,
//! created as that user (`POST /rest/api/content`, storage format) with an act-as-user token.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::Todo;
use super::api::MAX_JSON_BYTES;
use super::store::ListQuery;
use super::task::Task;
use crate::connect::host_client::HostError;
use crate::connect::{ApiRoute, Connect, ConnectContext};
use crate::error::{AppError, Result};
use crate::util::html;
use crate::web::json::read_json;

/// Scopes of the token the page is created with (the descriptor also declares `ACT_AS_USER`).
pub const PUBLISH_SCOPES: &[&str] = &["READ", "WRITE"];
/// Open tasks listed on a published page at most.
pub const MAX_PUBLISHED_TASKS: u32 = 500;

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

#[derive(Deserialize)]
struct Links {
    webui: Option<String>,
}

/// `POST /api/publish` `{"space_key": "DOCS", "title"?: "..."}` -> 201 `{"id", "url"}`.
pub async fn publish(
    ctx: ConnectContext<ApiRoute>,
    req: HttpRequest,
    body: web::Payload,
    todo: web::Data<Todo>,
    connect: web::Data<Connect>,
) -> Result<HttpResponse> {
    let input: PublishRequest = read_json(&req, body, MAX_JSON_BYTES).await?;
    let space_key = parse_space_key(&input.space_key)?;
    let title = match input.title.as_deref().map(str::trim) {
        Some(t) if !t.is_empty() => parse_title(t)?,
        _ => default_title(),
    };
    let Some(account) = ctx.account_id.clone() else {
        return Ok(error(
            HttpResponse::Forbidden(),
            "Sign in to Confluence to publish.",
        ));
    };
    let query = ListQuery {
        limit: MAX_PUBLISHED_TASKS,
        done: Some(false),
        ..ListQuery::default()
    };
    let (tasks, more) = todo.list(ctx.installation.site, query).await?;
    let page = json!({
        "type": "page",
        "title": title,
        "space": { "key": space_key },
        "body": { "storage": { "value": storage_body(&tasks, more.is_some()), "representation": "storage" } },
    });
    let host = connect.hosts.for_site(ctx.installation.clone());
    let created = host
        .as_user(
            &account,
            PUBLISH_SCOPES,
            Method::POST,
            "/rest/api/content",
            Some(&page),
        )
        .await
        .and_then(|response| response.json::<Created>());
    let created = match created {
        Ok(created) => created,
        Err(err) => return Ok(refused(&err)),
    };
    let url = created
        .links
        .and_then(|l| l.webui)
        .filter(|w| w.starts_with('/') && !w.starts_with("//"))
        .map(|w| format!("{}{w}", host.base_url()));
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "id": created.id, "url": url, "title": title, "tasks": tasks.len() })))
}

/// What the browser is told when Confluence did not create the page (the cause is logged).
fn refused(err: &HostError) -> HttpResponse {
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

/// A Confluence space key: letters, digits, `_`, `-`, `:` and a leading `~` (personal spaces).
fn parse_space_key(input: &str) -> Result<String> {
    let key = input.trim();
    let body = key.strip_prefix('~').unwrap_or(key);
    let ok = !body.is_empty()
        && key.len() <= 255
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b':'));
    if ok {
        Ok(key.to_string())
    } else {
        Err(AppError::unprocessable(
            "space_key must be a Confluence space key, such as DOCS",
        ))
    }
}

fn parse_title(title: &str) -> Result<String> {
    if title.chars().count() > 255 || title.chars().any(char::is_control) {
        return Err(AppError::unprocessable(
            "title must be at most 255 characters, without control characters",
        ));
    }
    Ok(title.to_string())
}

/// Confluence refuses a second page with the same title in a space, so the default is dated.
fn default_title() -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let now = time::OffsetDateTime::now_utc();
    format!(
        "Open tasks ({} UTC)",
        now.format(&format).unwrap_or_default()
    )
}

/// The page body in storage format (XHTML): one list item per open task, every title escaped.
pub fn storage_body(tasks: &[Task], truncated: bool) -> String {
    if tasks.is_empty() {
        return "<p>No open tasks.</p>".to_string();
    }
    let mut out = String::from("<p>Open tasks from the Todo app:</p><ul>");
    for task in tasks {
        out.push_str("<li>");
        // HTML escaping is valid XML escaping for storage format content.
        out.push_str(&html::escape(&task.title));
        out.push_str(&format!(" (#{})</li>", task.id));
    }
    out.push_str("</ul>");
    if truncated {
        out.push_str(&format!(
            "<p>Only the newest {MAX_PUBLISHED_TASKS} open tasks are listed.</p>"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_escaped_in_the_storage_body() {
        let task = Task {
            id: 3,
            title: "<b>Fix</b> & \"ship\"".into(),
            done: false,
            created_by: None,
            page_id: None,
            created_at: String::new(),
            updated_at: String::new(),
        };
        assert_eq!(
            storage_body(&[task], false),
            "<p>Open tasks from the Todo app:</p><ul><li>&lt;b&gt;Fix&lt;/b&gt; &amp; \
             &quot;ship&quot; (#3)</li></ul>"
        );
    }

    #[test]
    fn space_keys_are_plain_tokens() {
        assert!(parse_space_key("DOCS").is_ok());
        assert!(parse_space_key("~557058:abc-1").is_ok());
        for bad in ["", "~", "a b", "A/B", "a?b", &"K".repeat(256)] {
            assert!(parse_space_key(bad).is_err(), "{bad:?}");
        }
    }
}
