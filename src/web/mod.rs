//! HTTP plumbing shared by every route: the request log, security headers, embedded assets,
//! templates and the operational pages (landing, health, readiness).

pub mod assets;
pub mod middleware;
pub mod pages;
pub mod templates;

/// Where AUI (Atlassian's UI library) is loaded from: a public npm CDN, pinned, with its SRI hash.
/// Atlassian's own AUI CDN shut down after 30 Oct 2026.
pub const AUI_ORIGIN: &str = "https://cdn.jsdelivr.net";
/// The pinned AUI stylesheet.
pub const AUI_CSS_URL: &str =
    "https://cdn.jsdelivr.net/npm/@atlassian/aui@10.0.4/dist/aui/aui-prototyping.css";
/// Subresource integrity of [`AUI_CSS_URL`], computed from the npm tarball of @atlassian/aui 10.0.4.
pub const AUI_CSS_INTEGRITY: &str =
    "sha384-7BUUxELuk9Pmh15FojXnaie6/FuetC1oY0glzNaWkckY+iXM7S9QL6JqaDCl6BVO";
/// The Connect JavaScript; a constant, never built from request parameters.
pub const CONNECT_JS_URL: &str = "https://connect-cdn.atl-paas.net/all.js";
/// Origin of [`CONNECT_JS_URL`], for the CSP.
pub const CONNECT_JS_ORIGIN: &str = "https://connect-cdn.atl-paas.net";

/// Escapes text for HTML element content and quoted attributes.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// The Content-Security-Policy for our HTML: scripts and styles only from us, the Connect CDN
/// and the pinned AUI origin; framing only by Atlassian's sites (and the tenant's display URL).
pub fn content_security_policy(extra_frame_ancestor: Option<&str>) -> String {
    let mut ancestors = String::from("https://*.atlassian.net https://*.jira.com");
    if let Some(origin) = extra_frame_ancestor.and_then(https_origin) {
        ancestors.push(' ');
        ancestors.push_str(origin);
    }
    format!(
        "default-src 'self'; script-src 'self' {CONNECT_JS_ORIGIN}; style-src 'self' {AUI_ORIGIN}; \
         img-src 'self' data:; font-src 'self' data: {AUI_ORIGIN}; connect-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors {ancestors}"
    )
}

/// The `https://host[:port]` origin of a URL, when it is one and safe to put in a header.
pub fn https_origin(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("https://")?;
    let end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..end];
    let safe = !authority.is_empty()
        && authority
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'));
    safe.then(|| &url[.."https://".len() + end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_neutralises_markup() {
        assert_eq!(
            escape_html("<script>alert('x')&\"</script>"),
            "&lt;script&gt;alert(&#x27;x&#x27;)&amp;&quot;&lt;/script&gt;"
        );
    }

    #[test]
    fn only_clean_https_origins_reach_the_csp() {
        assert_eq!(
            https_origin("https://acme.example.com/wiki"),
            Some("https://acme.example.com")
        );
        assert_eq!(https_origin("http://acme.example.com"), None);
        assert_eq!(https_origin("https://a.com;script-src *"), None);
        let csp = content_security_policy(Some("https://docs.acme.com/x"));
        assert!(
            csp.ends_with("https://*.jira.com https://docs.acme.com"),
            "{csp}"
        );
    }
}
