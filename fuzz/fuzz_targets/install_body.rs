//! Fuzzes the lifecycle body parser and the site URL check that guards `baseUrl`.
//! Invariants: never panics; an accepted site URL yields a clean host.
#![no_main]

use libfuzzer_sys::fuzz_target;
use todo_connect::connect::lifecycle;

fuzz_target!(|data: &[u8]| {
    if let Ok(payload) = lifecycle::parse(data) {
        let _ = format!("{payload:?}");
    }
    let text = String::from_utf8_lossy(data);
    for https_only in [true, false] {
        if let Some(host) = lifecycle::checked_site_url(&text, https_only) {
            assert!(!host.is_empty());
            assert!(host.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'), "{host}");
        }
    }
});
