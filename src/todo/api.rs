//! The JSON task API, written once for every way in: Connect's browser side calls it under
//! `/api/tasks` with context JWTs, Forge's Custom UI under `/forge/api/tasks` with Forge
//! Invocation Tokens ([`Caller`] is either). Errors are `{"error": "..."}`: malformed JSON
//! 400, invalid or unknown fields 422, body over 16 KiB 413, no or bad token 401, foreign or
//! missing id 404. Authentication is checked before the body is read. JSON only, never a
//! redirect (Forge treats a 3xx as an error).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::Todo;
use super::caller::Caller;
use super::store::ListQuery;
use super::task::{PageId, TaskId, TaskTitle};
use crate::error::{AppError, Result};
use crate::web::json::read_json;

/// Largest JSON body accepted.
pub(crate) const MAX_JSON_BYTES: usize = 16 * 1024;
/// Page size bounds for `GET /api/tasks`.
const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 200;

/// The body of `POST /api/tasks`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateTask {
    title: String,
    #[serde(default)]
    page_id: Option<String>,
}

/// The body of `PATCH /api/tasks/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PatchTask {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    done: Option<bool>,
}

#[derive(Debug, Deserialize)]
struct ListParams {
    limit: Option<String>,
    before: Option<String>,
    done: Option<String>,
    q: Option<String>,
}

/// `GET /api/tasks`.
pub(crate) async fn list<C: Caller>(
    ctx: C,
    req: HttpRequest,
    todo: web::Data<Todo>,
) -> Result<HttpResponse> {
    let query = parse_list(req.query_string())?;
    let (tasks, next_before) = todo.list(ctx.site(), query).await?;
    Ok(json_ok(
        serde_json::json!({ "tasks": tasks, "next_before": next_before }),
    ))
}

/// `POST /api/tasks`: 201 with the task and its `Location` (under the prefix it was created
/// through).
pub(crate) async fn create<C: Caller>(
    ctx: C,
    req: HttpRequest,
    body: web::Payload,
    todo: web::Data<Todo>,
) -> Result<HttpResponse> {
    let (title, page_id) = checked_create(read_json(&req, body, MAX_JSON_BYTES).await?)?;
    let account = ctx.account_id().map(str::to_string);
    let task = todo
        .create(ctx.site(), title, page_id, None, account)
        .await?;
    let location = format!("{}/{}", req.path().trim_end_matches('/'), task.id);
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(task))
}

/// The title and page a create body asks for, checked (422 otherwise).
pub(crate) fn checked_create(input: CreateTask) -> Result<(TaskTitle, Option<PageId>)> {
    let title = TaskTitle::parse(&input.title).map_err(AppError::unprocessable)?;
    let page_id = input
        .page_id
        .as_deref()
        .map(PageId::parse)
        .transpose()
        .map_err(AppError::unprocessable)?;
    Ok((title, page_id))
}

/// `GET /api/tasks/{id}`.
pub(crate) async fn show<C: Caller>(
    ctx: C,
    id: web::Path<String>,
    todo: web::Data<Todo>,
) -> Result<HttpResponse> {
    let id = TaskId::parse(&id).ok_or(AppError::NotFound)?;
    let task = todo.find(ctx.site(), id).await?;
    Ok(json_ok(task))
}

/// `PATCH /api/tasks/{id}`.
pub(crate) async fn update<C: Caller>(
    ctx: C,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Payload,
    todo: web::Data<Todo>,
) -> Result<HttpResponse> {
    let id = TaskId::parse(&id).ok_or(AppError::NotFound)?;
    let (title, done) = checked_patch(read_json(&req, body, MAX_JSON_BYTES).await?)?;
    let task = todo.update(ctx.site(), id, title, done).await?;
    Ok(json_ok(task))
}

/// The new title and state a patch body asks for, at least one of them, checked (422
/// otherwise).
pub(crate) fn checked_patch(input: PatchTask) -> Result<(Option<TaskTitle>, Option<bool>)> {
    if input.title.is_none() && input.done.is_none() {
        return Err(AppError::unprocessable("give a title, done, or both"));
    }
    let title = input
        .title
        .as_deref()
        .map(TaskTitle::parse)
        .transpose()
        .map_err(AppError::unprocessable)?;
    Ok((title, input.done))
}

/// `DELETE /api/tasks/{id}`.
pub(crate) async fn delete<C: Caller>(
    ctx: C,
    id: web::Path<String>,
    todo: web::Data<Todo>,
) -> Result<HttpResponse> {
    let id = TaskId::parse(&id).ok_or(AppError::NotFound)?;
    todo.delete(ctx.site(), id).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub(super) fn json_ok(value: impl serde::Serialize) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(value)
}

/// The filters and cursor of `GET /api/tasks?limit=&before=&done=&q=`, checked (422
/// otherwise).
pub(crate) fn parse_list(query: &str) -> Result<ListQuery> {
    let params = web::Query::<ListParams>::from_query(query)
        .map_err(|_| AppError::unprocessable("query parameters are malformed"))?
        .into_inner();
    let limit = match params.limit.as_deref() {
        None => DEFAULT_LIMIT,
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=MAX_LIMIT).contains(l))
            .ok_or_else(|| AppError::unprocessable(format!("limit must be 1 to {MAX_LIMIT}")))?,
    };
    let before = match params.before.as_deref() {
        None => None,
        Some(v) => Some(
            TaskId::parse(v)
                .ok_or_else(|| AppError::unprocessable("before must be a task id"))?
                .0,
        ),
    };
    let done = match params.done.as_deref() {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => return Err(AppError::unprocessable("done must be true or false")),
    };
    let search = params
        .q
        .map(|q| q.trim().to_string())
        .filter(|q| !q.is_empty());
    if search.as_ref().is_some_and(|q| q.chars().count() > 200) {
        return Err(AppError::unprocessable("q must be at most 200 characters"));
    }
    Ok(ListQuery {
        limit,
        before,
        done,
        search,
    })
}
