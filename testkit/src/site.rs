//! Confluence sites that talk to the app: they install themselves with signed RS256 tokens
//! and mint HS256 tokens with their shared secret for later requests.

use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

use crate::api::qsh;
use crate::app::TestApp;
use crate::keys::{INSTALL_KID, install_keys};
use crate::tokens;
use crate::{ADDON_KEY, SITE_URL};

pub use crate::now;

/// A Confluence site that talks to the app.
#[derive(Clone, Debug)]
pub struct Site {
    pub client_key: String,
    pub secret: String,
    pub base_url: String,
}

impl Site {
    pub fn new(name: &str) -> Self {
        Self {
            client_key: format!("client-{name}"),
            secret: format!("secret-of-{name}-{}", now()),
            // Loopback with nothing listening: the app's calls back to the site (display
            // names) fail at once instead of leaving this machine. Tests that need a real
            // stand-in Confluence set their own base URL.
            base_url: "http://127.0.0.1:9/wiki".to_string(),
        }
    }

    /// The lifecycle body Confluence posts.
    pub fn payload(&self) -> Value {
        let mut payload =
            tokens::install_payload(ADDON_KEY, &self.client_key, &self.secret, &self.base_url);
        let name = self.client_key.trim_start_matches("client-");
        payload["displayUrl"] = json!(format!("https://{name}.atlassian.net/wiki"));
        payload["oauthClientId"] = json!(format!("oauth-{}", self.client_key));
        payload
    }

    /// Claims of a valid install token for `path`, to be tweaked by tests.
    pub fn install_claims(&self, path: &str) -> Value {
        tokens::install_claims(&self.client_key, SITE_URL, path, "")
    }

    /// An RS256 token signed with the test install key.
    pub fn rs256(claims: &Value, kid: Option<&str>) -> String {
        tokens::sign_rs256(claims, &install_keys().private_pem, kid).unwrap()
    }

    /// An HS256 token signed with this site's secret.
    pub fn hs256(&self, claims: &Value) -> String {
        hs256_with(claims, &self.secret, Algorithm::HS256)
    }

    /// Claims of a valid product request token for `method path?query`.
    pub fn claims(&self, method: &str, path_and_query: &str) -> Value {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        json!({
            "iss": self.client_key,
            "sub": "account-1",
            "iat": now(),
            "exp": now() + 180,
            "qsh": qsh::qsh(method, path, query, ""),
            "context": {"user": {"accountId": "account-1"}}
        })
    }

    /// A valid token for the request (what Confluence puts in an iframe URL or header).
    pub fn token(&self, method: &str, path_and_query: &str) -> String {
        self.hs256(&self.claims(method, path_and_query))
    }

    /// A browser context token (`qsh: context-qsh`) for an account.
    pub fn context_token(&self, account: &str) -> String {
        self.hs256(&tokens::context_claims(&self.client_key, account, 900))
    }

    /// Performs a signed install and asserts it was accepted.
    pub async fn install(&self, app: &TestApp) {
        let status = self.post_lifecycle(app, "installed", &self.payload()).await;
        assert_eq!(status, 204, "install of {} should succeed", self.client_key);
    }

    /// Performs a signed install against a server at `address` (in-process or a child
    /// process) and asserts it was accepted.
    pub async fn install_at(&self, address: &str) {
        let status = self
            .post_lifecycle_at(
                &reqwest::Client::new(),
                address,
                "installed",
                &self.payload(),
            )
            .await;
        assert_eq!(status, 204, "install of {} should succeed", self.client_key);
    }

    /// Posts a signed `installed`/`uninstalled` with this body; returns the status.
    pub async fn post_lifecycle(&self, app: &TestApp, event: &str, body: &Value) -> u16 {
        self.post_lifecycle_at(&app.client, &app.address, event, body)
            .await
    }

    pub async fn post_lifecycle_at(
        &self,
        client: &reqwest::Client,
        address: &str,
        event: &str,
        body: &Value,
    ) -> u16 {
        self.post_lifecycle_signed(client, address, event, body, INSTALL_KID)
            .await
    }

    /// Posts `installed`/`uninstalled` with a token naming `kid` (signed with the test key,
    /// whichever key the kid names); returns the status.
    pub async fn post_lifecycle_signed(
        &self,
        client: &reqwest::Client,
        address: &str,
        event: &str,
        body: &Value,
        kid: &str,
    ) -> u16 {
        let path = format!("/confluence/{event}");
        let token = Self::rs256(&self.install_claims(&path), Some(kid));
        client
            .post(format!("{address}{path}"))
            .header("Authorization", format!("JWT {token}"))
            .json(body)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// GET with `Authorization: JWT <valid token>`.
    pub async fn get(&self, app: &TestApp, path_and_query: &str) -> reqwest::Response {
        let token = self.token("GET", path_and_query);
        app.client
            .get(format!("{}{path_and_query}", app.address))
            .header("Authorization", format!("JWT {token}"))
            .send()
            .await
            .unwrap()
    }

    /// A JSON API call with a context token of `account-1`.
    pub async fn api(
        &self,
        app: &TestApp,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        self.api_as(app, "account-1", method, path, body).await
    }

    /// A JSON API call with a context token of `account`.
    pub async fn api_as(
        &self,
        app: &TestApp,
        account: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let authorization = format!("JWT {}", self.context_token(account));
        app.request(method, path, authorization, body)
            .send()
            .await
            .unwrap()
    }

    /// Creates a task through the API as `account-1` and returns it as JSON (asserts 201).
    pub async fn create_task(&self, app: &TestApp, title: &str) -> Value {
        let res = self
            .api(
                app,
                reqwest::Method::POST,
                "/api/tasks",
                Some(json!({"title": title})),
            )
            .await;
        assert_eq!(res.status(), 201, "creating {title:?}");
        res.json().await.unwrap()
    }
}

/// Signs claims with an arbitrary HMAC algorithm and secret (for the token matrix).
pub fn hs256_with(claims: &Value, secret: &str, alg: Algorithm) -> String {
    tokens::sign_hmac(claims, secret, alg).unwrap()
}
