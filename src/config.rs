//! Typed settings: embedded defaults < `config/default.toml` < `config/<APP_ENV>.toml` < environment.
//!
//! Every value is validated here, once, so the rest of the program can trust it. A bad value stops
//! start-up with one line that names the variable.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The defaults compiled into the binary, so it runs with no files beside it.
const EMBEDDED_DEFAULTS: &str = include_str!("../config/default.toml");

/// Which of the three deployment environments we run in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    Development,
    Test,
    Production,
}

impl AppEnv {
    fn parse(value: &str) -> Result<Self, ConfigError> {
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
    pub fn as_str(self) -> &'static str {
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
    pub variable: &'static str,
    pub message: String,
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
    /// Whether `host` (already lower-cased by URL parsing) matches this pattern.
    pub fn matches(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        match self.0.strip_prefix("*.") {
            Some(suffix) => host.len() > suffix.len() + 1 && host.ends_with(&format!(".{suffix}")),
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
    /// Public base URL without a trailing slash (the descriptor's `baseUrl`).
    pub site_url: String,
    pub host: String,
    pub port: u16,
    pub database_path: PathBuf,
    /// Base URL of the signed-install key server, without a trailing slash.
    pub connect_keys_url: String,
    pub addon_key: String,
    /// Empty means any host is allowed (outside production only).
    pub allowed_hosts: Vec<HostPattern>,
    /// Atlassian's OAuth 2.0 authorization server for acting as a user.
    pub oauth_url: String,
    /// Open connections each worker accepts before it stops accepting more.
    pub max_connections: usize,
}

/// One layer of optional values, as found in a TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Layer {
    site_url: Option<String>,
    host: Option<String>,
    port: Option<u16>,
    database_path: Option<String>,
    connect_keys_url: Option<String>,
    addon_key: Option<String>,
    allowed_hosts: Option<String>,
    atlassian_oauth_url: Option<String>,
    max_connections: Option<usize>,
}

impl Layer {
    fn from_toml(source: &str, origin: &'static str) -> Result<Self, ConfigError> {
        toml::from_str(source)
            .map_err(|e| ConfigError::new(origin, format!("is not valid: {}", e.message().trim())))
    }

    /// Values of `other` win over ours.
    fn overlay(self, other: Layer) -> Layer {
        Layer {
            site_url: other.site_url.or(self.site_url),
            host: other.host.or(self.host),
            port: other.port.or(self.port),
            database_path: other.database_path.or(self.database_path),
            connect_keys_url: other.connect_keys_url.or(self.connect_keys_url),
            addon_key: other.addon_key.or(self.addon_key),
            allowed_hosts: other.allowed_hosts.or(self.allowed_hosts),
            atlassian_oauth_url: other.atlassian_oauth_url.or(self.atlassian_oauth_url),
            max_connections: other.max_connections.or(self.max_connections),
        }
    }

    fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let port = match env("PORT") {
            Some(p) => Some(parse_port(&p)?),
            None => None,
        };
        let max_connections = match env("MAX_CONNECTIONS") {
            Some(v) => Some(v.trim().parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                ConfigError::new(
                    "MAX_CONNECTIONS",
                    format!("must be a positive number (got {v:?})"),
                )
            })?),
            None => None,
        };
        Ok(Layer {
            site_url: env("SITE_URL"),
            host: env("HOST"),
            port,
            database_path: env("DATABASE_PATH"),
            connect_keys_url: env("CONNECT_KEYS_URL"),
            addon_key: env("ADDON_KEY"),
            allowed_hosts: env("ALLOWED_HOSTS"),
            atlassian_oauth_url: env("ATLASSIAN_OAUTH_URL"),
            max_connections,
        })
    }
}

fn parse_port(value: &str) -> Result<u16, ConfigError> {
    value.trim().parse().map_err(|_| {
        ConfigError::new(
            "PORT",
            format!("must be a number from 0 to 65535 (got {value:?})"),
        )
    })
}

impl Settings {
    /// Settings from the process environment and the working directory.
    pub fn from_process() -> Result<Self, ConfigError> {
        let dir = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        Self::load(
            &|name| std::env::var(name).ok().filter(|v| !v.is_empty()),
            &dir,
        )
    }

    /// Settings from an explicit environment and directory (what tests call).
    pub fn load(env: &dyn Fn(&str) -> Option<String>, dir: &Path) -> Result<Self, ConfigError> {
        let app_env = AppEnv::parse(env("APP_ENV").as_deref().unwrap_or("development"))?;
        let mut layer = Layer::from_toml(EMBEDDED_DEFAULTS, "embedded defaults")?;
        for (file, origin) in [
            ("default.toml".to_string(), "config/default.toml"),
            (
                format!("{}.toml", app_env.as_str()),
                "config/<APP_ENV>.toml",
            ),
        ] {
            let path = dir.join("config").join(file);
            if let Ok(source) = std::fs::read_to_string(&path) {
                layer = layer.overlay(Layer::from_toml(&source, origin)?);
            }
        }
        layer = layer.overlay(Layer::from_env(env)?);
        Self::resolve(app_env, layer)
    }

    fn resolve(app_env: AppEnv, layer: Layer) -> Result<Self, ConfigError> {
        let production = app_env == AppEnv::Production;
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
        let site_url = validate_base_url("SITE_URL", &site_url, production)?;
        let connect_keys_url = validate_base_url(
            "CONNECT_KEYS_URL",
            layer
                .connect_keys_url
                .as_deref()
                .unwrap_or("https://connect-install-keys.atlassian.com"),
            production,
        )?;
        let oauth_url = validate_base_url(
            "ATLASSIAN_OAUTH_URL",
            layer
                .atlassian_oauth_url
                .as_deref()
                .unwrap_or("https://oauth-2-authorization-server.services.atlassian.com"),
            production,
        )?;
        let addon_key = layer
            .addon_key
            .unwrap_or_else(|| format!("connect-add-on-todo-{}", app_env.as_str()));
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
        let database_path = PathBuf::from(
            layer
                .database_path
                .unwrap_or_else(|| format!("db/{}.sqlite3", app_env.as_str())),
        );
        Ok(Settings {
            app_env,
            site_url,
            host,
            port: layer.port.unwrap_or(3000),
            database_path,
            connect_keys_url,
            addon_key,
            allowed_hosts,
            oauth_url,
            max_connections: layer.max_connections.unwrap_or(2048),
        })
    }

    /// The path part of `SITE_URL` ("" for a root URL): qsh paths are relative to it.
    pub fn base_path(&self) -> &str {
        url_path(&self.site_url)
    }

    /// Whether `SITE_URL` is https (then we also send `Strict-Transport-Security`).
    pub fn is_https(&self) -> bool {
        self.site_url.starts_with("https://")
    }

    /// Whether a tenant `baseUrl` host is acceptable.
    pub fn host_allowed(&self, host: &str) -> bool {
        self.allowed_hosts.is_empty() || self.allowed_hosts.iter().any(|p| p.matches(host))
    }
}

/// The path of an absolute URL without its trailing slash ("" for the root).
pub fn url_path(url: &str) -> &str {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    match after_scheme.find('/') {
        Some(i) => after_scheme[i..].trim_end_matches('/'),
        None => "",
    }
}

/// Checks an http(s) base URL and strips its trailing slash.
fn validate_base_url(
    variable: &'static str,
    value: &str,
    https_only: bool,
) -> Result<String, ConfigError> {
    let trimmed = value.trim().trim_end_matches('/');
    let rest = if let Some(rest) = trimmed.strip_prefix("https://") {
        rest
    } else if let Some(rest) = trimmed.strip_prefix("http://") {
        if https_only {
            return Err(ConfigError::new(
                variable,
                format!("must start with https:// in production (got {value:?})"),
            ));
        }
        rest
    } else {
        return Err(ConfigError::new(
            variable,
            format!("must be an http(s) URL (got {value:?})"),
        ));
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let bad_char = |c: char| c.is_whitespace() || c.is_control() || matches!(c, '?' | '#' | '@');
    if authority.is_empty() || trimmed.chars().any(bad_char) {
        return Err(ConfigError::new(
            variable,
            format!(
                "must be a plain base URL without query, fragment or credentials (got {value:?})"
            ),
        ));
    }
    Ok(trimmed.to_string())
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
    fn url_path_strips_scheme_host_and_trailing_slash() {
        assert_eq!(url_path("https://x.atlassian.net/wiki/"), "/wiki");
        assert_eq!(url_path("https://example.com"), "");
        assert_eq!(url_path("http://127.0.0.1:9/a/b"), "/a/b");
    }
}
