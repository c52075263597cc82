//! The one shape of `app.apiBaseUrl` we accept, store as a site's API URL and later call with
//! the app system token: `https://api.atlassian.com/ex/<confluence|jira>/<cloudId>`. The
//! staging host `https://api.stg.atlassian.com` only when the token was verified with the
//! staging key set (a production key never vouches for a staging URL); plain `http` on
//! loopback only outside production (the tests' stand-in Confluence). Anything else — another
//! host, a query, more path, another product — is refused (401), not stored.

/// Atlassian's API origin.
const PRODUCTION_ORIGIN: &str = "https://api.atlassian.com";
/// Atlassian's staging API origin.
const STAGING_ORIGIN: &str = "https://api.stg.atlassian.com";
/// The products whose API a site's base URL may name.
const PRODUCTS: &[&str] = &["confluence", "jira"];

/// Which origins a verified token's `apiBaseUrl` may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiBaseRule {
    /// The token was verified with Atlassian's staging key set.
    pub staging: bool,
    /// Not production: `http://127.0.0.1[:port]` and `http://localhost[:port]` too.
    pub loopback: bool,
}

impl ApiBaseRule {
    /// The cloud id of an acceptable `apiBaseUrl` (one trailing `/` tolerated), else `None`.
    pub(crate) fn cloud_id(&self, url: &str) -> Option<String> {
        let url = url.strip_suffix('/').unwrap_or(url);
        let (origin, rest) = url.split_once("/ex/")?;
        let (product, cloud_id) = rest.split_once('/')?;
        let origin_ok = origin == PRODUCTION_ORIGIN
            || (self.staging && origin == STAGING_ORIGIN)
            || (self.loopback && is_loopback_origin(origin));
        (origin_ok && PRODUCTS.contains(&product) && valid_cloud_id(cloud_id))
            .then(|| cloud_id.to_string())
    }
}

/// `http://127.0.0.1` or `http://localhost`, with an optional port.
fn is_loopback_origin(origin: &str) -> bool {
    let Some(host_port) = origin.strip_prefix("http://") else {
        return false;
    };
    let (host, port) = host_port.split_once(':').unwrap_or((host_port, "1"));
    matches!(host, "127.0.0.1" | "localhost")
        && !port.is_empty()
        && port.len() <= 5
        && port.bytes().all(|b| b.is_ascii_digit())
}

/// A cloud id: 1–64 of `[A-Za-z0-9-]` (a uuid in practice).
pub(crate) fn valid_cloud_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROD: ApiBaseRule = ApiBaseRule {
        staging: false,
        loopback: false,
    };

    #[test]
    fn only_atlassians_api_origin_with_a_product_and_a_cloud_id_is_accepted() {
        for (url, cloud) in [
            (
                "https://api.atlassian.com/ex/confluence/c0ffee-1",
                "c0ffee-1",
            ),
            ("https://api.atlassian.com/ex/jira/c0ffee-2/", "c0ffee-2"),
        ] {
            assert_eq!(PROD.cloud_id(url).as_deref(), Some(cloud), "{url}");
        }
        for url in [
            "https://api.stg.atlassian.com/ex/confluence/c0ffee",
            "http://api.atlassian.com/ex/confluence/c0ffee",
            "https://api.atlassian.com.evil.example/ex/confluence/c0ffee",
            "https://evil.example/ex/confluence/c0ffee",
            "https://api.atlassian.com/ex/bitbucket/c0ffee",
            "https://api.atlassian.com/ex/confluence/c0ffee/wiki",
            "https://api.atlassian.com/ex/confluence/c0ffee?x=1",
            "https://api.atlassian.com/ex/confluence/",
            "https://api.atlassian.com/ex/confluence/a..b/",
            "https://user@api.atlassian.com/ex/confluence/c0ffee",
            "http://127.0.0.1:9/ex/confluence/c0ffee",
        ] {
            assert_eq!(PROD.cloud_id(url), None, "{url}");
        }
    }

    #[test]
    fn staging_needs_the_staging_key_set_and_loopback_a_non_production_server() {
        let staging = ApiBaseRule {
            staging: true,
            loopback: false,
        };
        let url = "https://api.stg.atlassian.com/ex/confluence/c0ffee";
        assert_eq!(staging.cloud_id(url).as_deref(), Some("c0ffee"));
        let local = ApiBaseRule {
            staging: false,
            loopback: true,
        };
        assert!(
            local
                .cloud_id("http://127.0.0.1:9/ex/confluence/c0ffee")
                .is_some()
        );
        assert!(local.cloud_id("http://localhost/ex/jira/c0ffee").is_some());
        assert!(local.cloud_id("http://127.0.0.2/ex/jira/c0ffee").is_none());
        assert!(
            local
                .cloud_id("http://127.0.0.1:x/ex/jira/c0ffee")
                .is_none()
        );
        assert!(local.cloud_id(url).is_none());
    }
}
