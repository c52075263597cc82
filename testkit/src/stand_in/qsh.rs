//! The qsh, recomputed from Atlassian's rules without the app's code: what the stand-in
//! Confluence checks the app's JWTs against, so a bug in the app's qsh cannot hide itself.

use sha2::{Digest, Sha256};

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn rfc3986(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn expected_canonical(method: &str, path: &str, query: &str, base_path: &str) -> String {
    let relative = match path.strip_prefix(base_path) {
        Some(rest) if !base_path.is_empty() && (rest.is_empty() || rest.starts_with('/')) => rest,
        _ => path,
    };
    let mut canonical_path = relative.trim_end_matches('/').replace('&', "%26");
    if canonical_path.is_empty() {
        canonical_path = "/".into();
    }
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (rfc3986(&percent_decode(k)), percent_decode(v))
        })
        .filter(|(k, _)| k != "jwt")
        .collect();
    pairs.sort();
    let mut grouped: Vec<(String, Vec<String>)> = Vec::new();
    for (k, v) in pairs {
        match grouped.last_mut() {
            Some((name, values)) if *name == k => values.push(rfc3986(&v)),
            _ => grouped.push((k, vec![rfc3986(&v)])),
        }
    }
    let query: Vec<String> = grouped
        .into_iter()
        .map(|(k, vs)| format!("{k}={}", vs.join(",")))
        .collect();
    format!(
        "{}&{canonical_path}&{}",
        method.to_uppercase(),
        query.join("&")
    )
}

pub fn expected_qsh(method: &str, path: &str, query: &str, base_path: &str) -> String {
    Sha256::digest(expected_canonical(method, path, query, base_path).as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
