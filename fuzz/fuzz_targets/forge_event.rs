//! Fuzzes the body of `POST /forge/events` (Forge lifecycle events and Jira's product events):
//! read as JSON the way every JSON body is (`parse_json`), then as an event.
//! Invariants: never panics; a body is parsed or refused with a 400 (a 422 for JSON that no
//! field can hold); a parsed event names exactly the installation, app and event type the
//! body holds — at the top level or under `payload`, read here independently — so it is never
//! accepted for an installation other than the one it returns; a Jira deletion (issue or
//! project) returns exactly the id the body's `issue.id` / `project.id` holds (a string or a
//! whole number), 1–64 characters of `A-Z a-z 0-9 _ -`, and no other event returns one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use todo_connect::fuzzing::{AppError, INSTALLED, forge_event, parse_json};

fuzz_target!(|data: &[u8]| {
    let body: Value = match parse_json(data) {
        Ok(body) => body,
        Err(err) => {
            assert!(
                matches!(err, AppError::BadRequest(_) | AppError::Unprocessable(_)),
                "{err:?}"
            );
            return;
        }
    };
    let event = match forge_event(&body) {
        Ok(event) => event,
        Err(err) => {
            assert!(matches!(err, AppError::BadRequest(_)), "{err:?}");
            return;
        }
    };
    let top = body.as_object().expect("an event is an object");
    let inner = match top.get("payload") {
        Some(Value::Object(inner)) => inner,
        None => top,
        Some(other) => panic!("accepted a payload that is no object: {other}"),
    };
    let field = |name: &str| {
        inner
            .get(name)
            .or_else(|| top.get(name))
            .and_then(Value::as_str)
    };
    // Never an id other than the body's; a lifecycle event (installed, upgraded or untyped)
    // always has one, a Jira deletion may leave it to the token.
    assert_eq!(field("id"), event.installation_id.as_deref(), "{body}");
    if let Some(id) = &event.installation_id {
        assert!((1..=255).contains(&id.len()));
    }
    let lifecycle = matches!(
        field("eventType"),
        None | Some("avi:forge:installed:app") | Some("avi:forge:upgraded:app")
    );
    assert!(
        !lifecycle || event.installation_id.is_some(),
        "a lifecycle event accepted without an installation: {body}"
    );
    assert_eq!(
        event.installed,
        field("eventType") == Some(INSTALLED),
        "{body}"
    );
    let entity = match field("eventType") {
        Some("avi:jira:deleted:issue") => Some("issue"),
        Some("avi:jira:deleted:project") => Some("project"),
        _ => None,
    };
    match (entity, &event.deleted) {
        (None, None) => {}
        (Some(entity), Some((named, id))) => {
            assert_eq!(entity, *named, "{body}");
            let held = match inner
                .get(entity)
                .or_else(|| top.get(entity))
                .and_then(|e| e.get("id"))
            {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) if n.is_u64() => n.to_string(),
                other => panic!("accepted {entity}.id {other:?}: {body}"),
            };
            assert_eq!(&held, id, "{body}");
            let id_char = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
            assert!(
                (1..=64).contains(&id.len()) && id.bytes().all(id_char),
                "{id:?}"
            );
        }
        (entity, deleted) => panic!("{entity:?} read as {deleted:?}: {body}"),
    }
    let app = inner
        .get("app")
        .and_then(|app| app.get("id"))
        .and_then(Value::as_str);
    assert_eq!(app, event.app_id.as_deref(), "{body}");
});
