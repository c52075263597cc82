//! The task API of a Jira issue panel: `GET`/`POST /forge/api/issue/tasks`. The issue is the
//! one the **signed** token names (`context.extension.issue`), never one from the path or the
//! body, so a user can only reach the issue Jira opened the panel on; a token without one is a
//! 400. Toggling, renaming and deleting go through `/forge/api/tasks/{id}` like any task.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::Todo;
use super::api::{MAX_JSON_BYTES, json_ok};
use super::caller::Caller;
use super::task::TaskTitle;
use crate::error::{AppError, Result};
use crate::forge::{ForgeContext, JiraIssue};
use crate::web::json::read_json;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateIssueTask {
    title: String,
}

/// The token's issue, or the 400 every issue route answers without one.
fn issue_of(ctx: &ForgeContext) -> Result<&JiraIssue> {
    ctx.issue.as_ref().ok_or_else(|| {
        AppError::bad_request(
            "this call carries no Jira issue: issue tasks are reached from a Jira issue panel",
        )
    })
}

/// `GET /forge/api/issue/tasks`: the issue's tasks, oldest first, with the issue.
pub(crate) async fn list(ctx: ForgeContext, todo: web::Data<Todo>) -> Result<HttpResponse> {
    let issue = issue_of(&ctx)?;
    let (tasks, more) = todo.issue_tasks(ctx.site(), issue).await?;
    Ok(json_ok(serde_json::json!({
        "issue": {"id": issue.id, "key": issue.key},
        "tasks": tasks,
        "more": more,
    })))
}

/// `POST /forge/api/issue/tasks` `{"title"}`: 201 with the task on the token's issue, whose
/// key the issue's other tasks then carry too.
pub(crate) async fn create(
    ctx: ForgeContext,
    req: HttpRequest,
    body: web::Payload,
    todo: web::Data<Todo>,
) -> Result<HttpResponse> {
    let issue = issue_of(&ctx)?.clone();
    let input: CreateIssueTask = read_json(&req, body, MAX_JSON_BYTES).await?;
    let title = TaskTitle::parse(&input.title).map_err(AppError::unprocessable)?;
    let account = ctx.account_id().map(str::to_string);
    let site = ctx.site();
    let task = todo
        .create(site, title, None, Some(issue.clone()), account)
        .await?;
    todo.refresh_issue_key(site, &issue).await?;
    // The task lives under the task API (`…/issue/tasks` → `…/tasks/{id}`), where it is
    // toggled, renamed and deleted.
    let tasks_path = req
        .path()
        .trim_end_matches('/')
        .replace("/issue/tasks", "/tasks");
    let location = format!("{tasks_path}/{}", task.id);
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(task))
}
