//! `POST /forge/events`: Forge lifecycle triggers delivered to the remote
//! (`avi:forge:installed:app`, `avi:forge:upgraded:app`). The token is verified first; the
//! event is accepted at the top level of the body or under `payload`; a body that is not an
//! event is a 400 and one naming another installation or app than its token a 401, both with
//! nothing stored. The body may name the installation and the app by bare uuid (as Atlassian
//! documents the events) or by ARI (as the token does): both sides are normalised
//! ([`ecosystem_uuid`]) before they are compared. Otherwise the installation is recorded (ids, `apiBaseUrl`, cloud id — from
//! the signed token, never from the body) and the answer is a quick 200: Forge waits 5 s and
//! retries. There is no uninstall event; the `preUninstall` module has its own route
//! ([`super::pre_uninstall`]).

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};

use super::extract::refuse;
use super::fit::FitError;
use super::{Forge, ForgeCall};
use crate::error::{AppError, Result};
use crate::util::ari::{Ecosystem, ecosystem_uuid};
use crate::web::json::read_json;

/// Event bodies are a few hundred bytes; this leaves ample room.
pub const MAX_EVENT_BYTES: usize = 64 * 1024;
/// The installation event.
pub const INSTALLED: &str = "avi:forge:installed:app";
/// The upgrade event (major versions only).
pub const UPGRADED: &str = "avi:forge:upgraded:app";

/// What an event asks of us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    Installed,
    /// Upgraded, or an event without `eventType`: record the installation.
    Record,
    /// Some other event: acknowledged, nothing done.
    Ignored(String),
}

/// The parts of an event we read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Event {
    pub(crate) kind: Kind,
    pub(crate) installation_id: String,
    pub(crate) app_id: Option<String>,
}

/// Reads the event from a body: at the top level or under `payload`.
pub(crate) fn parse(body: &Value) -> Result<Event> {
    let bad = |why: &str| AppError::bad_request(format!("not a Forge lifecycle event: {why}"));
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
    let kind = match text("eventType")?.as_deref() {
        Some(INSTALLED) => Kind::Installed,
        Some(UPGRADED) | None => Kind::Record,
        Some(other) => Kind::Ignored(other.to_string()),
    };
    let installation_id = text("id")?.ok_or_else(|| bad("id (the installation) is required"))?;
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
        let installation = same(
            &self.installation_id,
            installation_id,
            Ecosystem::Installation,
        );
        let app = match (&self.app_id, our_app) {
            (None, _) => true,
            (Some(theirs), Some(ours)) => same(theirs, ours, Ecosystem::App),
            (Some(_), None) => false,
        };
        installation && app
    }
}

/// `POST /forge/events`.
pub async fn events(
    call: ForgeCall,
    req: HttpRequest,
    body: web::Payload,
    forge: web::Data<Forge>,
) -> Result<HttpResponse> {
    let body: Value = read_json(&req, body, MAX_EVENT_BYTES).await?;
    let event = parse(&body)?;
    if !event.is_for(&call.identity.installation_id, forge.app_id()) {
        return Err(refuse(&req, &forge, FitError::BodyMismatch));
    }
    if let Kind::Ignored(name) = &event.kind {
        log::info!("Forge event {name} ignored");
        return Ok(answer("ignored"));
    }
    let ctx = forge.enter(&req, call).await?;
    if event.kind == Kind::Installed {
        forge.mark_installed(ctx.site).await?;
    }
    log::info!("Forge event for site {} recorded", ctx.site);
    Ok(answer("recorded"))
}

fn answer(status: &str) -> HttpResponse {
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
            assert_eq!(event.installation_id, "i-1");
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
            installation_id: id,
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
