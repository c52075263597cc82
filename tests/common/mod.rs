//! Shared test helpers: a real server on port 0 with a real temp-file database, a real local
//! key server holding an RSA key made in the test, and Confluence sites that install themselves
//! with signed tokens and mint HS256 tokens for later requests.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::{App, HttpResponse, HttpServer, web};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use todo_connect::config::Settings;
use todo_connect::connect::qsh;

/// The public URL the test server claims to be (`SITE_URL`), the `aud` of install tokens.
pub const SITE_URL: &str = "https://todo.example.test";
/// The app key in tests.
pub const ADDON_KEY: &str = "todo-connect-test";

mod rsa;
pub use rsa::{RsaKeys, new_rsa_keys};

/// The install signing key shared by the tests of one binary (key generation is slow-ish).
pub fn install_keys() -> &'static RsaKeys {
    static KEYS: OnceLock<RsaKeys> = OnceLock::new();
    KEYS.get_or_init(|| new_rsa_keys().expect("RSA key pair"))
}

/// A tiny key server: `GET /{kid}` answers the PEM registered for that kid, or 404.
pub struct KeyServer {
    pub url: String,
    pub keys: Arc<Mutex<HashMap<String, String>>>,
    pub hits: Arc<Mutex<Vec<String>>>,
}

impl KeyServer {
    pub fn start() -> Self {
        let keys: Arc<Mutex<HashMap<String, String>>> = Arc::default();
        let hits: Arc<Mutex<Vec<String>>> = Arc::default();
        let (k, h) = (keys.clone(), hits.clone());
        let server = HttpServer::new(move || {
            let (k, h) = (k.clone(), h.clone());
            App::new().default_service(web::to(move |req: actix_web::HttpRequest| {
                let (k, h) = (k.clone(), h.clone());
                async move {
                    let kid = req.path().trim_start_matches('/').to_string();
                    h.lock().unwrap().push(kid.clone());
                    match k.lock().unwrap().get(&kid) {
                        Some(pem) => HttpResponse::Ok()
                            .content_type("application/x-pem-file")
                            .body(pem.clone()),
                        None => HttpResponse::NotFound().finish(),
                    }
                }
            }))
        })
        .workers(1)
        .bind("127.0.0.1:0")
        .unwrap();
        let port = server.addrs()[0].port();
        actix_web::rt::spawn(server.run());
        let ks = Self {
            url: format!("http://127.0.0.1:{port}"),
            keys,
            hits,
        };
        ks.publish("test-kid-1", &install_keys().public_pem);
        ks
    }

    pub fn publish(&self, kid: &str, pem: &str) {
        self.keys
            .lock()
            .unwrap()
            .insert(kid.to_string(), pem.to_string());
    }
}

/// A running app: its base address, database file and the key server it trusts.
pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub db_path: PathBuf,
    pub dir: tempfile::TempDir,
    pub keys: KeyServer,
    pub client: reqwest::Client,
    pub settings: Settings,
}

/// Extra environment for [`spawn_app_with`].
pub type Env = Vec<(&'static str, String)>;

/// Starts the app in-process on port 0 with a fresh database file.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(Vec::new()).await
}

/// Like [`spawn_app`], with environment overrides.
pub async fn spawn_app_with(extra: Env) -> TestApp {
    let keys = KeyServer::start();
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("data").join("test.sqlite3");
    let mut env: HashMap<&str, String> = HashMap::from([
        ("APP_ENV", "test".to_string()),
        ("SITE_URL", SITE_URL.to_string()),
        ("HOST", "127.0.0.1".to_string()),
        ("PORT", "0".to_string()),
        ("DATABASE_PATH", db_path.display().to_string()),
        ("CONNECT_KEYS_URL", keys.url.clone()),
        ("ADDON_KEY", ADDON_KEY.to_string()),
    ]);
    env.extend(extra);
    let settings = Settings::load(&|k| env.get(k).cloned(), dir.path()).expect("test settings");
    let app = todo_connect::Application::build(settings.clone()).expect("app builds");
    let port = app.port();
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        db_path,
        dir,
        keys,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        settings,
    }
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

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
        json!({
            "key": ADDON_KEY,
            "clientKey": self.client_key,
            "sharedSecret": self.secret,
            "baseUrl": self.base_url,
            "displayUrl": format!("https://{}.atlassian.net/wiki", self.client_key.trim_start_matches("client-")),
            "productType": "confluence",
            "description": "Atlassian Confluence at https://example.atlassian.net",
            "eventType": "installed",
            "oauthClientId": format!("oauth-{}", self.client_key),
            "serverVersion": "6452",
            "pluginsVersion": "1001.0.0",
        })
    }

    /// Claims of a valid install token for `path`, to be tweaked by tests.
    pub fn install_claims(&self, path: &str) -> Value {
        json!({
            "iss": self.client_key,
            "aud": SITE_URL,
            "iat": now(),
            "exp": now() + 180,
            "qsh": qsh::qsh("POST", path, "", ""),
        })
    }

    /// An RS256 token signed with the test install key.
    pub fn rs256(claims: &Value, kid: Option<&str>) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = kid.map(str::to_string);
        let key = EncodingKey::from_rsa_pem(install_keys().private_pem.as_bytes()).unwrap();
        jsonwebtoken::encode(&header, claims, &key).unwrap()
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
        self.hs256(&json!({
            "iss": self.client_key, "sub": account, "iat": now(), "exp": now() + 900,
            "qsh": "context-qsh", "context": {"user": {"accountId": account}}
        }))
    }

    /// Performs a signed install and asserts it was accepted.
    pub async fn install(&self, app: &TestApp) {
        let status = self.post_lifecycle(app, "installed", &self.payload()).await;
        assert_eq!(status, 204, "install of {} should succeed", self.client_key);
    }

    /// Posts a signed `installed`/`uninstalled` with this body; returns the status.
    pub async fn post_lifecycle(&self, app: &TestApp, event: &str, body: &Value) -> u16 {
        let path = format!("/confluence/{event}");
        let token = Self::rs256(&self.install_claims(&path), Some("test-kid-1"));
        app.client
            .post(format!("{}{path}", app.address))
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
        let mut req = app
            .client
            .request(method, format!("{}{path}", app.address))
            .header(
                "Authorization",
                format!("JWT {}", self.context_token(account)),
            );
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.unwrap()
    }
}

/// Signs claims with an arbitrary HMAC algorithm and secret (for the token matrix).
pub fn hs256_with(claims: &Value, secret: &str, alg: Algorithm) -> String {
    let key = EncodingKey::from_secret(secret.as_bytes()).unwrap();
    jsonwebtoken::encode(&Header::new(alg), claims, &key).unwrap()
}

/// A second connection to the app's database file, for assertions.
pub fn db(app: &TestApp) -> rusqlite::Connection {
    rusqlite::Connection::open(&app.db_path).unwrap()
}

/// The stored secret of a site (None when uninstalled or unknown).
pub fn stored_secret(app: &TestApp, client_key: &str) -> Option<String> {
    db(app)
        .query_row(
            "SELECT shared_secret FROM jwt_tokens WHERE client_key = ?1",
            [client_key],
            |r| r.get(0),
        )
        .unwrap_or(None)
}

/// A snapshot of every row of every table, to assert nothing changed.
pub fn dump(app: &TestApp) -> String {
    let conn = db(app);
    let mut out = String::new();
    for table in ["jwt_tokens", "jwt_users", "tasks"] {
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM {table} ORDER BY id"))
            .unwrap();
        let cols = stmt.column_count();
        let rows = stmt
            .query_map([], |row| {
                let vals: Vec<String> = (0..cols)
                    .map(|i| match row.get_ref(i).unwrap() {
                        rusqlite::types::ValueRef::Text(t) => {
                            String::from_utf8_lossy(t).into_owned()
                        }
                        other => format!("{other:?}"),
                    })
                    .collect();
                Ok(vals.join("|"))
            })
            .unwrap();
        for r in rows {
            out.push_str(table);
            out.push(':');
            out.push_str(&r.unwrap());
            out.push('\n');
        }
    }
    out
}

impl Site {
    /// Performs a signed install against a server at `address` (an app started as a separate
    /// process, not a [`TestApp`]) and asserts it was accepted.
    pub async fn install_at(&self, address: &str) {
        let path = "/confluence/installed";
        let token = Self::rs256(&self.install_claims(path), Some("test-kid-1"));
        let status = reqwest::Client::new()
            .post(format!("{address}{path}"))
            .header("Authorization", format!("JWT {token}"))
            .json(&self.payload())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        assert_eq!(status, 204, "install of {} should succeed", self.client_key);
    }
}

impl Site {
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
