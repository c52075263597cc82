//! The request id (`x-request-id`): taken from the request when it is short and of safe
//! characters (a proxy in front may have set it), else made here, and echoed in the response
//! and the access-log line, so a request's lines and the caller's report can be matched up.
//!
//! A made id is a per-process random prefix and a counter (`3f9c2a1e-42`): unique within the
//! process, unlikely to repeat across replicas and restarts, and costing no system call.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::http::header::HeaderValue;

/// The header carrying the id, in and out.
pub(crate) const HEADER: &str = "x-request-id";
/// Longest id accepted from a request; longer ones are replaced.
const MAX_LEN: usize = 64;

/// The id for a request that arrived with `given` (the header's value, if any).
pub(crate) fn accept_or_make(given: Option<&HeaderValue>) -> HeaderValue {
    match given {
        Some(value) if acceptable(value.as_bytes()) => value.clone(),
        _ => make(),
    }
}

/// Whether a received id may be echoed and logged as it is: 1 to [`MAX_LEN`] characters of
/// `A-Z a-z 0-9 . _ -` (nothing a log line, a JSON string or a header could be confused by).
fn acceptable(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len() <= MAX_LEN
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn make() -> HeaderValue {
    static PREFIX: OnceLock<u32> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(1);
    // The standard library's hasher keys are random per process: a random prefix without a
    // random-number crate.
    let prefix = *PREFIX.get_or_init(|| RandomState::new().hash_one(std::process::id()) as u32);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    HeaderValue::from_str(&format!("{prefix:08x}-{n}"))
        .unwrap_or_else(|_| HeaderValue::from_static("unknown"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_ids_are_kept_and_anything_else_is_replaced() {
        for kept in ["abc", "A-1.b_2", &"x".repeat(64)] {
            let value = HeaderValue::from_str(kept).unwrap();
            assert_eq!(accept_or_make(Some(&value)), value);
        }
        for replaced in [
            "",
            &"x".repeat(65),
            "a b",
            "a\"b",
            "a\tb",
            "<script>",
            "a/b",
            "é",
        ] {
            let value = HeaderValue::from_bytes(replaced.as_bytes()).unwrap();
            let id = accept_or_make(Some(&value));
            assert_ne!(id, value, "{replaced:?}");
            assert!(acceptable(id.as_bytes()), "{id:?}");
        }
    }

    #[test]
    fn made_ids_differ_and_are_acceptable() {
        let (a, b) = (accept_or_make(None), accept_or_make(None));
        assert_ne!(a, b);
        assert!(acceptable(a.as_bytes()) && acceptable(b.as_bytes()));
        let (prefix_a, prefix_b) = (
            a.to_str().unwrap().split('-').next().unwrap().to_owned(),
            b.to_str().unwrap().split('-').next().unwrap().to_owned(),
        );
        assert_eq!(prefix_a, prefix_b, "one prefix per process");
    }
}
