//! The command line: `serve` (the default), `migrate`, `descriptor`, `manifest`, and the operations
//! `healthcheck`, `backup`, `restore`, `copy`, `purge` and `sites` (see [`crate::ops`]).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::app::{manifest, startup};
use crate::config::Settings;
use crate::ops::{self, OpsError};
use crate::{Application, StartupError};

/// todo-connect: a Todo app inside Atlassian Confluence (one binary, one SQLite file).
///
/// Configuration comes from config/default.toml, config/<APP_ENV>.toml and environment
/// variables, later wins; the settings are listed below and in the README.
#[derive(Debug, Parser)]
#[command(
    name = "todo-connect",
    version,
    about,
    long_about,
    after_help = crate::config::settings_help()
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

/// What to do; `serve` when none is given.
#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server (applies pending migrations first).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the rendered app descriptor JSON and exit.
    Descriptor,
    /// Print the Forge manifest.yml (needs FORGE_APP_ID and an https SITE_URL) and exit.
    ///
    /// Three forms, one per stage of an app's life on Forge; deploy the one for your stage:
    ///
    ///   manifest                   Stage "new Forge app": a vendor with no Connect installs.
    ///                              Forge modules only (macro todo-task, the Todo global page).
    ///   manifest --with-connect    Stage "Connect on Forge": an existing Connect app moving its
    ///                              installs to Forge. Adds app.connect (key = ADDON_KEY, frozen
    ///                              after the first production deploy), the descriptor's modules
    ///                              as connectModules and the Connect scopes. Saved macros keep
    ///                              rendering through Connect; deploy it first and keep it until
    ///                              every site has taken it (`todo-connect sites`).
    ///   manifest --retire-connect  Stage "Connect retired": the release after the move, before
    ///                              Connect's end of support (2027-01-31). Keeps app.connect, drops
    ///                              every Connect module, the lifecycle and the Connect scopes, and
    ///                              gives the Forge macro the Connect macro's key, so the macros
    ///                              saved in pages render through Forge (todo-task stays, hidden,
    ///                              for the macros inserted through it meanwhile).
    ///
    /// Every form declares the Forge uninstall signal (preUninstall). The README's runbook
    /// "Moving a Connect install base to Forge" walks through the stages and how to roll back.
    #[command(verbatim_doc_comment)]
    Manifest {
        /// Stage "Connect on Forge": also declare the Connect app (app.connect, connectModules),
        /// for an existing Connect app moving its installations to Forge.
        #[arg(long, conflicts_with = "retire_connect")]
        with_connect: bool,
        /// Stage "Connect retired": keep app.connect, declare no Connect modules or scopes, and
        /// let the Forge macro take over the Connect macro's key and its saved macros.
        #[arg(long)]
        retire_connect: bool,
    },
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
    /// Copy every installation, user and task (with their ids) from the configured database to
    /// an empty one: a postgres:// URL, or a SQLite file path. Stop the servers first.
    Copy {
        /// The target: postgres://user:password@host/database, or a SQLite file path.
        #[arg(long, value_name = "URL_OR_FILE")]
        to: String,
    },
    /// Delete the installation, users and tasks of sites whose every way in (Connect, Forge)
    /// was uninstalled more than DAYS days ago and that nobody used since.
    Purge {
        /// Age in days of the last uninstall after which a site's data is deleted.
        #[arg(long, value_name = "DAYS")]
        uninstalled_for: u32,
        /// Print what would be deleted, and why, without deleting it.
        #[arg(long)]
        dry_run: bool,
    },
    /// List every site: how it is reached (connect / forge / both), each way in's state,
    /// installed, uninstalled and last-seen times, and its task count. Read-only; safe beside
    /// a running server.
    Sites {
        /// Print a JSON array (for scripts) instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Why a command failed; printed as one line by `main`.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Startup(#[from] StartupError),
    #[error(transparent)]
    Ops(#[from] OpsError),
    #[error(transparent)]
    Manifest(#[from] manifest::ManifestError),
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
            if let Some(url) = &settings.database_url {
                let pool = crate::db::postgres::open(url, 1)?;
                let version = crate::db::postgres::block_on(move || async move {
                    let client = pool.command_client().await?;
                    crate::db::postgres::schema_version(&client)
                        .await
                        .map_err(|e| pool.error(e))
                })?;
                println!("database {url} is at schema version {version}");
                return Ok(());
            }
            let _lock = ops::lock::shared(&database)?;
            let db = crate::db::open_pool(&settings.database_path, 1)?;
            let mut conn = db.get().map_err(crate::db::DbError::from)?;
            for name in crate::db::migrate(&mut conn)? {
                log::info!("applied migration {name}");
            }
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
        Command::Manifest {
            with_connect,
            retire_connect,
        } => {
            let web = startup::build_web(&settings)?;
            let descriptor = startup::render_descriptor(&web, &settings)?;
            let form = manifest::Form::from_flags(with_connect, retire_connect);
            print!("{}", manifest::render(&settings, &descriptor, form)?);
            Ok(())
        }
        Command::Healthcheck => Ok(ops::health::check(&settings.host, settings.port)?),
        Command::Backup { .. } if settings.database_url.is_some() => {
            Err(ops::backup::not_on_postgres("backup", &settings).into())
        }
        Command::Restore { .. } if settings.database_url.is_some() => {
            Err(ops::backup::not_on_postgres("restore", &settings).into())
        }
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
        Command::Copy { to } => {
            let from = match &settings.database_url {
                Some(url) => ops::copy::Endpoint::Postgres(Box::new(url.clone())),
                None => ops::copy::Endpoint::Sqlite(database.clone()),
            };
            let to = ops::copy::Endpoint::parse(&to)?;
            let (source, target) = (from.to_string(), to.to_string());
            let report = ops::copy::copy(from, to)?;
            let counts: Vec<String> = report
                .counts
                .iter()
                .map(|(table, n)| format!("{n} {table}"))
                .collect();
            println!(
                "copied {} from {source} to {target}; counts match; next task id {}",
                counts.join(", "),
                report.next_task_id
            );
            Ok(())
        }
        Command::Purge {
            uninstalled_for,
            dry_run,
        } => {
            let deployed = ops::deployed::Deployed::open(&settings)?;
            let report = ops::deployed::block_on(move || async move {
                deployed.check_version().await?;
                ops::purge::purge(&deployed.db, uninstalled_for, dry_run)
                    .await
                    .map_err(|e| deployed.error(e))
            })?;
            print_purge(&report);
            Ok(())
        }
        Command::Sites { json } => {
            let deployed = ops::deployed::Deployed::open(&settings)?;
            let sites = ops::deployed::block_on(move || async move {
                deployed.check_version().await?;
                ops::sites::list_sites(&deployed.db)
                    .await
                    .map_err(|e| deployed.error(e))
            })?;
            if json {
                println!("{}", ops::sites::to_json(&sites));
            } else {
                print!("{}", ops::sites::to_table(&sites));
            }
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
            "{verb} {} (site {}, {}; {}): {} tasks, {} users",
            site.name, site.id, site.base_url, site.reason, site.tasks, site.users
        );
    }
    println!(
        "{verb} {} sites whose every way in went before {}",
        report.sites.len(),
        report.cutoff
    );
}

fn serve(settings: Settings) -> Result<(), CliError> {
    // SQLite: held until the server has stopped (`restore` refuses while it is), and only one
    // server per file. PostgreSQL: any number of replicas, which hear each other's changes.
    let locks = match settings.database_url {
        Some(_) => None,
        None => {
            let lock = ops::lock::shared(&settings.database_path)?;
            let only_server = ops::lock::single_server(&settings.database_path)?;
            log::debug!(
                "holding {} and {}",
                lock.path().display(),
                only_server.path().display()
            );
            Some((lock, only_server))
        }
    };
    actix_web::rt::System::new().block_on(async move {
        let site_url = settings.site_url.clone();
        let database = match &settings.database_url {
            Some(url) => url.to_string(),
            None => settings.database_path.display().to_string(),
        };
        let app = Application::build(settings.clone())?;
        log::info!(
            "todo-connect {} ({}) listening on http://{}:{} for {site_url}, database {database}",
            env!("CARGO_PKG_VERSION"),
            settings.app_env.as_str(),
            settings.host,
            app.port(),
        );
        if let Some(addr) = app.metrics_addr() {
            log::info!("metrics on http://{addr}/metrics");
        }
        app.run_until_stopped()
            .await
            .map_err(|source| StartupError::Bind {
                addr: "server".into(),
                source,
            })?;
        log::info!("stopped");
        Ok::<_, StartupError>(())
    })?;
    drop(locks);
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use clap::CommandFactory;

    use super::*;
    use crate::config::SETTINGS;

    /// The names `listed` has that the settings do not (extra) and the settings it lacks
    /// (missing); both empty when it names exactly the settings.
    fn differences(listed: &BTreeSet<String>) -> (Vec<String>, Vec<&'static str>) {
        let names: BTreeSet<&str> = SETTINGS.iter().map(|s| s.name).collect();
        let extra = listed
            .iter()
            .filter(|n| !names.contains(n.as_str()))
            .cloned()
            .collect();
        let missing = names.into_iter().filter(|n| !listed.contains(*n)).collect();
        (extra, missing)
    }

    /// The variables the README's configuration table names in its first column.
    fn readme_settings() -> BTreeSet<String> {
        let readme = include_str!("../README.md");
        let section = readme
            .split("\n## Configuration\n")
            .nth(1)
            .expect("the README has a Configuration section");
        let section = section.split("\n## ").next().unwrap_or(section);
        let mut names = BTreeSet::new();
        for line in section.lines().filter(|l| l.starts_with("| `")) {
            let first_cell = line.split('|').nth(1).unwrap_or("");
            for (i, part) in first_cell.split('`').enumerate() {
                if i % 2 == 1 {
                    names.insert(part.to_string());
                }
            }
        }
        names
    }

    /// The variables `--help` lists under its settings heading.
    fn help_settings() -> BTreeSet<String> {
        let help = Cli::command().render_long_help().to_string();
        let section = help
            .split("Settings (")
            .nth(1)
            .expect("--help lists the settings");
        section
            .lines()
            .skip(1)
            .filter_map(|line| line.strip_prefix("  "))
            .filter_map(|line| line.split_whitespace().next())
            .filter(|word| {
                word.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            })
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn the_readme_configuration_table_names_exactly_the_settings() {
        let listed = readme_settings();
        assert!(!listed.is_empty());
        let (extra, missing) = differences(&listed);
        assert!(
            extra.is_empty() && missing.is_empty(),
            "README configuration table: not settings {extra:?}, missing {missing:?}"
        );
    }

    #[test]
    fn help_names_exactly_the_settings() {
        let listed = help_settings();
        let (extra, missing) = differences(&listed);
        assert!(
            extra.is_empty() && missing.is_empty(),
            "--help: not settings {extra:?}, missing {missing:?}"
        );
        let short = Cli::command().render_help().to_string();
        assert!(
            short.contains("DATABASE_TIMEOUT"),
            "-h lists them too: {short}"
        );
    }

    #[test]
    fn a_name_too_many_or_too_few_is_reported_by_name() {
        let mut listed: BTreeSet<String> = SETTINGS.iter().map(|s| s.name.to_string()).collect();
        listed.remove("PORT");
        listed.insert("PROT".into());
        assert_eq!(differences(&listed), (vec!["PROT".into()], vec!["PORT"]));
    }
}
