//! Typed settings: built-in defaults < `config/default.toml` < `config/<APP_ENV>.toml` <
//! environment variables.
//!
//! Each setting is declared once, in `settings!` (its TOML key, variable, raw type, and the
//! default and help line operators read); [`SETTINGS`] lists them all, `--help` prints that
//! list, and tests check that the README's configuration table names exactly these settings
//! and that the defaults shown are those [`Settings::resolve`] applies beside its validation.
//! A bad value stops start-up with one line that names the variable.

mod database_url;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::util::text::one_line;
use crate::util::url::{BaseUrl, UrlError};
pub use database_url::DatabaseUrl;
pub(crate) use database_url::TlsMode;

/// Which of the three deployment environments we run in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    Development,
    Test,
    Production,
}

impl AppEnv {
    pub(crate) fn parse(value: &str) -> Result<Self, ConfigError> {
        match value {
            "development" => Ok(Self::Development),
            "test" => Ok(Self::Test),
            "production" => Ok(Self::Production),
            other => Err(ConfigError::new(
                "APP_ENV",
                format!("must be development, test or production (got {other:?})"),
            )),
        }
    }

    /// The lowercase name used in file names and default keys.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Test => "test",
            Self::Production => "production",
        }
    }
}

/// A configuration value that cannot be used; `Display` is the one line printed at start-up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {variable} {message}")]
pub struct ConfigError {
    variable: &'static str,
    pub(crate) message: String,
}

impl ConfigError {
    fn new(variable: &'static str, message: impl Into<String>) -> Self {
        Self {
            variable,
            message: message.into(),
        }
    }
}

/// A host pattern from `ALLOWED_HOSTS`: an exact host or `*.suffix` (which does not match `suffix`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern(String);

impl HostPattern {
    /// Whether `host` matches this pattern (case-insensitively).
    fn matches(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        match self.0.strip_prefix("*.") {
            Some(suffix) => {
                host.len() > suffix.len() + 1
                    && host.ends_with(suffix)
                    && host.as_bytes()[host.len() - suffix.len() - 1] == b'.'
            }
            None => host == self.0,
        }
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The validated settings the program runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub app_env: AppEnv,
    /// Public base URL (the descriptor's `baseUrl`); qsh paths are relative to its path.
    pub site_url: BaseUrl,
    pub host: String,
    pub port: u16,
    pub database_path: PathBuf,
    /// PostgreSQL instead of the SQLite file at `database_path`, when `DATABASE_URL` is set.
    pub(crate) database_url: Option<DatabaseUrl>,
    /// Connections each instance keeps to PostgreSQL at most.
    pub(crate) database_pool_size: usize,
    /// How long one database step of a request may take on PostgreSQL (`DATABASE_TIMEOUT`,
    /// seconds): the server's statement and lock timeout, and — a second later — the app's own
    /// deadline, which holds even when the server does not answer at all.
    pub(crate) database_timeout: std::time::Duration,
    /// Base URL of the signed-install key server.
    pub connect_keys_url: BaseUrl,
    pub addon_key: String,
    /// Empty means any host is allowed (outside production only).
    pub allowed_hosts: Vec<HostPattern>,
    /// Open connections each worker accepts before it stops accepting more.
    pub(crate) max_connections: usize,
    /// Open connections one client address may hold at once (`0`: no limit, for use behind a
    /// reverse proxy, where every client has the proxy's address).
    pub(crate) max_connections_per_ip: usize,
    /// Tasks one site may hold; creating one more is refused with a 409.
    pub(crate) max_tasks_per_site: usize,
    /// Our Forge app's ARI (`ari:cloud:ecosystem::app/<uuid>`), from `FORGE_APP_ID`; `None`
    /// turns Forge off.
    pub(crate) forge_app_id: Option<String>,
    /// Where Forge's signing keys are fetched; `None` picks Atlassian's production or
    /// staging set by the token's `app.apiBaseUrl`.
    pub(crate) forge_jwks_url: Option<BaseUrl>,
    /// Where the Prometheus metrics are served (`METRICS_ADDR`), never on the app's own port;
    /// `None`: no metrics listener.
    pub(crate) metrics_addr: Option<std::net::SocketAddr>,
}

/// One setting as an operator sees it: the variable, its default as the README and `--help`
/// show it, and one line saying what it does. [`SETTINGS`] lists every one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Setting {
    pub(crate) name: &'static str,
    default: &'static str,
    help: &'static str,
}

/// Declares every setting once: the TOML key (the variable in lower case), the environment
/// variable, the raw type, and the default and help line operators read. Generates the
/// optional [`Layer`] one source of values fills, how a later layer overrides an earlier one,
/// how the environment is read, and [`SETTINGS`], so what is read is what is documented.
macro_rules! settings {
    ($($key:ident: $raw:ty = $var:literal, default $default:literal, $help:literal;)*) => {
        /// One layer of optional values (a TOML file, or the environment).
        #[derive(Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Layer {
            $($key: Option<$raw>,)*
        }

        impl Layer {
            /// Values of `other` win over ours.
            fn overlay(self, other: Layer) -> Layer {
                Layer { $($key: other.$key.or(self.$key),)* }
            }

            fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
                Ok(Layer {
                    $($key: env($var).map(|v| <$raw as Raw>::from_env($var, &v)).transpose()?,)*
                })
            }
        }

        /// Every setting, in the order the README's configuration table and `--help` list
        /// them: `APP_ENV` (which picks the files the others are read from), the settings the
        /// files and the environment give, and `RUST_LOG` (read by the logger, environment only).
        pub(crate) const SETTINGS: &[Setting] = &[
            APP_ENV,
            $(Setting { name: $var, default: $default, help: $help },)*
            RUST_LOG,
            LOG_FORMAT,
        ];
    };
}

const APP_ENV: Setting = Setting {
    name: "APP_ENV",
    default: "development",
    help: "development, test or production",
};

const RUST_LOG: Setting = Setting {
    name: "RUST_LOG",
    default: "info",
    help: "log filter, e.g. info,todo_connect=debug (environment only)",
};

const LOG_FORMAT: Setting = Setting {
    name: "LOG_FORMAT",
    default: "text",
    help: "text, or json: one JSON object per line (environment only)",
};

/// How log lines are written (`LOG_FORMAT`). Read from the environment only, like `RUST_LOG`:
/// the logger starts before the settings files are read, so that reading them can log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// env_logger's own line: `[time level target] message`.
    Text,
    /// One JSON object per line (`util::log_format`).
    Json,
}

impl LogFormat {
    /// The format `LOG_FORMAT` names (`None` or empty: text); an unknown name is refused.
    pub fn parse(value: Option<&str>) -> Result<Self, ConfigError> {
        match value.map(str::trim).unwrap_or("") {
            "" | "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            other => Err(ConfigError::new(
                "LOG_FORMAT",
                format!("must be text or json (got {other:?})"),
            )),
        }
    }
}

settings! {
    site_url: String = "SITE_URL", default "http://localhost:3000 (required in production)",
        "public https:// base URL Confluence reaches";
    host: String = "HOST", default "127.0.0.1", "listen address";
    port: u16 = "PORT", default "3000", "listen port (0 picks a free one)";
    database_path: String = "DATABASE_PATH", default "db/<APP_ENV>.sqlite3",
        "the SQLite file (unused when DATABASE_URL is set)";
    database_url: String = "DATABASE_URL", default "unset",
        "postgres://… selects PostgreSQL";
    database_pool_size: usize = "DATABASE_POOL_SIZE", default "8",
        "PostgreSQL connections per instance (1-1000)";
    database_timeout: usize = "DATABASE_TIMEOUT", default "5",
        "seconds one database step of a request may take on PostgreSQL (1-300)";
    connect_keys_url: String = "CONNECT_KEYS_URL",
        default "https://connect-install-keys.atlassian.com",
        "where signed-install public keys are fetched";
    addon_key: String = "ADDON_KEY", default "connect-add-on-todo-<APP_ENV>", "the app key";
    allowed_hosts: String = "ALLOWED_HOSTS",
        default "*.atlassian.net,*.jira.com in production, any elsewhere",
        "host patterns a site's baseUrl may have";
    max_connections: usize = "MAX_CONNECTIONS", default "2048",
        "open connections each worker accepts";
    max_connections_per_ip: usize = "MAX_CONNECTIONS_PER_IP", default "128",
        "open connections per client address (0: no limit)";
    max_tasks_per_site: usize = "MAX_TASKS_PER_SITE", default "10000",
        "tasks one site may hold";
    forge_app_id: String = "FORGE_APP_ID", default "unset: Forge off",
        "the Forge app's id (ari:cloud:ecosystem::app/<uuid> or the uuid)";
    forge_jwks_url: String = "FORGE_JWKS_URL", default "Atlassian's key sets",
        "where Forge's signing keys are fetched";
    metrics_addr: String = "METRICS_ADDR", default "unset: no metrics",
        "ip:port of a second listener serving GET /metrics (Prometheus), e.g. 127.0.0.1:9464 (port 0 picks a free one)";
}

/// The settings as `--help` lists them after the commands: one line each, name, what it does
/// and its default.
pub(crate) fn settings_help() -> String {
    let width = SETTINGS.iter().map(|s| s.name.len()).max().unwrap_or(0);
    let mut out = String::from(
        "Settings (environment variables, or in lower case as keys of config/default.toml and \
         config/<APP_ENV>.toml; see the README):\n",
    );
    for s in SETTINGS {
        out.push_str(&format!(
            "  {:<width$}  {} [default: {}]\n",
            s.name, s.help, s.default
        ));
    }
    out
}

/// A raw value as an environment variable spells it.
trait Raw: Sized {
    fn from_env(variable: &'static str, value: &str) -> Result<Self, ConfigError>;
}

impl Raw for String {
    fn from_env(_: &'static str, value: &str) -> Result<Self, ConfigError> {
        Ok(value.to_string())
    }
}

impl Raw for u16 {
    fn from_env(variable: &'static str, value: &str) -> Result<Self, ConfigError> {
        value.trim().parse().map_err(|_| {
            ConfigError::new(
                variable,
                format!("must be a number from 0 to 65535 (got {value:?})"),
            )
        })
    }
}

impl Raw for usize {
    fn from_env(variable: &'static str, value: &str) -> Result<Self, ConfigError> {
        value.trim().parse().map_err(|_| {
            ConfigError::new(
                variable,
                format!("must be a positive number (got {value:?})"),
            )
        })
    }
}

/// Settings a release retired, with why: still accepted in a settings file (ignored, with a
/// warning), so an upgrade never stops on a file written for an earlier release. Any other
/// unknown key is still refused (a typo must not be ignored).
const RETIRED: &[(&str, &str)] = &[(
    "atlassian_oauth_url",
    "the app no longer acts as a user (the page publishes as the viewing user)",
)];

impl Layer {
    fn from_toml(source: &[u8], origin: &'static str) -> Result<Self, ConfigError> {
        let source = std::str::from_utf8(source).map_err(|e| {
            ConfigError::new(
                origin,
                format!("is not UTF-8 text (byte {} is not)", e.valid_up_to()),
            )
        })?;
        let invalid = |e: toml::de::Error| {
            ConfigError::new(origin, format!("is not valid: {}", one_line(e.message())))
        };
        let mut table: toml::Table = source.parse().map_err(invalid)?;
        for (key, why) in RETIRED {
            if table.remove(*key).is_some() {
                log::warn!("{origin}: `{key}` is no longer used and is ignored: {why}");
            }
        }
        table.try_into().map_err(invalid)
    }
}

/// The settings files, in the order they are read (a later one overrides an earlier one), by
/// the name a message gives them.
pub(crate) const FILES: [&str; 2] = ["config/default.toml", "config/<APP_ENV>.toml"];

impl Settings {
    /// Settings from the process environment and the working directory.
    pub(crate) fn from_process() -> Result<Self, ConfigError> {
        let dir = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        Self::load(
            &|name| std::env::var(name).ok().filter(|v| !v.is_empty()),
            &dir,
        )
    }

    /// Settings from an explicit environment and directory (what tests call). A settings file
    /// that is missing is skipped; one that exists but cannot be read stops start-up.
    pub fn load(env: &dyn Fn(&str) -> Option<String>, dir: &Path) -> Result<Self, ConfigError> {
        let app_env = AppEnv::parse(env("APP_ENV").as_deref().unwrap_or("development"))?;
        let names = [
            "default.toml".to_string(),
            format!("{}.toml", app_env.as_str()),
        ];
        let mut files = Vec::new();
        for (name, origin) in names.iter().zip(FILES) {
            match std::fs::read(dir.join("config").join(name)) {
                Ok(source) => files.push((origin, source)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(ConfigError::new(
                        origin,
                        format!("cannot be read: {}", one_line(&e.to_string())),
                    ));
                }
            }
        }
        let files: Vec<(&'static str, &[u8])> =
            files.iter().map(|(o, s)| (*o, s.as_slice())).collect();
        Self::read(app_env, &files, env)
    }

    /// Settings from the contents of the settings files that exist (`(origin, source)`, in
    /// [`FILES`] order) and the environment: the one path every value takes, whether it came
    /// from a file or not (what the `settings_file` fuzz target calls).
    pub(crate) fn read(
        app_env: AppEnv,
        files: &[(&'static str, &[u8])],
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut layer = Layer::default();
        for (origin, source) in files {
            layer = layer.overlay(Layer::from_toml(source, origin)?);
        }
        layer = layer.overlay(Layer::from_env(env)?);
        Self::resolve(app_env, layer)
    }

    /// Validates every value and fills in the defaults (the only place they are written).
    fn resolve(app_env: AppEnv, layer: Layer) -> Result<Self, ConfigError> {
        let production = app_env == AppEnv::Production;
        let env = app_env.as_str();
        let site_url = match layer.site_url {
            Some(url) => url,
            None if production => {
                return Err(ConfigError::new(
                    "SITE_URL",
                    "is required in production (https://…)",
                ));
            }
            None => "http://localhost:3000".to_string(),
        };
        let url = |variable, value: Option<String>, default: &str| {
            let value = value.as_deref().unwrap_or(default);
            BaseUrl::parse(value, production).map_err(|why| {
                let scope = if why == UrlError::NotHttps {
                    " in production"
                } else {
                    ""
                };
                ConfigError::new(variable, format!("must {why}{scope} (got {value:?})"))
            })
        };
        let addon_key = layer
            .addon_key
            .unwrap_or_else(|| format!("connect-add-on-todo-{env}"));
        validate_addon_key(&addon_key)?;
        let allowed_hosts = match layer.allowed_hosts {
            Some(list) => parse_host_patterns(&list)?,
            None if production => parse_host_patterns("*.atlassian.net,*.jira.com")?,
            None => Vec::new(),
        };
        let host = layer.host.unwrap_or_else(|| "127.0.0.1".to_string());
        if host.trim().is_empty() {
            return Err(ConfigError::new("HOST", "must not be empty"));
        }
        let max_connections = layer.max_connections.unwrap_or(2048);
        if max_connections == 0 {
            return Err(ConfigError::new(
                "MAX_CONNECTIONS",
                "must be a positive number (got 0)",
            ));
        }
        let database_pool_size = layer.database_pool_size.unwrap_or(8);
        if !(1..=1000).contains(&database_pool_size) {
            return Err(ConfigError::new(
                "DATABASE_POOL_SIZE",
                format!("must be from 1 to 1000 (got {database_pool_size})"),
            ));
        }
        let database_timeout = layer.database_timeout.unwrap_or(5);
        if !(1..=300).contains(&database_timeout) {
            return Err(ConfigError::new(
                "DATABASE_TIMEOUT",
                format!("must be from 1 to 300 seconds (got {database_timeout})"),
            ));
        }
        let max_tasks_per_site = layer.max_tasks_per_site.unwrap_or(10_000);
        if max_tasks_per_site == 0 {
            return Err(ConfigError::new(
                "MAX_TASKS_PER_SITE",
                "must be a positive number (got 0)",
            ));
        }
        Ok(Settings {
            app_env,
            site_url: url("SITE_URL", Some(site_url), "")?,
            host,
            port: layer.port.unwrap_or(3000),
            database_path: PathBuf::from(
                layer
                    .database_path
                    .unwrap_or_else(|| format!("db/{env}.sqlite3")),
            ),
            database_url: layer
                .database_url
                .as_deref()
                .map(DatabaseUrl::parse)
                .transpose()?,
            database_pool_size,
            database_timeout: std::time::Duration::from_secs(database_timeout as u64),
            connect_keys_url: url(
                "CONNECT_KEYS_URL",
                layer.connect_keys_url,
                "https://connect-install-keys.atlassian.com",
            )?,
            addon_key,
            allowed_hosts,
            max_connections,
            // Browsers open about six connections per origin; 128 lets a whole office behind
            // one NAT address work while one address can never take every slot.
            max_connections_per_ip: layer.max_connections_per_ip.unwrap_or(128),
            max_tasks_per_site,
            forge_app_id: layer
                .forge_app_id
                .as_deref()
                .map(forge_app_ari)
                .transpose()?,
            forge_jwks_url: layer
                .forge_jwks_url
                .map(|url| url_value("FORGE_JWKS_URL", &url, production))
                .transpose()?,
            metrics_addr: layer
                .metrics_addr
                .as_deref()
                .map(metrics_addr)
                .transpose()?,
        })
    }

    /// The path part of `SITE_URL` ("" for a root URL): qsh paths are relative to it.
    pub(crate) fn base_path(&self) -> &str {
        self.site_url.path()
    }

    /// Whether a tenant `baseUrl` host is acceptable.
    pub fn host_allowed(&self, host: &str) -> bool {
        self.allowed_hosts.is_empty() || self.allowed_hosts.iter().any(|p| p.matches(host))
    }

    /// Whether we run in production (https everywhere, Atlassian hosts only).
    pub(crate) fn is_production(&self) -> bool {
        self.app_env == AppEnv::Production
    }
}

/// A URL setting; `https://` only in production.
fn url_value(
    variable: &'static str,
    value: &str,
    production: bool,
) -> Result<BaseUrl, ConfigError> {
    BaseUrl::parse(value, production).map_err(|why| {
        let scope = if why == UrlError::NotHttps {
            " in production"
        } else {
            ""
        };
        ConfigError::new(variable, format!("must {why}{scope} (got {value:?})"))
    })
}

/// The metrics listener's address: an IP address and a port, so it is plain which interface
/// the metrics are exposed on (a host name could resolve to a public one).
fn metrics_addr(value: &str) -> Result<std::net::SocketAddr, ConfigError> {
    value.trim().parse().map_err(|_| {
        ConfigError::new(
            "METRICS_ADDR",
            format!("must be ip:port, e.g. 127.0.0.1:9464 (got {value:?})"),
        )
    })
}

/// The ARI of a Forge app id given as `ari:cloud:ecosystem::app/<uuid>` or a bare uuid.
fn forge_app_ari(value: &str) -> Result<String, ConfigError> {
    let app = crate::util::ari::Ecosystem::App;
    match crate::util::ari::ecosystem_uuid(value.trim(), app) {
        Some(uuid) => Ok(app.ari(&uuid)),
        None => Err(ConfigError::new(
            "FORGE_APP_ID",
            format!("must be ari:cloud:ecosystem::app/<uuid> or a uuid (got {value:?})"),
        )),
    }
}

fn validate_addon_key(key: &str) -> Result<(), ConfigError> {
    let valid_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_');
    if key.is_empty() || key.len() > 64 || !key.chars().all(valid_char) {
        return Err(ConfigError::new(
            "ADDON_KEY",
            format!("must be 1 to 64 characters of a-z A-Z 0-9 - . _ (got {key:?})"),
        ));
    }
    Ok(())
}

fn parse_host_patterns(list: &str) -> Result<Vec<HostPattern>, ConfigError> {
    list.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let p = p.to_ascii_lowercase();
            let body = p.strip_prefix("*.").unwrap_or(&p);
            let ok = !body.is_empty()
                && body
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.'))
                && !body.starts_with('.');
            if ok {
                Ok(HostPattern(p))
            } else {
                Err(ConfigError::new(
                    "ALLOWED_HOSTS",
                    format!("has an invalid host pattern {p:?} (use host or *.domain)"),
                ))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_patterns_match_subdomains_only() {
        let p = HostPattern("*.atlassian.net".into());
        assert!(p.matches("acme.atlassian.net"));
        assert!(p.matches("ACME.atlassian.net"));
        assert!(!p.matches("atlassian.net"));
        assert!(!p.matches("evilatlassian.net"));
        assert!(!p.matches("acme.atlassian.net.evil.com"));
    }

    #[test]
    fn a_forge_app_id_is_normalised_to_its_ari() {
        let ari = "ari:cloud:ecosystem::app/0E3a1b2c-1234-4abc-9def-0123456789ab";
        let want = "ari:cloud:ecosystem::app/0e3a1b2c-1234-4abc-9def-0123456789ab";
        assert_eq!(forge_app_ari(ari).unwrap(), want);
        assert_eq!(forge_app_ari(&ari[25..]).unwrap(), want);
        for bad in [
            "",
            "app",
            "ari:cloud:ecosystem::app/",
            "0e3a1b2c-1234-4abc-9def",
        ] {
            let err = forge_app_ari(bad).unwrap_err();
            assert_eq!(err.variable, "FORGE_APP_ID", "{bad:?}");
        }
    }

    #[test]
    fn a_retired_setting_in_a_file_is_ignored_and_a_typo_still_refused() {
        let layer = Layer::from_toml(
            b"atlassian_oauth_url = \"https://auth.atlassian.io\"\naddon_key = \"k\"\n",
            "config/default.toml",
        )
        .unwrap();
        assert_eq!(layer.addon_key.as_deref(), Some("k"));
        let err = Layer::from_toml(b"adon_key = \"k\"\n", "config/default.toml").unwrap_err();
        assert_eq!(err.variable, "config/default.toml");
        assert!(err.to_string().contains("adon_key"), "{err}");
    }

    #[test]
    fn a_settings_file_error_is_one_line_and_names_the_file() {
        // A quoted TOML key may hold a line break; the parser's message quotes it raw.
        let err = Layer::from_toml(b"\"a\\nb\" = 1\n", "config/default.toml").unwrap_err();
        assert_eq!(err.variable, "config/default.toml");
        assert!(err.to_string().contains("a\\nb"), "{err}");
        assert!(!err.to_string().contains('\n'), "{err}");
        let err = Layer::from_toml(b"addon_key = \"k\xe9\"\n", "config/default.toml").unwrap_err();
        assert_eq!(err.message, "is not UTF-8 text (byte 14 is not)");
    }

    #[test]
    fn a_settings_file_that_exists_but_cannot_be_read_stops_start_up() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("config/default.toml")).unwrap();
        let err = Settings::load(&|_| None, dir.path()).unwrap_err();
        assert_eq!(err.variable, "config/default.toml");
        assert!(err.message.starts_with("cannot be read: "), "{err}");
        // A missing file is simply not there: the defaults apply.
        std::fs::remove_dir(dir.path().join("config/default.toml")).unwrap();
        assert!(Settings::load(&|_| None, dir.path()).is_ok());
    }

    #[test]
    fn every_setting_is_listed_once() {
        let mut seen = std::collections::HashSet::new();
        let names: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
        assert!(names.iter().all(|v| seen.insert(*v)), "{names:?}");
        assert!(names.contains(&"SITE_URL") && names.contains(&"DATABASE_TIMEOUT"));
    }

    #[test]
    fn the_defaults_shown_are_the_defaults_used() {
        let settings = Settings::load(&|_| None, Path::new("/nonexistent")).unwrap();
        let shown = |name: &str| {
            let setting = SETTINGS.iter().find(|s| s.name == name).unwrap();
            setting.default.replace("<APP_ENV>", "development")
        };
        let applied = [
            ("APP_ENV", settings.app_env.as_str().to_string()),
            ("HOST", settings.host.clone()),
            ("PORT", settings.port.to_string()),
            (
                "DATABASE_PATH",
                settings.database_path.display().to_string(),
            ),
            (
                "DATABASE_POOL_SIZE",
                settings.database_pool_size.to_string(),
            ),
            (
                "DATABASE_TIMEOUT",
                settings.database_timeout.as_secs().to_string(),
            ),
            (
                "CONNECT_KEYS_URL",
                settings.connect_keys_url.as_str().to_string(),
            ),
            ("ADDON_KEY", settings.addon_key.clone()),
            ("MAX_CONNECTIONS", settings.max_connections.to_string()),
            (
                "MAX_CONNECTIONS_PER_IP",
                settings.max_connections_per_ip.to_string(),
            ),
            (
                "MAX_TASKS_PER_SITE",
                settings.max_tasks_per_site.to_string(),
            ),
        ];
        for (name, value) in applied {
            assert_eq!(shown(name), value, "{name}");
        }
        assert!(shown("SITE_URL").starts_with(settings.site_url.as_str()));
        assert_eq!(shown("DATABASE_URL"), "unset");
        assert!(settings.database_url.is_none());
        assert!(settings.forge_app_id.is_none() && settings.forge_jwks_url.is_none());
        assert_eq!(shown("METRICS_ADDR"), "unset: no metrics");
        assert!(settings.metrics_addr.is_none());
        assert_eq!(shown("LOG_FORMAT"), "text");
        assert_eq!(LogFormat::parse(None).unwrap(), LogFormat::Text);
    }

    #[test]
    fn metrics_addr_and_log_format_refuse_what_they_cannot_use() {
        let load = |name: &'static str, value: &'static str| {
            Settings::load(
                &move |n| (n == name).then(|| value.to_string()),
                Path::new("/nonexistent"),
            )
        };
        let settings = load("METRICS_ADDR", "127.0.0.1:9464").unwrap();
        assert_eq!(
            settings.metrics_addr,
            Some("127.0.0.1:9464".parse().unwrap())
        );
        for bad in ["localhost:9464", "9464", "127.0.0.1", "127.0.0.1:99999"] {
            let err = load("METRICS_ADDR", bad).unwrap_err();
            assert_eq!(err.variable, "METRICS_ADDR", "{bad:?}");
        }
        assert_eq!(LogFormat::parse(Some("json")).unwrap(), LogFormat::Json);
        assert_eq!(LogFormat::parse(Some("text")).unwrap(), LogFormat::Text);
        let err = LogFormat::parse(Some("JSON!")).unwrap_err();
        assert_eq!(err.variable, "LOG_FORMAT");
    }
}
