//! Fuzzes the canonical request builder with arbitrary method, path, query and base path.
//! Invariants: never panics; the result is `METHOD&path&query` with an upper-case method, a
//! path that starts with `/` and has no raw `&`, and a query of RFC 3986 characters only.
#![no_main]

use libfuzzer_sys::fuzz_target;
use todo_connect::fuzzing::qsh;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(4, '\n');
    let method = parts.next().unwrap_or_default();
    let path = parts.next().unwrap_or_default();
    let query = parts.next().unwrap_or_default();
    let base = parts.next().unwrap_or_default();
    let canonical = qsh::canonical_request(method, path, query, base);
    let upper = method.to_ascii_uppercase();
    let rest = canonical
        .strip_prefix(&upper)
        .and_then(|r| r.strip_prefix('&'))
        .expect("method first");
    if !upper.contains('&') {
        let (canonical_path, canonical_query) = rest.split_once('&').expect("three parts");
        assert!(canonical_path.starts_with('/'));
        let query_ok = canonical_query
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~%=&,".contains(&b));
        assert!(query_ok, "{canonical_query}");
        // Canonicalising is deterministic and the hash is 64 hex digits.
        assert_eq!(qsh::canonical_request(method, path, query, base), canonical);
        assert_eq!(qsh::hash(&canonical).len(), 64);
    }
});
