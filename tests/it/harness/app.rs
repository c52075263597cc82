//! The in-process way to run the app: `Application::build` on port 0 with a real temp-file
//! database, next to a real local key server holding an RSA key made in the test.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};

use super::api::{Application, Settings};
use super::rsa::{RsaKeys, new_rsa_keys};
use super::{ADDON_KEY, SITE_URL};

/// The `kid` the test install key is published under.
pub const INSTALL_KID: &str = "test-kid-1";

/// The install signing key shared by every test (key generation is slow-ish).
pub fn install_keys() -> &'static RsaKeys {
    static KEYS: OnceLock<RsaKeys> = OnceLock::new();
    KEYS.get_or_init(|| new_rsa_keys().expect("RSA key pair"))
}

/// A tiny key server: `GET /{kid}` answers the PEM registered for that kid, or 404, after
/// `delay` (zero unless a test sets it); it counts the requests it is handling at once.
pub struct KeyServer {
    pub url: String,
    pub keys: Arc<Mutex<HashMap<String, String>>>,
    pub hits: Arc<Mutex<Vec<String>>>,
    pub delay: Arc<Mutex<Duration>>,
    /// The most requests it was ever handling at the same time.
    pub max_in_flight: Arc<AtomicUsize>,
}

impl KeyServer {
    /// Starts on a free port of the current actix runtime, publishing [`install_keys`].
    pub fn start() -> Self {
        let keys: Arc<Mutex<HashMap<String, String>>> = Arc::default();
        let hits: Arc<Mutex<Vec<String>>> = Arc::default();
        let delay: Arc<Mutex<Duration>> = Arc::default();
        let in_flight: Arc<AtomicUsize> = Arc::default();
        let max_in_flight: Arc<AtomicUsize> = Arc::default();
        let shared = (
            keys.clone(),
            hits.clone(),
            delay.clone(),
            in_flight,
            max_in_flight.clone(),
        );
        let server = HttpServer::new(move || {
            let shared = shared.clone();
            App::new().default_service(web::to(move |req: actix_web::HttpRequest| {
                let (k, h, d, now, max) = shared.clone();
                async move {
                    let kid = req.path().trim_start_matches('/').to_string();
                    h.lock().unwrap().push(kid.clone());
                    let current = now.fetch_add(1, Ordering::SeqCst) + 1;
                    max.fetch_max(current, Ordering::SeqCst);
                    let pause = *d.lock().unwrap();
                    actix_web::rt::time::sleep(pause).await;
                    now.fetch_sub(1, Ordering::SeqCst);
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
            delay,
            max_in_flight,
        };
        ks.publish(INSTALL_KID, &install_keys().public_pem);
        ks
    }

    /// How many requests asked for `kid`.
    pub fn hits_for(&self, kid: &str) -> usize {
        self.hits
            .lock()
            .unwrap()
            .iter()
            .filter(|k| *k == kid)
            .count()
    }

    pub fn publish(&self, kid: &str, pem: &str) {
        self.keys
            .lock()
            .unwrap()
            .insert(kid.to_string(), pem.to_string());
    }
}

/// A running in-process app: its base address, database file and the key server it trusts.
pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub db_path: PathBuf,
    pub keys: KeyServer,
    pub client: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// Extra environment for [`spawn_app_with`].
pub type Env = Vec<(&'static str, String)>;

impl TestApp {
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
        super::postgres::on_postgres().then(|| super::postgres::database_for(&db_path))
    {
        env.insert("DATABASE_URL", url);
    }
    env.extend(extra);
    let settings = Settings::load(&|k| env.get(k).cloned(), dir.path()).expect("test settings");
    let app = Application::build(settings).expect("app builds");
    let port = app.port();
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
        _dir: dir,
    }
}
