//! Fuzzes `BaseUrl::parse`, the one check for every base URL (`SITE_URL`, key servers, a
//! site's `baseUrl` and `displayUrl`).
//! Invariants: never panics; an accepted URL is http(s) (https when required), re-serialises
//! to itself (parsing what it prints gives the same URL), is `origin` + `path` without a
//! trailing slash, holds no query, fragment, credentials, white space, control or character
//! a header or HTML attribute could be split at, and has a clean, lower-case host.
#![no_main]

use libfuzzer_sys::fuzz_target;
use todo_connect::fuzzing::BaseUrl;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for https_only in [true, false] {
        let Ok(url) = BaseUrl::parse(text, https_only) else {
            continue;
        };
        let printed = url.as_str();
        assert_eq!(url.to_string(), printed);
        assert_eq!(
            BaseUrl::parse(printed, https_only).as_ref(),
            Ok(&url),
            "{text:?}"
        );
        let scheme_ok =
            printed.starts_with("https://") || !https_only && printed.starts_with("http://");
        assert!(scheme_ok, "{printed}");
        assert_eq!(url.is_https(), printed.starts_with("https://"));
        assert!(!printed.ends_with('/'), "{printed}");
        assert_eq!(
            format!("{}{}", url.origin(), url.path()),
            printed,
            "{text:?}"
        );
        let odd = |c: char| c.is_whitespace() || c.is_control() || "\"<>\\^`{|}?#@".contains(c);
        assert!(!printed.chars().any(odd), "{printed}");
        let host = url.host();
        let clean = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-:[]".contains(c);
        assert!(
            !host.is_empty() && host.chars().all(clean),
            "{host:?} from {text:?}"
        );
    }
});
