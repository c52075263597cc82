//! Calling a site's REST API back as the app: an HS256 JWT signed with the site's shared secret
//! in `Authorization: JWT`, never `?jwt=`. Nothing is called as a user: what a user does on the
//! site (publishing a page) the page does through `AP.request`, so the app needs no
//! user-impersonation grant (`ACT_AS_USER`) and keeps no user token.
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
use serde::Serialize;

use super::installations::Installation;
use super::jwt;
use super::qsh;
use crate::util::http::OUTBOUND_TIMEOUT;
use crate::util::site_api::SiteApi;
use crate::util::time::unix_now;

/// Lifetime of the JWT on an app request.
const APP_TOKEN_LIFETIME_SECS: i64 = 180;

/// Everything needed to call any installed site, built once and shared by all requests.
#[derive(Clone)]
pub struct HostClients {
    shared: Arc<Shared>,
    timeout: Duration,
}

struct Shared {
    http: reqwest::Client,
    app_key: String,
}

impl HostClients {
    /// `http` must not follow redirects (see [`crate::util::http::client`]).
    pub fn new(http: reqwest::Client, app_key: &str) -> Self {
        let shared = Shared {
            http,
            app_key: app_key.to_string(),
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

/// Calls one site's REST API as the app.
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

impl HostClient {
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
}
