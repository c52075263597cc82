//! Start-up: the application state, built once before the server starts (settings, database,
//! templates, descriptor, caches, clients), the per-worker app, and [`Application`], which
//! binds its own listener so `main` and the tests start the same server.

use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{App, HttpServer, middleware::from_fn, web as aweb};

use super::routes;
use crate::bookkeeping::Bookkeeping;
use crate::config::Settings;
use crate::connect::{self, Connect};
use crate::db::{self, Db};
use crate::forge::Forge;
use crate::metrics::{self, Metrics};
use crate::site::SiteChanges;
use crate::todo::Todo;
use crate::util::http;
use crate::web::connections::PerAddressLimit;
use crate::web::{self, Web};

/// How long in-flight requests get to finish after SIGTERM/SIGINT.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
/// A client must send its request head within this, or the connection is closed (slowloris).
const CLIENT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections of the SQLite pool (PostgreSQL's is `DATABASE_POOL_SIZE`).
const POOL_SIZE: u32 = 16;
/// Connections the kernel queues for us while every worker is at `MAX_CONNECTIONS` (actix's
/// own default when it binds; the kernel caps it at `net.core.somaxconn`).
const LISTEN_BACKLOG: i32 = 2048;

/// Why the application could not start; printed as one line.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
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

/// Everything the workers share, built once. Each layer's part is registered on its own so a
/// handler's signature names the part it uses: `Data<Web>` (templates, assets; the middleware
/// reads it too), `Data<Connect>` (the Connect extractor and lifecycle), `Data<Forge>` (the
/// Forge extractors and events), `Data<Todo>` (the task handlers), `Data<Metrics>` (the
/// middleware records into it, the metrics listener serves it) and `Data<AppState>` for the
/// operational pages.
pub struct AppState {
    pub(crate) settings: Settings,
    pub(crate) db: Db,
    pub(crate) web: aweb::Data<Web>,
    connect: aweb::Data<Connect>,
    forge: aweb::Data<Forge>,
    todo: aweb::Data<Todo>,
    metrics: aweb::Data<Metrics>,
    /// Flushed once the server stopped taking requests.
    bookkeeping: Bookkeeping,
}

impl AppState {
    /// Builds templates, descriptor, caches and clients around an opened, migrated database.
    /// On PostgreSQL it also starts listening for the other replicas' lifecycle changes, on
    /// the current runtime.
    pub fn build(settings: Settings, db: Db, http: reqwest::Client) -> Result<Self, StartupError> {
        let web = build_web(&settings)?;
        let descriptor = render_descriptor(&web, &settings)?;
        // One count of site changes, so each way in sees the other's lifecycle changes.
        let changes = SiteChanges::default();
        // One bookkeeping (sites' last use, users seen) and its one writer, so each way in
        // counts the other's visits; a site found gone is told to the site changes.
        let bookkeeping = Bookkeeping::following(db.clone(), changes.clone());
        let forge = Forge::new(
            &settings,
            db.clone(),
            http.clone(),
            changes.clone(),
            bookkeeping.clone(),
        );
        let clients = forge.clients();
        let connect = Connect::new(
            settings.clone(),
            db.clone(),
            http,
            descriptor,
            changes,
            bookkeeping.clone(),
        );
        let todo = Todo::new(db.clone(), settings.max_tasks_per_site).with_jira_progress(clients);
        connect.watch_changes(todo.hearing());
        let metrics = Metrics::new(settings.metrics_addr.is_some(), &db);
        Ok(Self {
            metrics: aweb::Data::new(metrics),
            todo: aweb::Data::new(todo),
            connect: aweb::Data::new(connect),
            forge: aweb::Data::new(forge),
            web: aweb::Data::new(web),
            bookkeeping,
            db,
            settings,
        })
    }
}

/// The web layer for these settings (what `descriptor` and `serve` share).
pub(crate) fn build_web(settings: &Settings) -> Result<Web, StartupError> {
    Web::new(settings.site_url.is_https()).map_err(|e| StartupError::Templates(format!("{e:?}")))
}

/// The descriptor JSON, with the route table's paths.
pub(crate) fn render_descriptor(web: &Web, settings: &Settings) -> Result<String, StartupError> {
    connect::descriptor::render(&web.templates, settings, &routes::descriptor_paths())
        .map_err(StartupError::Descriptor)
}

/// Opens the database the settings name (PostgreSQL at `DATABASE_URL`, else the SQLite file)
/// and applies pending migrations (what `serve` and `migrate` share).
pub fn open_database(settings: &Settings) -> Result<Db, StartupError> {
    if let Some(url) = &settings.database_url {
        let pool = db::postgres::open_with_timeout(
            url,
            settings.database_pool_size,
            settings.database_timeout,
        )?;
        return Ok(Db::postgres(pool));
    }
    let pool = db::open_pool(&settings.database_path, POOL_SIZE)?;
    let mut conn = pool.get().map_err(db::DbError::from)?;
    for name in db::migrate(&mut conn)? {
        log::info!("applied migration {name}");
    }
    Ok(Db::new(pool))
}

/// One worker's app (shared state, middleware, every route): served by [`Application::build`],
/// and called in-process by benchmarks through `actix_web::test::init_service`.
pub fn app(
    state: aweb::Data<AppState>,
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
        .app_data(state.web.clone())
        .app_data(state.connect.clone())
        .app_data(state.forge.clone())
        .app_data(state.todo.clone())
        .app_data(state.metrics.clone())
        .app_data(state)
        .wrap(from_fn(web::middleware::secure_and_log))
        .configure(routes::configure)
}

/// A built server, bound to its port (and the metrics listener to `METRICS_ADDR`), not yet
/// running.
pub struct Application {
    port: u16,
    server: Server,
    metrics: Option<(Server, SocketAddr)>,
    /// The notes the last requests took, written before `run_until_stopped` returns.
    bookkeeping: Bookkeeping,
}

impl Application {
    /// Opens the database, migrates, renders, binds `HOST:PORT` (port 0 picks a free one).
    pub fn build(settings: Settings) -> Result<Self, StartupError> {
        let db = open_database(&settings)?;
        let http = http::client().map_err(|e| StartupError::Http(e.to_string()))?;
        let addr = format!("{}:{}", settings.host, settings.port);
        let max_connections = settings.max_connections;
        let per_address = PerAddressLimit::new(settings.max_connections_per_ip);
        let listener = bind(&addr).map_err(|source| StartupError::Bind {
            addr: addr.clone(),
            source,
        })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartupError::Bind { addr, source })?
            .port();
        let metrics_addr = settings.metrics_addr;
        let state = aweb::Data::new(AppState::build(settings, db, http)?);
        let bookkeeping = state.bookkeeping.clone();
        let metrics = metrics_addr
            .map(|addr| {
                metrics::listener::bind(addr, state.metrics.clone()).map_err(|source| {
                    StartupError::Bind {
                        addr: format!("{addr} (METRICS_ADDR)"),
                        source,
                    }
                })
            })
            .transpose()?;
        // Slow clients are bounded three ways: the head within CLIENT_REQUEST_TIMEOUT, the
        // body within web::body::BODY_DEADLINE, and at most MAX_CONNECTIONS_PER_IP connections
        // per address (checked before a byte is read), so slots stay free for everyone else.
        // (`max_connection_rate` only bounds TLS handshakes, which we do not do.)
        let server = HttpServer::new(move || app(state.clone()))
            .on_connect(move |conn, ext| per_address.on_connect(conn, ext))
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
        Ok(Self {
            port,
            server,
            metrics,
            bookkeeping,
        })
    }

    /// The bookkeeping its requests note (a test waits for it with
    /// [`Bookkeeping::flush`] before comparing the database with an earlier snapshot).
    pub fn bookkeeping(&self) -> Bookkeeping {
        self.bookkeeping.clone()
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The metrics listener's address actually bound (`METRICS_ADDR`; port 0 picks one).
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(|(_, addr)| *addr)
    }

    /// Serves until SIGTERM/SIGINT, then finishes in-flight requests, writes the bookkeeping
    /// they noted (as `main` writes out the buffered log lines) and returns; the metrics
    /// listener serves as long as the app does.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let metrics = self.metrics.map(|(server, _)| {
            let handle = server.handle();
            actix_web::rt::spawn(server);
            handle
        });
        let served = self.server.await;
        self.bookkeeping.flush().await;
        if let Some(handle) = metrics {
            handle.stop(true).await;
        }
        served
    }
}

/// Listens on `addr` (the first address it resolves to) with [`LISTEN_BACKLOG`].
fn bind(addr: &str) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let resolved = addr.to_socket_addrs()?.next().ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::NotFound, "resolves to no address")
    })?;
    let socket = Socket::new(Domain::for_address(resolved), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.bind(&resolved.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    Ok(socket.into())
}
