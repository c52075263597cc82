//! URLs: parsed by the `url` crate and checked by one set of rules, the only place either
//! happens. A [`BaseUrl`] is where something lives (our `SITE_URL`, a key server, a site's
//! `baseUrl`); [`BaseUrl::resolve`] keeps calls on it.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};

use ::url::Url;

/// RFC 3986: everything but the unreserved characters `A-Z a-z 0-9 - . _ ~` is encoded.
pub(crate) const RFC3986: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Why a text is not an acceptable base URL; `Display` completes "must …".
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("be an http(s) URL")]
    NotHttp,
    #[error("start with https://")]
    NotHttps,
    #[error("be a plain base URL without query, fragment, credentials or spaces")]
    NotPlain,
}

/// An absolute http(s) URL without credentials, query or fragment, written without a
/// trailing slash (`https://acme.atlassian.net/wiki`, `http://127.0.0.1:3000`). Two are equal
/// when they are written the same.
#[derive(Clone)]
pub struct BaseUrl {
    url: Url,
    text: String,
}

impl BaseUrl {
    /// Checks `input`; with `https_only`, `http://` is refused. Characters a URL parser would
    /// silently drop or rewrite (spaces, controls, quotes, angle brackets…) are refused rather
    /// than repaired, so what is stored is what was checked.
    pub fn parse(input: &str, https_only: bool) -> Result<Self, UrlError> {
        let input = input.trim();
        let odd = |c: char| c.is_whitespace() || c.is_control() || "\"<>\\^`{|}".contains(c);
        if input.chars().any(odd) {
            return Err(UrlError::NotPlain);
        }
        let url = Url::parse(input).map_err(|_| UrlError::NotHttp)?;
        match url.scheme() {
            "https" => {}
            "http" if https_only => return Err(UrlError::NotHttps),
            "http" => {}
            _ => return Err(UrlError::NotHttp),
        }
        // A host that is a DNS name or an IP address, nothing a header could be split at.
        let host_ok = match url.host() {
            Some(::url::Host::Domain(name)) => {
                !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'))
            }
            Some(_) => true,
            None => false,
        };
        let plain = host_ok
            && url.username().is_empty()
            && url.password().is_none()
            && url.query().is_none()
            && url.fragment().is_none()
            && !input.contains(['?', '#', '@']);
        if !plain {
            return Err(UrlError::NotPlain);
        }
        let text = url.as_str().trim_end_matches('/').to_string();
        Ok(Self { url, text })
    }

    /// The URL without a trailing slash.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The path without its trailing slash: `""` for a root URL, `/wiki` for Confluence.
    pub fn path(&self) -> &str {
        self.url.path().trim_end_matches('/')
    }

    /// The host, lower-cased (`acme.atlassian.net`, `127.0.0.1`).
    pub fn host(&self) -> &str {
        self.url.host_str().unwrap_or_default()
    }

    /// `scheme://host[:port]`.
    pub fn origin(&self) -> String {
        self.url.origin().ascii_serialization()
    }

    /// Whether the scheme is https.
    pub fn is_https(&self) -> bool {
        self.url.scheme() == "https"
    }

    /// The absolute URL of `target` — a path below this URL (`/rest/api/user?accountId=…`)
    /// or an absolute URL — when it stays on it: same scheme, host and port, under its path,
    /// without credentials or fragment. Otherwise `Err` with what it would have called
    /// (`scheme://host/path`, no query), safe to log.
    pub(crate) fn resolve(&self, target: &str) -> Result<Url, String> {
        let relative = target.starts_with('/') && !target.starts_with("//");
        let parsed = if relative {
            Url::parse(&format!("{}{target}", self.text))
        } else {
            Url::parse(target)
        };
        let url = parsed.map_err(|_| "(unparsable URL)".to_string())?;
        let under = url
            .path()
            .strip_prefix(self.path())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
        let same_origin = url.scheme() == self.url.scheme()
            && url.host_str() == self.url.host_str()
            && url.port_or_known_default() == self.url.port_or_known_default();
        let clean =
            url.username().is_empty() && url.password().is_none() && url.fragment().is_none();
        if same_origin && under && clean {
            Ok(url)
        } else {
            Err(format!(
                "{}://{}{}",
                url.scheme(),
                url.host_str().unwrap_or(""),
                url.path()
            ))
        }
    }
}

impl std::fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// By the text, not the parsed URL, which keeps the trailing slash it was given: `…/wiki/` and
/// `…/wiki` are one base URL (found by the `base_url` fuzz target).
impl PartialEq for BaseUrl {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for BaseUrl {}

impl PartialEq<str> for BaseUrl {
    fn eq(&self, other: &str) -> bool {
        self.text == other
    }
}

impl PartialEq<&str> for BaseUrl {
    fn eq(&self, other: &&str) -> bool {
        self.text == *other
    }
}

impl std::fmt::Debug for BaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BaseUrl({})", self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(text: &str) -> BaseUrl {
        BaseUrl::parse(text, false).unwrap()
    }

    #[test]
    fn a_base_url_loses_its_trailing_slash_and_knows_its_parts() {
        let b = base("https://Acme.atlassian.net/wiki/");
        assert_eq!(b.as_str(), "https://acme.atlassian.net/wiki");
        assert_eq!(b.path(), "/wiki");
        assert_eq!(b.host(), "acme.atlassian.net");
        assert_eq!(b.origin(), "https://acme.atlassian.net");
        assert!(b.is_https());
        let root = base("http://127.0.0.1:8080");
        assert_eq!((root.as_str(), root.path()), ("http://127.0.0.1:8080", ""));
        assert_eq!(root.origin(), "http://127.0.0.1:8080");
    }

    #[test]
    fn a_base_url_equals_what_it_prints_parsed_again() {
        let given = base("https://Acme.atlassian.net/wiki/");
        assert_eq!(base(given.as_str()), given);
        assert_eq!(base("https://acme.atlassian.net/wiki"), given);
        assert_ne!(base("https://acme.atlassian.net/wik"), given);
    }

    #[test]
    fn only_plain_http_urls_are_base_urls_and_production_wants_https() {
        assert_eq!(
            BaseUrl::parse("http://acme.atlassian.net", true),
            Err(UrlError::NotHttps)
        );
        for bad in ["ftp://x.com", "acme.atlassian.net", "", "https://"] {
            assert!(BaseUrl::parse(bad, false).is_err(), "{bad:?}");
        }
        for bad in [
            "https://user@evil.com",
            "https://a.com/?x=1",
            "https://a.com/#f",
            "https://a.com/<script>",
            "https://a.com/a b",
            "https://a.com;script-src *",
            "https://a.com/\"x",
            "https://a.com;script-src",
            "https://a_b.com",
        ] {
            assert_eq!(
                BaseUrl::parse(bad, false),
                Err(UrlError::NotPlain),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn resolve_stays_on_the_base_url() {
        let b = base("https://acme.atlassian.net/wiki");
        assert_eq!(
            b.resolve("/rest/api/user?accountId=1").unwrap().as_str(),
            "https://acme.atlassian.net/wiki/rest/api/user?accountId=1"
        );
        assert!(b.resolve("https://acme.atlassian.net/wiki/x").is_ok());
        for foreign in [
            "https://evil.com/wiki/x",
            "http://acme.atlassian.net/wiki/x",
            "https://acme.atlassian.net:8443/wiki/x",
            "https://acme.atlassian.net/wikipedia",
            "https://acme.atlassian.net/other",
            "https://u:p@acme.atlassian.net/wiki/x",
            "//evil.com/wiki",
        ] {
            assert!(b.resolve(foreign).is_err(), "{foreign}");
        }
        assert_eq!(
            b.resolve("https://evil.com/wiki/x?secret=1").unwrap_err(),
            "https://evil.com/wiki/x"
        );
    }
}
