//! `POST /forge/events` as routed: the Forge layer reads, checks and records the event
//! ([`events::receive`]); what it asks of the Todo — Jira's `avi:jira:deleted:issue` and
//! `avi:jira:deleted:project` — happens here: the tasks of that issue, or of every issue of that
//! project, of the token's site are deleted and counted in the log. Both repeat harmlessly
//! (Forge retries, and may deliver an event late): a second delivery deletes nothing.

use actix_web::{HttpRequest, HttpResponse, web};

use super::Todo;
use crate::error::Result;
use crate::forge::events::{self, Outcome, answer};
use crate::forge::{Forge, ForgeCall};

/// `POST /forge/events`.
pub(crate) async fn events(
    call: ForgeCall,
    req: HttpRequest,
    body: web::Payload,
    forge: web::Data<Forge>,
    todo: web::Data<Todo>,
) -> Result<HttpResponse> {
    Ok(match events::receive(call, &req, body, &forge).await? {
        Outcome::Recorded => answer("recorded"),
        Outcome::Ignored => answer("ignored"),
        Outcome::IssueDeleted { site, issue_id } => {
            let deleted = todo.delete_issue_tasks(site, &issue_id).await?;
            log::info!("Jira issue {issue_id} of site {site} deleted: {deleted} tasks deleted");
            answer("deleted")
        }
        Outcome::ProjectDeleted { site, project_id } => {
            let deleted = todo.delete_project_tasks(site, &project_id).await?;
            log::info!("Jira project {project_id} of site {site} deleted: {deleted} tasks deleted");
            answer("deleted")
        }
    })
}
