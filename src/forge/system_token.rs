//! The app system token Forge sends in `x-forge-oauth-system` (events and UI calls), kept in
//! memory only — per site, until shortly before it expires, never on disk, never in a log —
//! and [`ForgeClient`], which calls the site's REST API as the app with it
//! (`{apiBaseUrl}/wiki/rest/…`, `Authorization: Bearer`), under the same outbound rules as the
//! Connect host client ([`SiteApi`]: origin lock, timeouts, size cap, no redirects).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Method;
use reqwest::header::AUTHORIZATION;
use serde::Deserialize;

use super::jira::Product;
use crate::site::SiteId;
use crate::util::http::OUTBOUND_TIMEOUT;
use crate::util::secret::Secret;
use crate::util::site_api::{HostError, HostResponse, SiteApi};
use crate::util::time::unix_now;
use crate::util::url::BaseUrl;

/// The header Forge puts the app system token in.
pub(crate) const SYSTEM_TOKEN_HEADER: &str = "x-forge-oauth-system";
/// A system token longer than this is ignored.
const MAX_SYSTEM_TOKEN_LEN: usize = 8 * 1024;
/// How long a token is kept when its expiry cannot be read.
const UNKNOWN_LIFETIME: Duration = Duration::from_secs(30 * 60);
/// The longest a token is kept (Atlassian's live 2–4 h).
const MAX_LIFETIME: Duration = Duration::from_secs(4 * 60 * 60);
/// A token is dropped this long before its `exp`.
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);

struct Held {
    token: Secret,
    api: BaseUrl,
    until: Instant,
}

/// The newest system token of each site and product, with the API base URL it is for: a Jira
/// call's token names Jira's API (`/ex/jira/<cloudId>`), a Confluence call's Confluence's, and
/// one never stands in for the other.
#[derive(Default)]
pub(crate) struct SystemTokens {
    held: Mutex<HashMap<(SiteId, Product), Held>>,
}

/// The product an API base URL is for; Confluence (the app's required product) when the URL
/// names none.
fn product_of(api: &BaseUrl) -> Product {
    Product::of_api_base(api.as_str()).map_or(Product::Confluence, |(p, _)| p)
}

#[derive(Deserialize)]
struct ExpOnly {
    exp: i64,
}

impl SystemTokens {
    /// Keeps `token` for `site` (replacing an older one) unless it is oversized or expired.
    pub(crate) fn remember(&self, site: SiteId, token: &str, api: BaseUrl) {
        let token = token.trim();
        if token.is_empty() || token.len() > MAX_SYSTEM_TOKEN_LEN {
            log::debug!("system token for site {site} ignored: empty or oversized");
            return;
        }
        let lifetime = match jsonwebtoken::dangerous::insecure_decode_claims::<ExpOnly>(token) {
            Ok(claims) => {
                let left = claims.exp - unix_now() - EXPIRY_MARGIN.as_secs() as i64;
                Duration::from_secs(left.max(0) as u64).min(MAX_LIFETIME)
            }
            Err(_) => UNKNOWN_LIFETIME,
        };
        if lifetime.is_zero() {
            log::debug!("system token for site {site} ignored: expired");
            return;
        }
        let until = Instant::now() + lifetime;
        let key = (site, product_of(&api));
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        if held.get(&key).is_some_and(|h| h.until > until) {
            return;
        }
        let token = Secret::new(token);
        held.insert(key, Held { token, api, until });
    }

    /// The site's token and API base URL for `product`, while the token lives.
    fn get(&self, site: SiteId, product: Product) -> Option<(Secret, BaseUrl)> {
        let held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        held.get(&(site, product))
            .filter(|h| Instant::now() < h.until)
            .map(|h| (h.token.clone(), h.api.clone()))
    }

    /// Forgets `token` (the product refused it).
    fn forget(&self, site: SiteId, product: Product, token: &Secret) {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        if held
            .get(&(site, product))
            .is_some_and(|h| h.token == *token)
        {
            held.remove(&(site, product));
        }
    }
}

/// Why a Forge site could not be called.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum CallError {
    #[error("site {0}: no app system token in memory")]
    NoSystemToken(SiteId),
    #[error(transparent)]
    Host(#[from] HostError),
}

/// Makes [`ForgeClient`]s for any site, for work that outlives a request (the Todo layer's
/// background writes to Jira).
#[derive(Clone)]
pub(crate) struct ClientFactory {
    tokens: Arc<SystemTokens>,
    http: reqwest::Client,
}

impl ClientFactory {
    /// A factory sharing `tokens` and the outbound client.
    pub(crate) fn new(tokens: Arc<SystemTokens>, http: reqwest::Client) -> Self {
        Self { tokens, http }
    }

    /// A Confluence client for `site` (`.jira()` for Jira's API).
    pub(crate) fn client(&self, site: SiteId) -> ForgeClient {
        ForgeClient::new(site, self.tokens.clone(), self.http.clone())
    }
}

/// Calls one Forge site's REST API (Confluence's unless [`ForgeClient::jira`]) as the app,
/// with its system token for that product.
#[derive(Clone)]
pub(crate) struct ForgeClient {
    site: SiteId,
    product: Product,
    tokens: Arc<SystemTokens>,
    http: reqwest::Client,
    timeout: Duration,
}

impl ForgeClient {
    /// A client for `site` using the shared client and tokens.
    pub(crate) fn new(site: SiteId, tokens: Arc<SystemTokens>, http: reqwest::Client) -> Self {
        Self {
            site,
            product: Product::Confluence,
            tokens,
            http,
            timeout: OUTBOUND_TIMEOUT,
        }
    }

    /// The same site's Jira API (`{jiraApiBaseUrl}/rest/api/3/…`), with the token a Jira call
    /// carried.
    pub(crate) fn jira(&self) -> Self {
        Self {
            product: Product::Jira,
            ..self.clone()
        }
    }

    /// The same site's Confluence API, whichever product this client calls.
    pub(crate) fn confluence(&self) -> Self {
        Self {
            product: Product::Confluence,
            ..self.clone()
        }
    }

    /// The same site's API of `product`.
    pub(crate) fn for_product(&self, product: Product) -> Self {
        Self {
            product,
            ..self.clone()
        }
    }

    /// Calls `target` (a path below the API base URL, e.g. `/wiki/rest/api/content`)
    /// as the app. Without a live system token nothing is sent.
    pub(crate) async fn as_app(
        &self,
        method: Method,
        target: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<HostResponse, CallError> {
        let (token, base) = self
            .tokens
            .get(self.site, self.product)
            .ok_or(CallError::NoSystemToken(self.site))?;
        let api = SiteApi::new(self.http.clone(), base, self.timeout);
        let (url, endpoint) = api.resolve(&method, target)?;
        let request = api
            .request(method, url, body)
            .header(AUTHORIZATION, format!("Bearer {}", token.expose()));
        let result = api.send(request, endpoint).await;
        if result.as_ref().err().and_then(HostError::status) == Some(401) {
            self.tokens.forget(self.site, self.product, &token);
        }
        Ok(result?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn jwt_with_exp(exp: i64) -> String {
        let enc = |v: serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        format!(
            "{}.{}.sig",
            enc(serde_json::json!({"alg": "RS256"})),
            enc(serde_json::json!({"exp": exp}))
        )
    }

    const C: Product = Product::Confluence;

    fn api() -> BaseUrl {
        BaseUrl::parse("https://api.atlassian.com/ex/confluence/c", true).unwrap()
    }

    #[test]
    fn a_live_token_is_kept_per_site_and_an_expired_or_oversized_one_is_not() {
        let tokens = SystemTokens::default();
        let live = jwt_with_exp(unix_now() + 3600);
        tokens.remember(SiteId(1), &live, api());
        tokens.remember(SiteId(2), &jwt_with_exp(unix_now() + 30), api());
        tokens.remember(SiteId(3), &"x".repeat(MAX_SYSTEM_TOKEN_LEN + 1), api());
        tokens.remember(SiteId(4), "opaque-token", api());
        assert_eq!(tokens.get(SiteId(1), C).unwrap().0.expose(), live);
        assert!(
            tokens.get(SiteId(2), C).is_none(),
            "inside the expiry margin"
        );
        assert!(tokens.get(SiteId(3), C).is_none());
        assert!(
            tokens.get(SiteId(4), C).is_some(),
            "unreadable expiry: kept a while"
        );
        tokens.forget(SiteId(1), C, &Secret::new("another"));
        assert!(
            tokens.get(SiteId(1), C).is_some(),
            "only the refused token is forgotten"
        );
        tokens.forget(SiteId(1), C, &Secret::new(live));
        assert!(tokens.get(SiteId(1), C).is_none());
    }

    #[test]
    fn a_token_that_expires_sooner_does_not_replace_a_longer_lived_one() {
        let tokens = SystemTokens::default();
        let long = jwt_with_exp(unix_now() + 3 * 3600);
        tokens.remember(SiteId(1), &long, api());
        tokens.remember(SiteId(1), &jwt_with_exp(unix_now() + 600), api());
        assert_eq!(tokens.get(SiteId(1), C).unwrap().0.expose(), long);
    }

    #[test]
    fn a_jira_token_is_kept_beside_the_confluence_one_never_in_its_place() {
        let tokens = SystemTokens::default();
        let jira = BaseUrl::parse("https://api.atlassian.com/ex/jira/c", true).unwrap();
        let (c, j) = (
            jwt_with_exp(unix_now() + 3600),
            jwt_with_exp(unix_now() + 7200),
        );
        tokens.remember(SiteId(1), &c, api());
        tokens.remember(SiteId(1), &j, jira.clone());
        let (token, base) = tokens.get(SiteId(1), C).unwrap();
        assert_eq!(
            (token.expose(), base.as_str()),
            (c.as_str(), api().as_str())
        );
        let (token, base) = tokens.get(SiteId(1), Product::Jira).unwrap();
        assert_eq!((token.expose(), base.as_str()), (j.as_str(), jira.as_str()));
    }
}
