//! PostgreSQL behind the same stores: the pool (deadpool-postgres over tokio-postgres, TLS
//! through rustls) and the readiness probe here; the migrations in `db/migrations/postgres/`
//! applied under an advisory lock so that replicas starting together apply each exactly once
//! ([`migrate`](mod@migrate)), the advisory lock keys (`locks.rs`), and the notifications
//! (`notify.rs`) and listener ([`listen`]) that carry site changes between replicas.
//!
//! Every session gets a `statement_timeout` and a `lock_timeout`, so a stuck lock or a hung
//! query becomes an error (a 503 with `Retry-After`), like SQLite's busy timeout; and since a
//! server that does not answer cannot report its own timeout, every request's work also runs
//! under a deadline the app enforces itself ([`PgPool::run`], `deadline.rs`).

mod deadline;
pub(crate) mod listen;
mod locks;
mod migrate;
mod notify;
mod tls;

pub(crate) use locks::{SERVING_LOCK, SITES_LOCK};
pub(crate) use migrate::{migrate, schema_version};
pub(crate) use notify::{
    SITE_CHANGES_CHANNEL, payload_site, payload_tasks, site_payload, tasks_payload,
};

use std::future::Future;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, RecyclingMethod, Runtime};
use tokio_postgres::{Client, Connection, Socket};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::DbError;
use crate::config::DatabaseUrl;
use crate::error::{AppError, Result};

use deadpool_postgres::GenericClient;
use tokio_postgres::Error as PgError;

use deadline::DEFAULT_TIMEOUT;

/// Session settings of every pooled connection: a statement or lock wait longer than the
/// database timeout is a failure to report (503), not something to wait out.
fn session_options(timeout: Duration) -> String {
    let ms = timeout.as_millis();
    format!(
        "-c statement_timeout={ms}ms -c lock_timeout={ms}ms \
         -c idle_in_transaction_session_timeout=60s"
    )
}

/// The pool of connections to PostgreSQL, and how to open one more (the listener, commands).
#[derive(Clone)]
pub struct PgPool {
    pool: deadpool_postgres::Pool,
    url: DatabaseUrl,
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    /// What one [`PgPool::run`] may take, checkout included.
    deadline: Duration,
}

/// A pooled connection; it goes back to the pool when dropped.
type PgClient = deadpool_postgres::Object;

impl PgPool {
    /// A pool of at most `max_size` connections with the default database timeout; connects
    /// lazily, so it can be built anywhere.
    pub(crate) fn new(url: &DatabaseUrl, max_size: usize) -> std::result::Result<Self, DbError> {
        Self::with_timeout(url, max_size, DEFAULT_TIMEOUT)
    }

    /// A pool whose statements and lock waits end after `timeout` on the server, and whose
    /// [`PgPool::run`]s end shortly after on the client however the server behaves.
    pub(crate) fn with_timeout(
        url: &DatabaseUrl,
        max_size: usize,
        timeout: Duration,
    ) -> std::result::Result<Self, DbError> {
        let fail = |message: String| DbError::Postgres {
            url: url.to_string(),
            message,
        };
        let tls = tls::connector(url).map_err(fail)?;
        let mut config = url.config().clone();
        let ours = session_options(timeout);
        let options = match config.get_options() {
            Some(theirs) => format!("{ours} {theirs}"),
            None => ours,
        };
        config.options(options);
        if config.get_application_name().is_none() {
            config.application_name("todo-connect");
        }
        let deadline = deadline::client_deadline(timeout);
        deadline::bound_connections(&mut config, deadline);
        let manager = Manager::from_connect(
            config.clone(),
            OnIoRuntime { tls: tls.clone() },
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = deadpool_postgres::Pool::builder(manager)
            .max_size(max_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(deadline))
            .create_timeout(Some(deadline))
            .recycle_timeout(Some(deadline))
            .build()
            .map_err(|e| fail(e.to_string()))?;
        Ok(Self {
            pool,
            url: url.clone(),
            config,
            tls,
            deadline,
        })
    }

    /// Connections the pool keeps at most (`DATABASE_POOL_SIZE`).
    pub(crate) fn max_size(&self) -> usize {
        self.pool.status().max_size
    }

    /// The pool's connections right now (for the metrics, read at scrape time).
    pub(crate) fn status(&self) -> deadpool_postgres::Status {
        self.pool.status()
    }

    /// The URL, for messages (its `Display` has no password).
    fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// A connection of its own, outside the pool (the listener, long-running commands), with
    /// the connection future to drive.
    async fn connect(
        &self,
        config: &tokio_postgres::Config,
    ) -> std::result::Result<
        (
            Client,
            Connection<
                Socket,
                <MakeRustlsConnect as tokio_postgres::tls::MakeTlsConnect<Socket>>::Stream,
            >,
        ),
        PgError,
    > {
        config.connect(self.tls.clone()).await
    }

    /// The configuration pooled connections use (session options included).
    fn config(&self) -> &tokio_postgres::Config {
        &self.config
    }

    /// A dedicated connection for a command (migrate, purge, copy): no statement timeout,
    /// since a large copy or migration may rightly take long. Its connection runs on the
    /// current runtime.
    pub(crate) async fn command_client(&self) -> std::result::Result<Client, DbError> {
        let (client, connection) = self
            .connect(&self.config)
            .await
            .map_err(|e| self.error(e))?;
        actix_web::rt::spawn(async move {
            if let Err(e) = connection.await {
                log::warn!("PostgreSQL connection closed: {e}");
            }
        });
        client
            .batch_execute("SET statement_timeout = 0; SET lock_timeout = 0")
            .await
            .map_err(|e| self.error(e))?;
        Ok(client)
    }

    /// A [`DbError`] naming this database.
    pub(crate) fn error(&self, err: impl Describe) -> DbError {
        DbError::Postgres {
            url: self.url.to_string(),
            message: err.describe(),
        }
    }

    /// Whether the server answers within `patience` and accepts writes (a standby promoted
    /// away from, or a read-only session, is not ready).
    pub(crate) async fn ready(&self, patience: Duration) -> Result<()> {
        let probe = async |client: &mut PgClient| {
            let writable: bool = client
                .query_one(
                    "SELECT NOT pg_is_in_recovery() AND current_setting('transaction_read_only') = 'off'",
                    &[],
                )
                .await?
                .get(0);
            if writable {
                Ok(())
            } else {
                log::warn!("readiness: PostgreSQL accepts no writes (standby or read-only)");
                Err(AppError::Unavailable)
            }
        };
        self.run_within(patience, probe).await
    }
}

/// An error as a line worth printing. `tokio_postgres::Error`'s own `Display` says only
/// "db error" for an error from the server: the server's message, detail and code are added.
pub(crate) trait Describe {
    fn describe(&self) -> String;
}

impl Describe for PgError {
    fn describe(&self) -> String {
        match self.as_db_error() {
            Some(db) => {
                let mut text =
                    format!("{}: {} ({})", db.severity(), db.message(), db.code().code());
                if let Some(detail) = db.detail() {
                    text.push_str(&format!("; {detail}"));
                }
                text
            }
            None => match std::error::Error::source(self) {
                Some(cause) => format!("{self}: {cause}"),
                None => self.to_string(),
            },
        }
    }
}

impl Describe for String {
    fn describe(&self) -> String {
        self.clone()
    }
}

impl Describe for &str {
    fn describe(&self) -> String {
        self.to_string()
    }
}

/// The runtime every pooled connection lives on: one thread of its own for the process. A
/// connection made on an HTTP worker's runtime would die with that worker (actix stops idle
/// workers first during a graceful shutdown), under a request another worker still serves.
fn io_runtime() -> &'static tokio::runtime::Handle {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Handle> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .thread_name("postgres-io")
            .build()
            .expect("the PostgreSQL I/O runtime starts");
        let handle = runtime.handle().clone();
        std::thread::Builder::new()
            .name("postgres-io".into())
            .spawn(move || runtime.block_on(std::future::pending::<()>()))
            .expect("the PostgreSQL I/O thread starts");
        handle
    })
}

/// Connects on [`io_runtime`] and drives the connection there.
struct OnIoRuntime {
    tls: MakeRustlsConnect,
}

impl deadpool_postgres::Connect for OnIoRuntime {
    fn connect(
        &self,
        config: &tokio_postgres::Config,
    ) -> std::pin::Pin<
        Box<
            dyn Future<Output = std::result::Result<(Client, tokio::task::JoinHandle<()>), PgError>>
                + Send
                + '_,
        >,
    > {
        let (config, tls) = (config.clone(), self.tls.clone());
        Box::pin(async move {
            let connected = io_runtime().spawn(async move {
                let (client, connection) = config.connect(tls).await?;
                let driver = tokio::spawn(async move {
                    if let Err(e) = connection.await {
                        log::warn!("PostgreSQL connection closed: {}", e.describe());
                    }
                });
                Ok((client, driver))
            });
            match connected.await {
                Ok(result) => result,
                Err(join) => std::panic::resume_unwind(join.into_panic()),
            }
        })
    }
}

/// Opens the pool and applies pending migrations on a connection of their own. Callable from
/// synchronous code and from inside a runtime alike (the migration runs on its own thread).
pub fn open(url: &DatabaseUrl, max_size: usize) -> std::result::Result<PgPool, DbError> {
    open_with_timeout(url, max_size, DEFAULT_TIMEOUT)
}

/// [`open`] with the database timeout `DATABASE_TIMEOUT` gives (`PgPool::with_timeout`).
pub(crate) fn open_with_timeout(
    url: &DatabaseUrl,
    max_size: usize,
    timeout: Duration,
) -> std::result::Result<PgPool, DbError> {
    let pool = PgPool::with_timeout(url, max_size, timeout)?;
    let migrating = pool.clone();
    let applied = block_on(move || async move {
        let mut client = migrating.command_client().await?;
        migrate(&mut client)
            .await
            .map_err(|e| with_url(e, migrating.url()))
    })?;
    for name in applied {
        log::info!("applied migration {name} to {url}");
    }
    Ok(pool)
}

fn with_url(err: DbError, url: &DatabaseUrl) -> DbError {
    match err {
        DbError::Postgres { message, .. } => DbError::Postgres {
            url: url.to_string(),
            message,
        },
        other => other,
    }
}

/// Runs the future `work` makes to completion on a fresh single-threaded runtime on its own
/// thread: what synchronous code (start-up, commands) uses to talk to PostgreSQL, even when it
/// is itself called from inside a runtime.
pub(crate) fn block_on<T, W, F>(work: W) -> T
where
    T: Send + 'static,
    W: FnOnce() -> F + Send + 'static,
    F: Future<Output = T>,
{
    std::thread::spawn(move || actix_web::rt::System::new().block_on(work()))
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}
