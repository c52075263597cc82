//! The command line: `serve` (the default), `migrate`, `descriptor`, and the operations
//! `healthcheck`, `backup`, `restore` and `purge` (see [`crate::ops`]).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::app::startup;
use crate::config::Settings;
use crate::ops::{self, OpsError};
use crate::{Application, StartupError};

/// todo-connect: a Todo app inside Atlassian Confluence (one binary, one SQLite file).
///
/// Configuration comes from config/default.toml, config/<APP_ENV>.toml and environment
/// variables (APP_ENV, SITE_URL, HOST, PORT, DATABASE_PATH, CONNECT_KEYS_URL, ADDON_KEY, MAX_CONNECTIONS,
/// MAX_CONNECTIONS_PER_IP, MAX_TASKS_PER_SITE, ALLOWED_HOSTS, ATLASSIAN_OAUTH_URL, RUST_LOG); see
/// the README.
#[derive(Debug, Parser)]
#[command(name = "todo-connect", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What to do; `serve` when none is given.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (applies pending migrations first).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the rendered app descriptor JSON and exit.
    Descriptor,
    /// Exit 0 when the local server answers GET /healthz with 200, else 1 (container HEALTHCHECK).
    Healthcheck,
    /// Write a consistent snapshot of the database to FILE while the server keeps serving.
    Backup {
        /// Where to write the snapshot (a regular file, replaced atomically if it exists).
        file: PathBuf,
    },
    /// Replace the database with the backup FILE; refused while a server uses the database.
    Restore {
        /// A file written by `todo-connect backup`.
        file: PathBuf,
    },
    /// Delete the installation, users and tasks of sites uninstalled more than DAYS days ago.
    Purge {
        /// Age in days of the uninstall after which a site's data is deleted.
        #[arg(long, value_name = "DAYS")]
        uninstalled_for: u32,
        /// Print what would be deleted without deleting it.
        #[arg(long)]
        dry_run: bool,
    },
}

/// Why a command failed; printed as one line by `main`.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Startup(#[from] StartupError),
    #[error(transparent)]
    Ops(#[from] OpsError),
}

impl From<crate::config::ConfigError> for CliError {
    fn from(e: crate::config::ConfigError) -> Self {
        Self::Startup(e.into())
    }
}

impl From<crate::db::DbError> for CliError {
    fn from(e: crate::db::DbError) -> Self {
        Self::Startup(e.into())
    }
}

/// Runs a parsed command line; the error is printed as one line by `main`.
pub fn run(cli: Cli) -> Result<(), CliError> {
    let settings = Settings::from_process()?;
    let database = settings.database_path.clone();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => Ok(serve(settings)?),
        Command::Migrate => {
            let _lock = ops::lock::shared(&database)?;
            let pool = startup::open_database(&settings)?;
            let conn = pool.get().map_err(crate::db::DbError::from)?;
            let version = crate::db::schema_version(&conn).map_err(crate::db::DbError::from)?;
            println!(
                "database {} is at schema version {version}",
                settings.database_path.display()
            );
            Ok(())
        }
        Command::Descriptor => {
            let web = startup::build_web(&settings)?;
            println!("{}", startup::render_descriptor(&web, &settings)?);
            Ok(())
        }
        Command::Healthcheck => Ok(ops::health::check(&settings.host, settings.port)?),
        Command::Backup { file } => {
            let summary = ops::backup::backup(&database, &file)?;
            println!(
                "backed up {} to {} ({summary})",
                database.display(),
                file.display()
            );
            Ok(())
        }
        Command::Restore { file } => {
            let summary = ops::restore::restore(&database, &file)?;
            println!(
                "restored {} from {} ({summary})",
                database.display(),
                file.display()
            );
            Ok(())
        }
        Command::Purge {
            uninstalled_for,
            dry_run,
        } => {
            let report = ops::purge::purge(&database, uninstalled_for, dry_run)?;
            print_purge(&report);
            Ok(())
        }
    }
}

fn print_purge(report: &ops::purge::PurgeReport) {
    let verb = if report.dry_run {
        "would purge"
    } else {
        "purged"
    };
    for site in &report.sites {
        println!(
            "{verb} {} ({}, uninstalled {}): {} tasks, {} users",
            site.client_key, site.base_url, site.uninstalled_at, site.tasks, site.users
        );
    }
    println!(
        "{verb} {} sites uninstalled before {}",
        report.sites.len(),
        report.cutoff
    );
}

fn serve(settings: Settings) -> Result<(), CliError> {
    // Held until the server has stopped: `restore` refuses while it is.
    let lock = ops::lock::shared(&settings.database_path)?;
    let only_server = ops::lock::single_server(&settings.database_path)?;
    log::debug!(
        "holding {} and {}",
        lock.path().display(),
        only_server.path().display()
    );
    actix_web::rt::System::new().block_on(async move {
        let site_url = settings.site_url.clone();
        let database = settings.database_path.display().to_string();
        let app = Application::build(settings.clone())?;
        log::info!(
            "todo-connect {} ({}) listening on http://{}:{} for {site_url}, database {database}",
            env!("CARGO_PKG_VERSION"),
            settings.app_env.as_str(),
            settings.host,
            app.port(),
        );
        app.run_until_stopped()
            .await
            .map_err(|source| StartupError::Bind {
                addr: "server".into(),
                source,
            })?;
        log::info!("stopped");
        Ok::<_, StartupError>(())
    })?;
    drop(only_server);
    drop(lock);
    Ok(())
}
