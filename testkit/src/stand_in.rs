//! A site's Confluence on loopback that the app must never call: the tests behind a Connect
//! site, and behind a Forge site through Atlassian's API gateway (`/ex/confluence/<cloudId>/wiki/…`,
//! with an app system token it was told about), assert it saw nothing. What the page asks of
//! the host as the user is answered by the browser tests' stand-in `AP`, not here.

mod host;

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::{App, HttpRequest, HttpServer, web};

use crate::app::{TestApp, spawn_app};
use crate::forge::ForgeSite;
use crate::site::Site;

pub use host::{Caller, Host, Seen};

/// The site path of a request through the API gateway (`/ex/confluence/<cloudId>/wiki/…` →
/// `/wiki/…`); other paths as they are.
fn gateway_path(path: &str) -> &str {
    path.strip_prefix("/ex/confluence/")
        .and_then(|rest| rest.find('/').map(|i| &rest[i..]))
        .unwrap_or(path)
}

/// A site whose Confluence is a stand-in on loopback.
pub struct StandIn {
    pub site: Site,
    pub host: Arc<Host>,
}

impl StandIn {
    pub fn start(name: &str) -> Self {
        let mut site = Site::new(name);
        let confluence = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = confluence.local_addr().unwrap().port();
        site.base_url = format!("http://127.0.0.1:{port}/wiki");
        let host = Arc::new(Host::default());
        let h = host.clone();
        let server = HttpServer::new(move || {
            let h = h.clone();
            App::new()
                .app_data(web::PayloadConfig::new(1 << 20))
                .default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
                    h.clone().confluence(req, body)
                }))
        })
        .workers(1)
        .listen(confluence)
        .unwrap();
        actix_web::rt::spawn(server.run());
        Self { site, host }
    }

    /// The app with the site installed.
    pub async fn app(&self) -> TestApp {
        let app = spawn_app().await;
        self.site.install(&app).await;
        app
    }

    /// The same site reached through Forge: its `apiBaseUrl` is this Confluence behind the
    /// gateway path, and `system_token` is accepted as the app.
    pub fn forge_site(&self, system_token: &str) -> ForgeSite {
        self.host.accept_system_token(system_token);
        let origin = self.site.base_url.trim_end_matches("/wiki");
        let mut site = ForgeSite::new();
        site.api_base_url = format!("{origin}/ex/confluence/{}", site.cloud_id);
        site
    }

    pub fn seen_at(&self, path: &str) -> Vec<Seen> {
        let seen = self.host.seen();
        seen.into_iter().filter(|s| s.path == path).collect()
    }
}

/// A listener that accepts connections and never answers.
pub fn hung_host() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    port
}
