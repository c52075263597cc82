//! The command line: `serve` (the default), `migrate`, `descriptor`.

use clap::{Parser, Subcommand};

use crate::config::Settings;
use crate::{Application, StartupError};

/// todo-connect: a Todo app inside Atlassian Confluence (one binary, one SQLite file).
///
/// Configuration comes from config/default.toml, config/<APP_ENV>.toml and environment
/// variables (APP_ENV, SITE_URL, HOST, PORT, DATABASE_PATH, CONNECT_KEYS_URL, ADDON_KEY,
/// ALLOWED_HOSTS, ATLASSIAN_OAUTH_URL, RUST_LOG); see the README.
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
}

/// Runs a parsed command line; the error is printed as one line by `main`.
pub fn run(cli: Cli) -> Result<(), StartupError> {
    let settings = Settings::from_process()?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings),
        Command::Migrate => {
            let pool = crate::open_database(&settings)?;
            let conn = pool.get().map_err(crate::db::DbError::from)?;
            let version = crate::db::schema_version(&conn).map_err(crate::db::DbError::from)?;
            println!(
                "database {} is at schema version {version}",
                settings.database_path.display()
            );
            Ok(())
        }
        Command::Descriptor => {
            let assets = crate::web::assets::Assets::embedded();
            let templates = crate::web::templates::build(&assets)
                .map_err(|e| StartupError::Templates(format!("{e:?}")))?;
            let json = crate::connect::descriptor::render(&templates, &settings)
                .map_err(StartupError::Descriptor)?;
            println!("{json}");
            Ok(())
        }
    }
}

fn serve(settings: Settings) -> Result<(), StartupError> {
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
        Ok(())
    })
}
