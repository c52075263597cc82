//! Forge in tests: a local JWKS server standing in for Atlassian's key set, a minter of Forge
//! Invocation Tokens (FITs) signed with keys it publishes, and a Forge site that calls the app
//! the way Forge does (`Authorization: Bearer <FIT>`, optionally `x-forge-oauth-system`).
//!
//! The JWKS server runs on its own thread (plain sockets), so it serves sync tests, async tests
//! and a child-process server alike. Shared with the Custom UI browser test: its stand-in
//! `@forge/bridge` forwards `invokeRemote` with a token from [`ForgeSite::token`].

mod jwks;

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};

use crate::app::{Env, TestApp, spawn_app_with};
use crate::now;
use crate::rsa::{RsaKeys, new_rsa_keys};

pub use jwks::{JwksServer, public_jwk};

/// Our Forge app's id in tests, as `FORGE_APP_ID` is given (a bare uuid).
pub const FORGE_APP_UUID: &str = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b";
/// The same app as the ARI the tokens carry in `aud`.
pub const FORGE_APP_ARI: &str = "ari:cloud:ecosystem::app/6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b";
/// Another Forge app (its tokens must never be accepted by ours).
pub const OTHER_APP_ARI: &str = "ari:cloud:ecosystem::app/0a0b0c0d-1111-4222-8333-444455556666";
/// The `kid` the main test key is published under.
pub const FORGE_KID: &str = "forge-test-key-1";
/// The `iss` of every FIT.
pub const FIT_ISSUER: &str = "forge/invocation-token";

/// The main signing key (key generation is slow-ish, so made once).
pub fn forge_key() -> &'static RsaKeys {
    static KEY: OnceLock<RsaKeys> = OnceLock::new();
    KEY.get_or_init(|| new_rsa_keys().expect("RSA key pair"))
}

/// A second key, for rotation and wrong-key cases.
pub fn rotated_key() -> &'static RsaKeys {
    static KEY: OnceLock<RsaKeys> = OnceLock::new();
    KEY.get_or_init(|| new_rsa_keys().expect("RSA key pair"))
}

/// The environment that turns Forge on against `jwks` (for [`spawn_app_with`] or a child
/// process through `Binary::env`).
pub fn forge_env(jwks: &JwksServer) -> Env {
    vec![
        ("FORGE_APP_ID", FORGE_APP_UUID.to_string()),
        ("FORGE_JWKS_URL", jwks.url()),
    ]
}

/// The app in-process with Forge on, and the JWKS server it trusts.
pub struct ForgeApp {
    pub app: TestApp,
    pub jwks: JwksServer,
}

/// Starts the app with Forge on (plus `extra` environment).
pub async fn spawn_forge_app_with(extra: Env) -> ForgeApp {
    let jwks = JwksServer::start();
    let mut env = forge_env(&jwks);
    env.extend(extra);
    ForgeApp {
        app: spawn_app_with(env).await,
        jwks,
    }
}

/// Starts the app with Forge on.
pub async fn spawn_forge_app() -> ForgeApp {
    spawn_forge_app_with(Vec::new()).await
}

/// Signs `claims` as a FIT: RS256 with `keys`, the header naming `kid` (none when `None`).
pub fn sign_fit(claims: &Value, keys: &RsaKeys, kid: Option<&str>) -> String {
    crate::tokens::sign_rs256(claims, &keys.private_pem, kid).unwrap()
}

/// A Confluence site with our Forge app installed, calling the app as Forge does.
#[derive(Clone, Debug)]
pub struct ForgeSite {
    /// `app.installationId` (`ari:cloud:ecosystem::installation/<uuid>`); changes on reinstall.
    pub installation_id: String,
    /// `context.cloudId`: the site, stable across reinstalls.
    pub cloud_id: String,
    /// `app.apiBaseUrl`; by default on loopback with nothing listening, so a call the app
    /// makes to it fails at once instead of leaving this machine.
    pub api_base_url: String,
    /// The account id in `principal` (UI calls).
    pub principal: Option<String>,
}

/// A uuid-shaped id made of `n` (distinct per test, stable within one).
fn uuid_of(n: u64) -> String {
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        n as u32,
        (n >> 8) as u16,
        n % 0xfff,
        (n >> 4) % 0xfff,
        n
    )
}

fn unique() -> u64 {
    static NEXT: AtomicUsize = AtomicUsize::new(1);
    (now() as u64) << 16 | NEXT.fetch_add(1, Ordering::SeqCst) as u64
}

impl ForgeSite {
    /// A fresh site with a fresh installation.
    pub fn new() -> Self {
        let cloud_id = uuid_of(unique());
        Self {
            installation_id: format!("ari:cloud:ecosystem::installation/{}", uuid_of(unique())),
            api_base_url: format!("http://127.0.0.1:9/ex/confluence/{cloud_id}"),
            cloud_id,
            principal: Some("forge-account-1".to_string()),
        }
    }

    /// The same site after an uninstall and a new install: a new installation id.
    pub fn reinstalled(&self) -> Self {
        Self {
            installation_id: format!("ari:cloud:ecosystem::installation/{}", uuid_of(unique())),
            ..self.clone()
        }
    }

    /// The claims of a valid UI-call FIT, to be tweaked by tests.
    pub fn claims(&self) -> Value {
        let mut claims = json!({
            "iss": FIT_ISSUER,
            "aud": FORGE_APP_ARI,
            "iat": now(),
            "nbf": now(),
            "exp": now() + 300,
            "jti": format!("jti-{}", unique()),
            "app": {
                "id": FORGE_APP_ARI,
                "version": "1",
                "installationId": self.installation_id,
                "apiBaseUrl": self.api_base_url,
                "environment": {"type": "DEVELOPMENT", "id": "env-1"},
                "module": {"type": "xen:macro", "key": "todo-macro"},
            },
            "context": {
                "cloudId": self.cloud_id,
                "siteUrl": "https://forge-site.atlassian.net",
                "moduleKey": "todo-macro",
            },
        });
        if let Some(principal) = &self.principal {
            claims["principal"] = json!(principal);
        }
        claims
    }

    /// A valid FIT for a UI call, signed with the main key.
    pub fn token(&self) -> String {
        sign_fit(&self.claims(), forge_key(), Some(FORGE_KID))
    }

    /// A call to the app with a valid FIT (and the app system token, when given).
    pub async fn call(
        &self,
        app: &TestApp,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        self.call_with(app, &self.token(), None, method, path, body)
            .await
    }

    /// A call to the app with `token` as the FIT and `system_token` as `x-forge-oauth-system`.
    pub async fn call_with(
        &self,
        app: &TestApp,
        token: &str,
        system_token: Option<&str>,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut req = app.request(method, path, format!("Bearer {token}"), body);
        if let Some(system) = system_token {
            req = req.header("x-forge-oauth-system", system);
        }
        req.send().await.unwrap()
    }

    /// The body Forge posts for `avi:forge:installed:app`.
    pub fn installed_event(&self) -> Value {
        json!({
            "eventType": "avi:forge:installed:app",
            "id": self.installation_id,
            "installerAccountId": "forge-admin-1",
            "app": {"id": FORGE_APP_ARI, "version": "1.0.0"},
            "environment": {"id": "env-1"},
        })
    }
}

impl Default for ForgeSite {
    fn default() -> Self {
        Self::new()
    }
}

/// A Connect site's `installed` payload once the app adopted Connect on Forge: it also carries
/// the site's Forge installation id and cloud id.
pub fn adopted_payload(connect: &crate::site::Site, forge: &ForgeSite) -> Value {
    let mut payload = connect.payload();
    payload["installationId"] = json!(forge.installation_id);
    payload["cloudId"] = json!(forge.cloud_id);
    payload
}

impl crate::site::Site {
    /// Posts this site's signed `installed` carrying `forge`'s ids (Connect on Forge adopted);
    /// the status the app answered.
    pub async fn adopt_forge(&self, app: &crate::app::TestApp, forge: &ForgeSite) -> u16 {
        self.post_lifecycle(app, "installed", &adopted_payload(self, forge))
            .await
    }
}
