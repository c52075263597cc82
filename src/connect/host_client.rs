//! Calling a site's REST API back: as the app (an HS256 JWT signed with the site's shared secret
//! in `Authorization: JWT`, never `?jwt=`), or as a user (an OAuth 2.0 access token obtained with
//! the JWT bearer grant, cached per site, account and scopes, one exchange per key at a time).
//!
//! Only URLs on the installation's own `baseUrl` (same origin, under its path) are ever called;
//! anything else is refused before a byte is sent. Redirects are answered as errors, every call
//! is time-bounded and its response size-capped, and errors name the site and the endpoint
//! (method and path, no query) but never a token.

pub use crate::util::site_api::HostError;
pub(crate) use crate::util::site_api::HostResponse;

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use reqwest::header::AUTHORIZATION;
use serde::{Deserialize, Serialize};

use super::installations::Installation;
use super::jwt::{self, Secret};
use super::qsh;
use crate::util::flight::{FlightCache, Loaded};
use crate::util::http::OUTBOUND_TIMEOUT;
use crate::util::site_api::SiteApi;
use crate::util::time::unix_now;
use crate::util::url::BaseUrl;

/// Lifetime of the JWT on an app request.
const APP_TOKEN_LIFETIME_SECS: i64 = 180;
/// Lifetime of the assertion exchanged for a user's access token.
const ASSERTION_LIFETIME_SECS: i64 = 60;
/// The OAuth 2.0 grant type of the user-impersonation exchange.
const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// An access token is refreshed this long before it expires (at most half its lifetime).
const REFRESH_MARGIN: Duration = Duration::from_secs(60);
/// Access tokens kept at most (per site, account and scopes).
const MAX_CACHED_TOKENS: usize = 10_000;

/// (client key, account id, upper-cased sorted scopes joined by spaces).
type TokenKey = (String, String, String);

/// Everything needed to call any installed site, built once and shared by all requests.
#[derive(Clone)]
pub struct HostClients {
    shared: Arc<Shared>,
    timeout: Duration,
}

struct Shared {
    http: reqwest::Client,
    app_key: String,
    oauth_url: String,
    /// Access tokens, one exchange in flight per key; failures are not kept.
    tokens: FlightCache<TokenKey, Secret, HostError>,
}

impl HostClients {
    /// `http` must not follow redirects (see [`crate::util::http::client`]); `oauth_url` is the
    /// authorization server (`ATLASSIAN_OAUTH_URL`), also the `aud` of assertions.
    pub fn new(http: reqwest::Client, app_key: &str, oauth_url: &BaseUrl) -> Self {
        let shared = Shared {
            http,
            app_key: app_key.to_string(),
            oauth_url: oauth_url.as_str().to_string(),
            tokens: FlightCache::new(MAX_CACHED_TOKENS),
        };
        Self {
            shared: Arc::new(shared),
            timeout: OUTBOUND_TIMEOUT,
        }
    }

    /// Bounds every call to `timeout` instead of [`OUTBOUND_TIMEOUT`].
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// A client for one site.
    pub fn for_site(&self, installation: Arc<Installation>) -> HostClient {
        let api = SiteApi::new(
            self.shared.http.clone(),
            installation.base_url.clone(),
            self.timeout,
        );
        HostClient {
            clients: self.clone(),
            installation,
            api,
        }
    }
}

/// Calls one site's REST API, as the app or as one of its users.
#[derive(Clone)]
pub struct HostClient {
    clients: HostClients,
    installation: Arc<Installation>,
    /// The site's base URL under the shared outbound rules.
    api: SiteApi,
}

#[derive(Serialize)]
struct AppClaims<'a> {
    iss: &'a str,
    iat: i64,
    exp: i64,
    qsh: String,
}

#[derive(Serialize)]
struct AssertionClaims<'a> {
    iss: String,
    sub: String,
    tnt: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: u64,
    #[serde(default)]
    token_type: Option<String>,
}

impl HostClient {
    /// The site's base URL, which also names it in errors.
    pub(crate) fn base_url(&self) -> &BaseUrl {
        &self.installation.base_url
    }

    fn site(&self) -> String {
        self.installation.base_url.to_string()
    }

    /// Calls `target` (a path relative to the base URL, such as `/rest/api/content`,
    /// or an absolute URL on it) as the app, signed with the site's shared secret.
    pub async fn as_app(
        &self,
        method: Method,
        target: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<HostResponse, HostError> {
        let (url, endpoint) = self.api.resolve(&method, target)?;
        let iat = unix_now();
        let claims = AppClaims {
            iss: &self.clients.shared.app_key,
            iat,
            exp: iat + APP_TOKEN_LIFETIME_SECS,
            qsh: qsh::qsh(
                method.as_str(),
                url.path(),
                url.query().unwrap_or(""),
                self.installation.base_url.path(),
            ),
        };
        let token = jwt::sign_hs256(&claims, &self.installation.shared_secret)
            .map_err(|e| self.api.transport(&endpoint, e.to_string()))?;
        let request = self
            .api
            .request(method, url, body)
            .header(AUTHORIZATION, format!("JWT {token}"));
        self.api.send(request, endpoint).await
    }

    /// Calls `target` as the user `account_id`, with an access token for `scopes` (for example
    /// `["READ", "WRITE"]`; the descriptor must declare them and `ACT_AS_USER`).
    pub async fn as_user(
        &self,
        account_id: &str,
        scopes: &[&str],
        method: Method,
        target: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<HostResponse, HostError> {
        let (url, endpoint) = self.api.resolve(&method, target)?;
        let key = self.token_key(account_id, scopes);
        let token = self.access_token_for(&key).await?;
        let request = self
            .api
            .request(method, url, body)
            .header(AUTHORIZATION, format!("Bearer {}", token.expose()));
        let result = self.api.send(request, endpoint).await;
        if result.as_ref().err().and_then(HostError::status) == Some(401) {
            self.clients.shared.tokens.forget(&key);
        }
        result
    }

    /// The cached token for `key`, or the one exchange in flight for it (started if none).
    async fn access_token_for(&self, key: &TokenKey) -> Result<Secret, HostError> {
        let this = self.clone();
        let (account, scope) = (key.1.clone(), key.2.clone());
        let exchange = move || async move {
            match this.exchange(&account, &scope).await {
                Ok((token, lifetime)) => Loaded {
                    result: Ok(token),
                    keep_for: lifetime.saturating_sub(REFRESH_MARGIN.min(lifetime / 2)),
                },
                Err(err) => Loaded {
                    result: Err(err),
                    keep_for: Duration::ZERO,
                },
            }
        };
        let lost = self
            .api
            .transport("POST /oauth2/token", "the exchange was abandoned".into());
        self.clients.shared.tokens.get(key, exchange, lost).await
    }

    fn token_key(&self, account_id: &str, scopes: &[&str]) -> TokenKey {
        let mut scopes: Vec<String> = scopes.iter().map(|s| s.to_ascii_uppercase()).collect();
        scopes.sort();
        scopes.dedup();
        (
            self.installation.client_key.clone(),
            account_id.to_string(),
            scopes.join(" "),
        )
    }

    /// The JWT bearer grant: an assertion signed with the shared secret, for an access token.
    async fn exchange(
        &self,
        account_id: &str,
        scope: &str,
    ) -> Result<(Secret, Duration), HostError> {
        let client_id = self
            .installation
            .oauth_client_id
            .as_deref()
            .filter(|id| !id.is_empty())
            .ok_or_else(|| HostError::NoUserAccess {
                site: self.site(),
                reason: "the installation has no oauthClientId".into(),
            })?;
        let iat = unix_now();
        let claims = AssertionClaims {
            iss: format!("urn:atlassian:connect:clientid:{client_id}"),
            sub: format!("urn:atlassian:connect:useraccountid:{account_id}"),
            tnt: self.installation.base_url.as_str(),
            aud: &self.clients.shared.oauth_url,
            iat,
            exp: iat + ASSERTION_LIFETIME_SECS,
        };
        let endpoint = "POST /oauth2/token".to_string();
        let assertion = jwt::sign_hs256(&claims, &self.installation.shared_secret)
            .map_err(|e| self.api.transport(&endpoint, e.to_string()))?;
        let form = [
            ("grant_type", JWT_BEARER_GRANT),
            ("assertion", assertion.as_str()),
            ("scope", scope),
        ];
        let request = self
            .api
            .bounded(
                self.api
                    .http()
                    .post(format!("{}/oauth2/token", self.clients.shared.oauth_url)),
            )
            .form(&form);
        let answer: TokenAnswer = self.api.send(request, endpoint.clone()).await?.json()?;
        let bearer = answer
            .token_type
            .as_deref()
            .is_none_or(|t| t.eq_ignore_ascii_case("bearer"));
        if answer.access_token.is_empty() || !bearer {
            return Err(HostError::Decode {
                site: self.site(),
                endpoint,
                reason: "no bearer access token".into(),
            });
        }
        let lifetime = Duration::from_secs(answer.expires_in.min(24 * 3600));
        Ok((Secret::new(answer.access_token), lifetime))
    }
}
