//! Fuzzes the Connect lifecycle body (`installed`, `uninstalled`, `enabled`, `disabled`) and
//! the base URL check that guards its `baseUrl`.
//! Invariants: never panics; a body is parsed or refused with a 400; a parsed body names
//! exactly the `clientKey`, `baseUrl`, `installationId` and `cloudId` the JSON holds (read
//! here independently); an accepted `baseUrl` has a clean host.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use todo_connect::fuzzing::{AppError, BaseUrl, lifecycle_body};
use todo_connect_fuzz::json_tree;

/// Text field `name` of a body (absent or null: none). serde reads a struct from an object by
/// name or from an array by position (`key`, `clientKey`, `sharedSecret`, `baseUrl`, …), so
/// both are modelled.
fn text(json: &Value, name: &str, position: usize) -> Option<String> {
    match json {
        Value::Array(items) => items.get(position),
        _ => json.get(name),
    }
    .and_then(Value::as_str)
    .map(str::to_string)
}

fuzz_target!(|data: &[u8]| {
    match lifecycle_body(data) {
        Err(err) => assert!(matches!(err, AppError::BadRequest(_)), "{err:?}"),
        Ok((client_key, base_url, installation_id, cloud_id)) => {
            let Some(json) = json_tree(data) else {
                return;
            };
            assert_eq!(text(&json, "clientKey", 1), Some(client_key));
            assert_eq!(
                text(&json, "baseUrl", 3).as_deref(),
                Some(base_url.as_str())
            );
            assert_eq!(text(&json, "installationId", 11), installation_id);
            assert_eq!(text(&json, "cloudId", 12), cloud_id);
            for https_only in [true, false] {
                if let Ok(url) = BaseUrl::parse(&base_url, https_only) {
                    let host = url.host();
                    assert!(!host.is_empty());
                    let clean = |c: char| c.is_ascii_alphanumeric() || ".-:[]".contains(c);
                    assert!(host.chars().all(clean), "{host}");
                }
            }
        }
    }
});
