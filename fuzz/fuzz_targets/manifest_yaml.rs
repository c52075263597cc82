//! Fuzzes the YAML writer of generated files (`util::yaml`, the Forge manifest).
//! Invariants: never panics; whatever it writes, a YAML parser (yaml-rust2's loader) reads
//! back as one document equal to the input — same types, same strings, same numbers, same
//! keys; what it refuses holds the character it names.
//!
//! Input: any JSON document is written as it is; the bytes, as text, are also written as a
//! key and as values (the strings are where quoting goes wrong).
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use todo_connect::fuzzing::yaml;
use yaml_rust2::{Yaml, YamlLoader};

/// Whether `read` is exactly `written`.
fn same(read: &Yaml, written: &Value) -> bool {
    match (read, written) {
        (Yaml::Null, Value::Null) => true,
        (Yaml::Boolean(a), Value::Bool(b)) => a == b,
        (Yaml::Integer(a), Value::Number(b)) => b.as_i64() == Some(*a),
        (Yaml::Real(a), Value::Number(b)) => b.as_i64().is_none() && *a == b.to_string(),
        (Yaml::String(a), Value::String(b)) => a == b,
        (Yaml::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same(a, b))
        }
        (Yaml::Hash(a), Value::Object(b)) => {
            a.len() == b.len()
                && b.iter()
                    .all(|(k, v)| a.get(&Yaml::String(k.clone())).is_some_and(|r| same(r, v)))
        }
        _ => false,
    }
}

/// Whether `c` occurs in a key or string of `value`.
fn holds(value: &Value, c: char) -> bool {
    match value {
        Value::String(s) => s.contains(c),
        Value::Array(items) => items.iter().any(|v| holds(v, c)),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains(c) || holds(v, c)),
        _ => false,
    }
}

fn round_trip(value: &Value) {
    match yaml::to_yaml(value) {
        Ok(text) => {
            let docs = YamlLoader::load_from_str(&text)
                .unwrap_or_else(|e| panic!("unreadable YAML for {value}: {e}\n{text}"));
            assert_eq!(docs.len(), 1, "{text}");
            assert!(
                same(&docs[0], value),
                "{value} came back as {:?}\n{text}",
                docs[0]
            );
        }
        Err(err) => {
            let c = char::from_u32(err.code).expect("a character");
            assert!(holds(value, c), "{err} for {value}");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = serde_json::from_slice::<Value>(data) {
        round_trip(&value);
    }
    let text = String::from_utf8_lossy(data);
    round_trip(&json!({ "key": text, "list": [text, {text.as_ref(): text}] }));
});
