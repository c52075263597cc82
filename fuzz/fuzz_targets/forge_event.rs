//! Fuzzes the body of `POST /forge/events` (Forge lifecycle events): read as JSON the way
//! every JSON body is (`parse_json`), then as an event.
//! Invariants: never panics; a body is parsed or refused with a 400 (a 422 for JSON that no
//! field can hold); a parsed event names exactly the installation, app and event type the
//! body holds — at the top level or under `payload`, read here independently — so it is never
//! accepted for an installation other than the one it returns.
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
    let app = inner
        .get("app")
        .and_then(|app| app.get("id"))
        .and_then(Value::as_str);
    assert_eq!(app, event.app_id.as_deref(), "{body}");
});
