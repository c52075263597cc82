//! The HTML Confluence shows in iframes: the task macro, the Todo page and the macro editor.
//! Every route is qsh-verified (context tokens refused); output is autoescaped by Tera.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::task::{PageId, TaskId};
use super::{MacroPage, Todo};
use crate::connect::{Connect, ConnectContext, IframeRoute};
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

/// `GET /confluence/get_task?id=N`: one task, inline in a Confluence page: one indexed read,
/// and the creator's display name (from memory, or asked of the site within the page budget).
pub(crate) async fn get_task(
    ctx: Ctx,
    req: HttpRequest,
    web: web::Data<Web>,
    todo: web::Data<Todo>,
    connect: web::Data<Connect>,
) -> PageResult {
    let id = only_param(req.query_string(), "id")
        .and_then(TaskId::parse)
        .ok_or_else(|| {
            AppError::bad_request("The macro's task id must be a positive whole number.")
        })?;
    // Nothing in the page depends on the request or the viewer, only on the task: a page
    // rendered once is served again until the task changes (`Todo::macro_page`).
    let page = todo
        .macro_page(ctx.installation.site, id, async |task| {
            let creator = task.created_by.as_deref();
            let names = todo
                .names
                .for_site(&connect.hosts, &ctx.installation, creator)
                .await;
            let name = creator.map(|id| names.get(id).map_or(id, String::as_str));
            let mut context = tera::Context::new();
            context.insert("task", task);
            context.insert("created_by_name", &name);
            Ok(MacroPage {
                html: web.render("get_task.html", &context)?,
                // An account id in place of a name still being looked up is not kept.
                lasting: creator.is_none_or(|id| names.contains_key(id)),
            })
        })
        .await?;
    let frame_origin = ctx.installation.display_origin.as_deref();
    Ok(web.framed(page, frame_origin))
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
