//! `POST /forge/events`: Forge lifecycle triggers delivered to the remote
//! (`avi:forge:installed:app`, `avi:forge:upgraded:app`) and Jira's deletions
//! (`avi:jira:deleted:issue`, `avi:jira:deleted:project`), which this layer reads and checks
//! and hands up as an [`Outcome`] (the Todo layer deletes the tasks; forge knows no todos).
//! The token is verified first; the event is accepted at the top level of the body or under
//! `payload`; a body that is not an event is a 400 and one naming another installation or app
//! than its token a 401, both with nothing stored or deleted. The body may name the
//! installation and the app by bare uuid (as Atlassian documents the events) or by ARI (as the
//! token does): both sides are normalised ([`ecosystem_uuid`]) before they are compared; a
//! Jira event may name none (the token does). Otherwise the installation is recorded (ids,
//! `apiBaseUrl`, cloud id — from the signed token, never from the body) and the answer is a
//! quick 200: Forge waits 5 s and retries. There is no uninstall event; the `preUninstall`
//! module has its own route ([`super::pre_uninstall`]).

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};

use super::extract::refuse;
use super::fit::FitError;
use super::{Forge, ForgeCall};
use crate::error::{AppError, Result};
use crate::site::SiteId;
use crate::util::ari::{Ecosystem, ecosystem_uuid};
use crate::web::json::read_json;

/// Event bodies are a few hundred bytes; this leaves ample room.
const MAX_EVENT_BYTES: usize = 64 * 1024;
/// The installation event.
pub const INSTALLED: &str = "avi:forge:installed:app";
/// The upgrade event (major versions only).
const UPGRADED: &str = "avi:forge:upgraded:app";
/// A Jira issue was deleted (body `issue: {id, key, fields}`).
const JIRA_ISSUE_DELETED: &str = "avi:jira:deleted:issue";
/// A Jira project was deleted (body `project: {id, key, …}`); its issues send no events.
const JIRA_PROJECT_DELETED: &str = "avi:jira:deleted:project";

/// What an event asks of us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    Installed,
    /// Upgraded, or an event without `eventType`: record the installation.
    Record,
    /// Some other event: acknowledged, nothing done.
    Ignored(String),
    /// A Jira issue, by id, was deleted.
    IssueDeleted(String),
    /// A Jira project, by id, was deleted.
    ProjectDeleted(String),
}

/// The parts of an event we read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Event {
    pub(crate) kind: Kind,
    /// Required on lifecycle events; Jira's events may leave it out (the token names it).
    pub(crate) installation_id: Option<String>,
    pub(crate) app_id: Option<String>,
}

/// Reads the event from a body: at the top level or under `payload`.
pub(crate) fn parse(body: &Value) -> Result<Event> {
    let bad = |why: &str| AppError::bad_request(format!("not a Forge event we read: {why}"));
    let top = body
        .as_object()
        .ok_or_else(|| bad("the body must be an object"))?;
    let event: &Map<String, Value> = match top.get("payload") {
        Some(Value::Object(inner)) => inner,
        Some(_) => return Err(bad("payload must be an object")),
        None => top,
    };
    let text = |name: &str| -> Result<Option<String>> {
        match event.get(name).or_else(|| top.get(name)) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if !s.is_empty() && s.len() <= 255 => Ok(Some(s.clone())),
            Some(_) => Err(bad(&format!("{name} must be a non-empty string"))),
        }
    };
    // The id of `issue` or `project` of a Jira deletion (a string or a number).
    let entity_id = |name: &str| -> Result<String> {
        event
            .get(name)
            .or_else(|| top.get(name))
            .and_then(|entity| entity.get("id"))
            .and_then(super::jira::id_text)
            .ok_or_else(|| bad(&format!("{name}.id is required")))
    };
    let kind = match text("eventType")?.as_deref() {
        Some(INSTALLED) => Kind::Installed,
        Some(UPGRADED) | None => Kind::Record,
        Some(JIRA_ISSUE_DELETED) => Kind::IssueDeleted(entity_id("issue")?),
        Some(JIRA_PROJECT_DELETED) => Kind::ProjectDeleted(entity_id("project")?),
        Some(other) => Kind::Ignored(other.to_string()),
    };
    let installation_id = text("id")?;
    let lifecycle = matches!(kind, Kind::Installed | Kind::Record);
    if lifecycle && installation_id.is_none() {
        return Err(bad("id (the installation) is required"));
    }
    let app_id = match event.get("app") {
        None | Some(Value::Null) => None,
        Some(Value::Object(app)) => match app.get("id") {
            None | Some(Value::Null) => None,
            Some(Value::String(id)) => Some(id.clone()),
            Some(_) => return Err(bad("app.id must be a string")),
        },
        Some(_) => return Err(bad("app must be an object")),
    };
    Ok(Event {
        kind,
        installation_id,
        app_id,
    })
}

impl Event {
    /// Whether the event names the token's installation and (when it names one) our app: the
    /// same uuids, however each side spells them. An id either side cannot read is a mismatch.
    fn is_for(&self, installation_id: &str, our_app: Option<&str>) -> bool {
        let same = |a: &str, b: &str, kind| {
            ecosystem_uuid(a, kind).is_some_and(|a| Some(a) == ecosystem_uuid(b, kind))
        };
        let installation = self
            .installation_id
            .as_deref()
            .is_none_or(|theirs| same(theirs, installation_id, Ecosystem::Installation));
        let app = match (&self.app_id, our_app) {
            (None, _) => true,
            (Some(theirs), Some(ours)) => same(theirs, ours, Ecosystem::App),
            (Some(_), None) => false,
        };
        installation && app
    }
}

/// What a received event asks of the layers above, once it is checked (and recorded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A lifecycle event, recorded.
    Recorded,
    /// An event we do not act on.
    Ignored,
    /// Delete the tasks of this issue of the token's site.
    IssueDeleted { site: SiteId, issue_id: String },
    /// Delete the tasks of every issue of this project of the token's site.
    ProjectDeleted { site: SiteId, project_id: String },
}

/// Reads and checks the event of `POST /forge/events` (the token is verified first; a body
/// naming another installation or app is a 401 with nothing done) and records a lifecycle
/// event. The site of a Jira deletion is the signed token's, never the body's.
pub(crate) async fn receive(
    call: ForgeCall,
    req: &HttpRequest,
    body: web::Payload,
    forge: &Forge,
) -> Result<Outcome> {
    let body: Value = read_json(req, body, MAX_EVENT_BYTES).await?;
    let event = parse(&body)?;
    if !event.is_for(&call.identity.installation_id, forge.app_id()) {
        return Err(refuse(req, forge, call.way, FitError::BodyMismatch));
    }
    if let Kind::Ignored(name) = &event.kind {
        log::info!("Forge event {name} ignored");
        return Ok(Outcome::Ignored);
    }
    let ctx = forge.enter(req, call).await?;
    Ok(match event.kind {
        Kind::IssueDeleted(issue_id) => Outcome::IssueDeleted {
            site: ctx.site,
            issue_id,
        },
        Kind::ProjectDeleted(project_id) => Outcome::ProjectDeleted {
            site: ctx.site,
            project_id,
        },
        kind => {
            if kind == Kind::Installed {
                forge.mark_installed(ctx.site).await?;
            }
            log::info!("Forge event for site {} recorded", ctx.site);
            Outcome::Recorded
        }
    })
}

/// The quick JSON 200 Forge expects (it waits 5 s, then retries).
pub(crate) fn answer(status: &str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(json!({ "status": status }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_is_read_at_the_top_level_or_under_payload() {
        let flat = json!({"eventType": INSTALLED, "id": "i-1", "app": {"id": "a"}});
        let nested = json!({"payload": {"id": "i-1", "app": {"id": "a"}}, "eventType": INSTALLED});
        for body in [flat, nested] {
            let event = parse(&body).unwrap();
            assert_eq!(event.kind, Kind::Installed, "{body}");
            assert_eq!(event.installation_id.as_deref(), Some("i-1"));
            assert_eq!(event.app_id.as_deref(), Some("a"));
        }
        let upgraded = parse(&json!({"payload": {"eventType": UPGRADED, "id": "i"}})).unwrap();
        assert_eq!(upgraded.kind, Kind::Record);
        let other = parse(&json!({"eventType": "avi:jira:created:issue", "id": "i"})).unwrap();
        assert_eq!(other.kind, Kind::Ignored("avi:jira:created:issue".into()));
    }

    #[test]
    fn an_event_matches_its_token_by_uuid_whether_either_side_is_bare_or_an_ari() {
        let uuid = "fff8e466-0b1c-4a5e-9d2f-0123456789ab";
        let app = "406d303d-1111-4222-8333-444455556666";
        let token_installation = format!("ari:cloud:ecosystem::installation/{uuid}");
        let ours = format!("ari:cloud:ecosystem::app/{app}");
        let event = |id: String, app_id: Option<String>| Event {
            kind: Kind::Record,
            installation_id: Some(id),
            app_id,
        };
        for (id, app_id) in [
            (uuid.to_string(), Some(app.to_string())),
            (uuid.to_uppercase(), Some(ours.clone())),
            (token_installation.clone(), Some(app.to_uppercase())),
            (token_installation.clone(), None),
        ] {
            let e = event(id, app_id);
            assert!(e.is_for(&token_installation, Some(&ours)), "{e:?}");
            assert!(
                e.is_for(uuid, Some(app)),
                "bare on the token side too: {e:?}"
            );
        }
        let other = "0a0b0c0d-1111-4222-8333-444455556666";
        for (id, app_id) in [
            (other.to_string(), None),
            (format!("ari:cloud:ecosystem::app/{uuid}"), None),
            (uuid.to_string(), Some(other.to_string())),
            (
                uuid.to_string(),
                Some(format!("ari:cloud:ecosystem::installation/{app}")),
            ),
            (uuid.to_string(), Some("not-an-id".to_string())),
        ] {
            let e = event(id, app_id);
            assert!(!e.is_for(&token_installation, Some(&ours)), "{e:?}");
        }
        let unreadable = event("installation-1".into(), None);
        assert!(
            !unreadable.is_for("installation-1", Some(&ours)),
            "ids that are not uuids never match, even when equal"
        );
        assert!(!event(uuid.into(), Some(app.into())).is_for(uuid, None));
    }

    #[test]
    fn jira_deletions_name_their_issue_or_project_and_may_leave_the_installation_out() {
        let issue = json!({"eventType": JIRA_ISSUE_DELETED, "timestamp": "t",
                           "issue": {"id": "10001", "key": "P-1", "fields": {}}});
        let nested = json!({"payload": {"eventType": JIRA_ISSUE_DELETED, "id": "i",
                                        "issue": {"id": 10001, "key": "P-1"}}});
        for body in [issue, nested] {
            assert_eq!(
                parse(&body).unwrap().kind,
                Kind::IssueDeleted("10001".into()),
                "{body}"
            );
        }
        let project = json!({"eventType": JIRA_PROJECT_DELETED, "project": {"id": "10000"}});
        let event = parse(&project).unwrap();
        assert_eq!(event.kind, Kind::ProjectDeleted("10000".into()));
        assert_eq!(event.installation_id, None);
        assert!(event.is_for("any installation", None), "the token names it");
        for body in [
            json!({"eventType": JIRA_ISSUE_DELETED}),
            json!({"eventType": JIRA_ISSUE_DELETED, "issue": {"key": "P-1"}}),
            json!({"eventType": JIRA_ISSUE_DELETED, "issue": {"id": "1 OR 1"}}),
            json!({"eventType": JIRA_PROJECT_DELETED, "project": "P"}),
            json!({"eventType": INSTALLED}),
        ] {
            assert!(parse(&body).is_err(), "{body}");
        }
    }

    #[test]
    fn bodies_that_are_not_events_are_refused() {
        for body in [
            json!([]),
            json!("installed"),
            json!({}),
            json!({"payload": "x", "id": "i"}),
            json!({"id": 7}),
            json!({"id": ""}),
            json!({"id": "i", "eventType": 1}),
            json!({"id": "i", "app": "x"}),
            json!({"id": "i", "app": {"id": 1}}),
        ] {
            assert!(parse(&body).is_err(), "{body}");
        }
    }
}
