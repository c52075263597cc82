//! The HTML Confluence shows in iframes: the task macro, the Todo page and the macro editor.
//! Every route is qsh-verified (context tokens refused); output is autoescaped by Tera.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::Todo;
use super::task::{PageId, TaskId};
use crate::connect::{ConnectContext, IframeRoute};
use crate::error::{AppError, HtmlError};
use crate::web::Web;

type Ctx = ConnectContext<IframeRoute>;
type PageResult = Result<HttpResponse, HtmlError>;

/// The value of the one parameter called `name` (digits need no decoding); `None` when it is
/// missing or repeated. Cheaper than deserializing the whole iframe query, token included.
fn only_param<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    let mut found = None;
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key == name {
            if found.is_some() {
                return None;
            }
            found = Some(value);
        }
    }
    found
}

/// `GET /confluence/get_task?id=N`: one task, inline in a Confluence page: one indexed read
/// and a render, nothing else. The creator is written as an account id (`data-account-id`);
/// the page asks Confluence for the name as the viewing user (assets/js/names.js).
pub(crate) async fn get_task(
    ctx: Ctx,
    req: HttpRequest,
    web: web::Data<Web>,
    todo: web::Data<Todo>,
) -> PageResult {
    let id = only_param(req.query_string(), "id")
        .and_then(TaskId::parse)
        .ok_or_else(|| {
            AppError::bad_request("The macro's task id must be a positive whole number.")
        })?;
    // The page depends on the task alone (the creator is an account id the page names by
    // script), never on the request or the viewer: rendered once, it is served again until
    // the task changes (`Todo::macro_page`).
    let page = todo.macro_page(ctx.installation.site, id, |task| {
        let mut context = tera::Context::new();
        context.insert("task", task);
        web.render("get_task.html", &context)
    });
    let frame_origin = ctx.installation.display_origin.as_deref();
    Ok(web.framed(page.await?, frame_origin))
}

/// `GET /confluence/tasks`: the full Todo page (a Confluence general page).
pub(crate) async fn tasks_page(ctx: Ctx, web: web::Data<Web>) -> PageResult {
    let mut context = tera::Context::new();
    context.insert("account_id", &ctx.account_id);
    // Where a task's Jira issue is shown (`{origin}/browse/{key}`): the site's own origin.
    context.insert("site_origin", &ctx.installation.base_url.origin());
    render(&web, &ctx, "tasks.html", &context)
}

#[derive(Deserialize)]
struct EditorParams {
    page_id: Option<String>,
}

/// `GET /confluence/macro_editor?page_id=N`: pick or create the task a macro shows.
pub(crate) async fn macro_editor(ctx: Ctx, req: HttpRequest, web: web::Data<Web>) -> PageResult {
    // Confluence leaves `{page.id}` empty for a page not yet saved; that is not an error.
    let page_id = web::Query::<EditorParams>::from_query(req.query_string())
        .ok()
        .and_then(|q| q.page_id.clone())
        .and_then(|p| PageId::parse(&p).ok());
    let mut context = tera::Context::new();
    context.insert("page_id", &page_id.as_ref().map(PageId::as_str));
    render(&web, &ctx, "macro_editor.html", &context)
}

/// Renders an authenticated page, framable by the site's own domain as well as Atlassian's.
fn render(web: &Web, ctx: &Ctx, template: &str, context: &tera::Context) -> PageResult {
    let frame_origin = ctx.installation.display_origin.as_deref();
    Ok(web.page(template, context, frame_origin)?)
}
