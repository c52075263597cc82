//! The in-process way to run the app: `Application::build` on port 0 with a real temp-file
//! database (on a PostgreSQL run, the database standing in for it), next to a real local key
//! server holding an RSA key made in the test.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::api::{Application, Settings};
use crate::keys::KeyServer;
use crate::{ADDON_KEY, SITE_URL};

/// A running in-process app: its base address, database file and the key server it trusts.
pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub db_path: PathBuf,
    pub keys: KeyServer,
    pub client: reqwest::Client,
    /// What the app's requests noted, written after their responses ([`TestApp::settle`]).
    bookkeeping: todo_connect::bookkeeping::Bookkeeping,
    _dir: tempfile::TempDir,
}

/// Extra environment for [`spawn_app_with`].
pub type Env = Vec<(&'static str, String)>;

impl TestApp {
    /// A request to the app's `path` with this `Authorization` header, `body` as JSON when
    /// given: what a site's calls (Connect or Forge) are built on.
    pub fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        authorization: String,
        body: Option<serde_json::Value>,
    ) -> reqwest::RequestBuilder {
        let req = self
            .client
            .request(method, format!("{}{path}", self.address))
            .header("Authorization", authorization);
        match body {
            Some(body) => req.json(&body),
            None => req,
        }
    }

    /// Waits until the bookkeeping the requests so far noted (sites' last use, users seen)
    /// is written: a request never waits for it, a snapshot of the database must.
    pub async fn settle(&self) {
        self.bookkeeping.flush().await;
    }

    /// The descriptor the app serves at `/atlassian-connect.json`.
    pub async fn descriptor(&self) -> serde_json::Value {
        self.client
            .get(format!("{}/atlassian-connect.json", self.address))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

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
    if let Some(url) =
        crate::postgres::on_postgres().then(|| crate::postgres::database_for(&db_path))
    {
        env.insert("DATABASE_URL", url);
    }
    env.extend(extra);
    let settings = Settings::load(&|k| env.get(k).cloned(), dir.path()).expect("test settings");
    let app = Application::build(settings).expect("app builds");
    let port = app.port();
    let bookkeeping = app.bookkeeping();
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        db_path,
        keys,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        bookkeeping,
        _dir: dir,
    }
}
