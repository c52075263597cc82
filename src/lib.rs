//! todo-connect: a Todo app inside Atlassian Confluence, as an Atlassian Connect app.
//!
//! [`Application::build`] wires everything once (settings, pool, migrations, templates,
//! descriptor, caches) and binds its listener, so `main` and the tests start the same server.

pub mod cli;
pub mod config;
pub mod connect;
pub mod db;
pub mod error;
pub mod ops;
pub mod todo;
pub mod web;

use std::net::TcpListener;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header::HeaderValue;
use actix_web::{App, HttpServer, middleware::from_fn, web as aweb};

use crate::config::Settings;
use crate::connect::Connect;
use crate::db::Pool;

/// How long in-flight requests get to finish after SIGTERM/SIGINT.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
/// A client must send its request head within this, or the connection is closed (slowloris).
pub const CLIENT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Timeout of every outbound HTTP call (key server, Confluence, OAuth).
pub const OUTBOUND_TIMEOUT: Duration = Duration::from_secs(5);

/// Shared, read-mostly state built once before the server starts.
pub struct AppState {
    pub settings: Settings,
    pub templates: tera::Tera,
    pub assets: web::assets::Assets,
    /// The CSP for HTML responses that did not set their own.
    pub default_csp: HeaderValue,
}

/// Why the application could not start; printed as one line.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Db(#[from] db::DbError),
    #[error("templates: {0}")]
    Templates(String),
    #[error("{0}")]
    Descriptor(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("HTTP client: {0}")]
    Http(String),
}

/// Builds the HTTP client every outbound call shares: timeouts, no redirects.
pub fn http_client() -> Result<reqwest::Client, StartupError> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(3))
        .timeout(OUTBOUND_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("todo-connect/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| StartupError::Http(e.to_string()))
}

/// Opens the database and applies pending migrations (what `serve` and `migrate` share).
pub fn open_database(settings: &Settings) -> Result<Pool, StartupError> {
    let pool = db::open_pool(&settings.database_path, 16)?;
    let mut conn = pool.get().map_err(db::DbError::from)?;
    let applied = db::migrate(&mut conn)?;
    for name in applied {
        log::info!("applied migration {name}");
    }
    Ok(pool)
}

/// Indexes the embedded assets and parses the templates: what `descriptor` and `serve` share.
pub fn build_state(settings: Settings) -> Result<AppState, StartupError> {
    let assets = web::assets::Assets::embedded();
    let templates =
        web::templates::build(&assets).map_err(|e| StartupError::Templates(format!("{e:?}")))?;
    let default_csp = HeaderValue::from_str(&web::content_security_policy(None))
        .map_err(|e| StartupError::Templates(e.to_string()))?;
    Ok(AppState {
        settings,
        templates,
        assets,
        default_csp,
    })
}

/// Registers every route. Shared by the server and in-process tests.
pub fn configure(cfg: &mut aweb::ServiceConfig) {
    cfg.route("/", aweb::get().to(web::pages::landing))
        // HEAD too: load balancers and uptime monitors often probe with it.
        .route("/healthz", aweb::get().to(web::pages::healthz))
        .route("/healthz", aweb::head().to(web::pages::healthz))
        .route("/readyz", aweb::get().to(web::pages::readyz))
        .route("/readyz", aweb::head().to(web::pages::readyz))
        .route(
            "/atlassian-connect.json",
            aweb::get().to(connect::descriptor::serve),
        )
        .route(
            "/confluence/descriptor",
            aweb::get().to(connect::descriptor::serve),
        )
        .service(
            aweb::scope("/confluence")
                .app_data(aweb::PayloadConfig::new(connect::lifecycle::MAX_BODY_BYTES))
                .route("/installed", aweb::post().to(connect::lifecycle::installed))
                .route(
                    "/uninstalled",
                    aweb::post().to(connect::lifecycle::uninstalled),
                )
                .route("/enabled", aweb::post().to(connect::lifecycle::enabled))
                .route("/disabled", aweb::post().to(connect::lifecycle::disabled))
                .configure(todo::configure_pages),
        )
        .service(aweb::scope("/api").configure(todo::configure_api))
        .default_service(aweb::to(web::pages::asset_or_404));
}

/// What every worker's [`app`] shares, built once before the server starts.
#[derive(Clone)]
pub struct AppData {
    state: aweb::Data<AppState>,
    connect: aweb::Data<Connect>,
    pool: aweb::Data<Pool>,
    hosts: aweb::Data<connect::host_client::HostClients>,
    display_names: aweb::Data<todo::people::DisplayNames>,
}

impl AppData {
    /// Builds templates, descriptor, caches and clients around an opened, migrated pool.
    pub fn build(
        settings: Settings,
        pool: Pool,
        http: reqwest::Client,
    ) -> Result<Self, StartupError> {
        let state = build_state(settings.clone())?;
        let descriptor = connect::descriptor::render(&state.templates, &settings)
            .map_err(StartupError::Descriptor)?;
        let hosts = connect::host_client::HostClients::new(
            http.clone(),
            &settings.addon_key,
            &settings.oauth_url,
        );
        Ok(Self {
            pool: aweb::Data::new(pool.clone()),
            hosts: aweb::Data::new(hosts),
            display_names: aweb::Data::new(todo::people::DisplayNames::default()),
            connect: aweb::Data::new(Connect::new(settings, pool, http, descriptor)),
            state: aweb::Data::new(state),
        })
    }
}

/// One worker's app (shared data, middleware, every route): served by [`Application::build`],
/// and called in-process by benchmarks through `actix_web::test::init_service`.
pub fn app(
    data: AppData,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(data.state)
        .app_data(data.connect)
        .app_data(data.pool)
        .app_data(data.hosts)
        .app_data(data.display_names)
        .wrap(from_fn(web::middleware::secure_and_log))
        .configure(configure)
}

/// A built server, bound to its port, not yet running.
pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    /// Opens the database, migrates, renders, binds `HOST:PORT` (port 0 picks a free one).
    pub fn build(settings: Settings) -> Result<Self, StartupError> {
        let pool = open_database(&settings)?;
        let http = http_client()?;
        let addr = format!("{}:{}", settings.host, settings.port);
        let max_connections = settings.max_connections;
        let listener = TcpListener::bind(&addr).map_err(|source| StartupError::Bind {
            addr: addr.clone(),
            source,
        })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartupError::Bind { addr, source })?
            .port();
        let data = AppData::build(settings, pool, http)?;
        let server = HttpServer::new(move || app(data.clone()))
            .shutdown_timeout(SHUTDOWN_GRACE.as_secs())
            .client_request_timeout(CLIENT_REQUEST_TIMEOUT)
            .client_disconnect_timeout(Duration::from_secs(5))
            .max_connections(max_connections)
            .listen(listener)
            .map_err(|source| StartupError::Bind {
                addr: "listener".into(),
                source,
            })?
            .run();
        Ok(Self { port, server })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGTERM/SIGINT, then finishes in-flight requests and returns.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
