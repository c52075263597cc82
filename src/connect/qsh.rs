//! The query string hash: Atlassian's canonical form of a request, and its SHA-256.
//!
//! Canonical request = `METHOD&path&query`:
//! - method upper-cased;
//! - path relative to the app's (or, outbound, the tenant's) base path, `&` written `%26`,
//!   a trailing `/` dropped, the empty path written `/`;
//! - query without the `jwt` parameter, `+` read as a space, names sorted by their
//!   percent-encoded form, repeated values sorted and joined with `,`, everything
//!   RFC 3986-encoded (only `A-Z a-z 0-9 - . _ ~` left as is, upper-case hex).

use std::borrow::Cow;

use percent_encoding::utf8_percent_encode;
use sha2::{Digest, Sha256};

use crate::util::url::RFC3986;

/// The literal a context token (from `AP.context.getToken()`) carries instead of a hash.
pub const CONTEXT_QSH: &str = "context-qsh";

/// Builds the canonical request. `path` is the raw (still percent-encoded) request path,
/// `query` the raw query string without `?`, `base_path` the base URL's path ("" or `/wiki`).
pub fn canonical_request(method: &str, path: &str, query: &str, base_path: &str) -> String {
    let mut out = String::with_capacity(method.len() + path.len() + query.len() + 2);
    out.push_str(&method.to_ascii_uppercase());
    out.push('&');
    out.push_str(&canonical_path(path, base_path));
    out.push('&');
    out.push_str(&canonical_query(query));
    out
}

/// The hex SHA-256 of a canonical request.
pub fn hash(canonical: &str) -> String {
    let digest = Sha256::digest(canonical.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest.iter() {
        hex.push(char::from(HEX[usize::from(byte >> 4)]));
        hex.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    hex
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The qsh of a request, in one call.
pub fn qsh(method: &str, path: &str, query: &str, base_path: &str) -> String {
    hash(&canonical_request(method, path, query, base_path))
}

/// The path relative to `base_path`, without trailing slash, with `&` escaped.
fn canonical_path(path: &str, base_path: &str) -> String {
    let base = base_path.trim_end_matches('/');
    let relative = match path.strip_prefix(base) {
        Some(rest) if !base.is_empty() && (rest.is_empty() || rest.starts_with('/')) => rest,
        _ => path,
    };
    let trimmed = relative.trim_end_matches('/');
    let mut out = String::with_capacity(trimmed.len() + 1);
    if !trimmed.starts_with('/') {
        out.push('/');
    }
    // `&` is rare in a path: copy it as it is unless it has one.
    if trimmed.contains('&') {
        out.push_str(&trimmed.replace('&', "%26"));
    } else {
        out.push_str(trimmed);
    }
    out
}

/// The sorted, re-encoded query without `jwt`.
///
/// On the hot path (every verified request) most names and values need no decoding or
/// encoding at all, so pieces stay borrowed from the query and only what changes allocates.
pub fn canonical_query(query: &str) -> String {
    let mut params: Vec<(Cow<'_, str>, Cow<'_, str>)> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = decode(name);
            (name != "jwt").then(|| (encode_owned(name), decode(value)))
        })
        .collect();
    // Names compare by their encoded form; values of one name compare raw (decoded), then
    // each is encoded once when joined.
    params.sort_unstable();
    let mut out = String::with_capacity(query.len());
    let mut i = 0;
    while i < params.len() {
        if !out.is_empty() {
            out.push('&');
        }
        let name = &params[i].0;
        out.push_str(name);
        out.push('=');
        let mut first = true;
        while i < params.len() && &params[i].0 == name {
            if !first {
                out.push(',');
            }
            out.extend(utf8_percent_encode(&params[i].1, RFC3986));
            first = false;
            i += 1;
        }
    }
    out
}

/// Decodes form-style: `+` is a space, `%XX` the byte XX (a `%` without two hex digits stays
/// as it is), invalid UTF-8 is replaced rather than refused. Borrows when there is nothing to
/// decode; otherwise one pass and one allocation (this runs for every parameter of every
/// verified request).
pub(crate) fn decode(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let Some(first) = bytes.iter().position(|&b| b == b'%' || b == b'+') else {
        return Cow::Borrowed(text);
    };
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&bytes[..first]);
    let mut i = first;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (
                bytes.get(i + 1).and_then(hex),
                bytes.get(i + 2).and_then(hex),
            ) {
                (Some(high), Some(low)) => {
                    out.push(high << 4 | low);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            other => out.push(other),
        }
        i += 1;
    }
    Cow::Owned(match String::from_utf8(out) {
        Ok(decoded) => decoded,
        Err(invalid) => String::from_utf8_lossy(invalid.as_bytes()).into_owned(),
    })
}

/// The value of one hex digit.
fn hex(digit: &u8) -> Option<u8> {
    char::from(*digit).to_digit(16).map(|v| v as u8)
}

/// RFC 3986-encodes, keeping the borrow when nothing needs escaping.
fn encode_owned(text: Cow<'_, str>) -> Cow<'_, str> {
    match text {
        Cow::Borrowed(b) => utf8_percent_encode(b, RFC3986).into(),
        Cow::Owned(o) => Cow::Owned(utf8_percent_encode(&o, RFC3986).to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding_matches_plus_as_space_then_percent_decoding() {
        let reference = |t: &str| {
            percent_encoding::percent_decode_str(&t.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        };
        for text in [
            "plain",
            "a+b",
            "%2B+%2b",
            "%",
            "%4",
            "%zz%41",
            "%+1",
            "100%",
            "%E2%9C%93",
            "%FF%FE",
            "%C3",
            "%%41",
            "a%2",
            "+%20+",
            "%e2%9c%93x",
            "",
        ] {
            assert_eq!(decode(text), reference(text), "{text:?}");
        }
        assert!(matches!(decode("no-escapes"), Cow::Borrowed(_)));
    }

    #[test]
    fn jwt_is_never_part_of_the_canonical_query() {
        assert_eq!(canonical_query("b=2&jwt=abc&a=1"), "a=1&b=2");
        assert_eq!(canonical_query("jwt=abc"), "");
    }

    #[test]
    fn base_path_is_stripped_only_at_a_segment_boundary() {
        assert_eq!(canonical_path("/wiki/rest/api", "/wiki"), "/rest/api");
        assert_eq!(canonical_path("/wikipedia", "/wiki"), "/wikipedia");
        assert_eq!(canonical_path("/wiki/", "/wiki"), "/");
        assert_eq!(canonical_path("", ""), "/");
        assert_eq!(canonical_path("a&b/", ""), "/a%26b");
        assert_eq!(canonical_path("/a&b&c", ""), "/a%26b%26c");
    }

    #[test]
    fn lifecycle_hash_matches_the_known_value() {
        assert_eq!(
            canonical_request("POST", "/installed", "", ""),
            "POST&/installed&"
        );
        // sha256("POST&/installed&"), computed independently.
        assert_eq!(
            qsh("POST", "/installed", "", ""),
            "4a2e1de8ca74e6cafe8862d332fa3ac7a8e51e692bc6d798ea4dfedc14948bf4"
        );
    }
}
