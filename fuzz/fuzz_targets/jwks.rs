//! Fuzzes the reading of a JWKS document (Atlassian's Forge key set), as the key cache reads
//! what it fetched.
//! Invariants: never panics; whatever the document, every key read is an RSA key with a
//! non-empty `kid`, `n` and `e`, read from an entry of the first 64 that is an RSA signing
//! key (`kty` RSA, `use` sig or none, `alg` RS256 or none) under that `kid` whose `n` and `e`
//! decode — by the decoding written here, independently — to exactly the key's; using a key
//! never panics.
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::DecodingKeyKind;
use jsonwebtoken::{Algorithm, AlgorithmFamily};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use todo_connect::fuzzing::forge_key_set;

/// Keys read from one set at most (`jwks::MAX_KEYS`).
const MAX_KEYS: usize = 64;

/// base64url, or standard base64, padded or not, surrounded by white space or not.
fn decode(text: &str) -> Option<Vec<u8>> {
    let text = text
        .trim()
        .trim_end_matches('=')
        .replace('+', "-")
        .replace('/', "_");
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// Whether `entry` is an RSA signing key named `kid` with exactly these `n` and `e`.
fn publishes(entry: &Value, kid: &str, n: &[u8], e: &[u8]) -> bool {
    let text = |name: &str| entry.get(name).and_then(Value::as_str);
    let absent = |name: &str| matches!(entry.get(name), None | Some(Value::Null));
    entry["kty"] == "RSA"
        && text("kid") == Some(kid)
        && (absent("use") || text("use") == Some("sig"))
        && (absent("alg") || text("alg") == Some("RS256"))
        && text("n").and_then(decode).as_deref() == Some(n)
        && text("e").and_then(decode).as_deref() == Some(e)
}

fuzz_target!(|data: &[u8]| {
    let Ok(keys) = forge_key_set(data) else {
        return;
    };
    assert!(keys.len() <= MAX_KEYS);
    if keys.is_empty() {
        return;
    }
    let document: Value = serde_json::from_slice(data).expect("a set read is JSON");
    let entries = document["keys"].as_array().expect("a set has keys");
    for (kid, key) in &keys {
        assert!(!kid.is_empty());
        assert_eq!(key.family(), AlgorithmFamily::Rsa, "{kid}");
        let DecodingKeyKind::RsaModulusExponent { n, e } = key.kind() else {
            panic!("{kid}: not an RSA modulus and exponent");
        };
        assert!(!n.is_empty() && !e.is_empty(), "{kid}");
        let published = entries
            .iter()
            .take(MAX_KEYS)
            .any(|entry| publishes(entry, kid, n, e));
        assert!(published, "{kid} is not a key of the document");
        let token = "eyJhbGciOiJSUzI1NiJ9.e30.c2ln";
        let (message, signature) = token.rsplit_once('.').expect("a token");
        let _ = jsonwebtoken::crypto::verify(signature, message.as_bytes(), key, Algorithm::RS256);
    }
});
