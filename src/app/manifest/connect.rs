//! The Connect side of the manifest, read off the descriptor we serve: its modules as
//! `connectModules`, its lifecycle as the one `confluence:lifecycle` entry, its scopes under
//! their Connect-on-Forge names, and the fields the Forge modules mirror.

use serde_json::{Map, Value, json};

use super::{CONNECT_LIFECYCLE, ManifestError};

/// The descriptor's modules under their `confluence:` names, and its lifecycle as the one
/// `confluence:lifecycle` entry. Paths stay relative: they resolve against `app.connect.remote`.
pub(super) fn connect_modules(descriptor: &Value) -> Result<Value, ManifestError> {
    let mut lifecycle = descriptor
        .get("lifecycle")
        .and_then(Value::as_object)
        .cloned()
        .ok_or_else(|| ManifestError::Descriptor("has no lifecycle".into()))?;
    lifecycle.insert("key".into(), CONNECT_LIFECYCLE.into());
    let mut out = Map::new();
    out.insert("confluence:lifecycle".into(), json!([lifecycle]));
    let modules = descriptor
        .get("modules")
        .and_then(Value::as_object)
        .ok_or_else(|| ManifestError::Descriptor("has no modules".into()))?;
    for (kind, list) in modules {
        out.insert(format!("confluence:{kind}"), list.clone());
    }
    Ok(Value::Object(out))
}

/// Connect scopes as Connect-on-Forge names them: `READ` -> `read:connect-confluence`,
/// `ACT_AS_USER` -> `act-as-user:connect-confluence`.
pub(super) fn connect_scopes(descriptor: &Value) -> Result<Vec<String>, ManifestError> {
    let scopes = descriptor
        .get("scopes")
        .and_then(Value::as_array)
        .ok_or_else(|| ManifestError::Descriptor("has no scopes".into()))?;
    scopes
        .iter()
        .map(|s| {
            let name = s.as_str().ok_or_else(|| {
                ManifestError::Descriptor(format!("has a scope {s} that is not text"))
            })?;
            Ok(format!(
                "{}:connect-confluence",
                name.to_ascii_lowercase().replace('_', "-")
            ))
        })
        .collect()
}

pub(super) fn connect_module<'d>(
    descriptor: &'d Value,
    (kind, key): (&str, &str),
) -> Result<&'d Value, ManifestError> {
    descriptor
        .pointer(&format!("/modules/{kind}"))
        .and_then(Value::as_array)
        .and_then(|list| list.iter().find(|m| m["key"] == key))
        .ok_or_else(|| ManifestError::Descriptor(format!("has no {kind} module {key:?}")))
}

pub(super) fn descriptor_str<'d>(
    value: &'d Value,
    pointer: &str,
) -> Result<&'d str, ManifestError> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .ok_or_else(|| ManifestError::Descriptor(format!("lacks {pointer}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_scopes_take_their_connect_on_forge_names() {
        let descriptor = json!({"scopes": ["READ", "WRITE", "ACT_AS_USER", "SPACE_ADMIN"]});
        assert_eq!(
            connect_scopes(&descriptor).unwrap(),
            [
                "read:connect-confluence",
                "write:connect-confluence",
                "act-as-user:connect-confluence",
                "space-admin:connect-confluence"
            ]
        );
        assert!(connect_scopes(&json!({"scopes": [1]})).is_err());
    }
}
