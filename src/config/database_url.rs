//! `DATABASE_URL`: a `postgres://` (or `postgresql://`) URL that selects PostgreSQL instead of
//! the SQLite file. Parsed once here, so a bad URL stops start-up with one line naming the
//! variable, and printed only redacted: the password never reaches a log or an error.
//!
//! TLS follows libpq's `sslmode`, which `tokio-postgres` only knows in part: `disable`;
//! `prefer` (the default: TLS when the server offers it, certificate not checked); `require`
//! (TLS or nothing, certificate not checked); `verify-ca` (the chain must lead to a trusted
//! root); `verify-full` (the chain and the host name). Trusted roots are `sslrootcert=<file>`
//! (PEM), or the system's when it is absent or `system`.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use tokio_postgres::config::{Host, SslMode};

use super::ConfigError;

/// How the connection to PostgreSQL is encrypted and what is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TlsMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl TlsMode {
    fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "disable" => Self::Disable,
            "allow" | "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            _ => return None,
        })
    }

    /// Whether the server's certificate chain is checked against trusted roots.
    pub(crate) fn verifies(self) -> bool {
        matches!(self, Self::VerifyCa | Self::VerifyFull)
    }
}

/// A validated PostgreSQL connection URL. `Debug` and `Display` never show the password.
#[derive(Clone)]
pub struct DatabaseUrl {
    config: tokio_postgres::Config,
    tls: TlsMode,
    root_cert: Option<PathBuf>,
}

impl DatabaseUrl {
    /// Parses `DATABASE_URL`; `None` when it is not a PostgreSQL URL at all.
    pub fn parse(value: &str) -> Result<Self, ConfigError> {
        let fail = |why: String| ConfigError::new("DATABASE_URL", why);
        let lower = value.trim().to_ascii_lowercase();
        if !(lower.starts_with("postgres://") || lower.starts_with("postgresql://")) {
            return Err(fail(
                "must be a postgres:// or postgresql:// URL (leave it unset for SQLite at \
                 DATABASE_PATH)"
                    .into(),
            ));
        }
        // A URL holds no raw white space or control character (percent-encode them: `%20`).
        // Refused rather than read leniently: the parser would take the text after a space
        // into the database name, which is displayed, and that text may be a password
        // (`postgres://host/todo password=…`, the key-value form mixed in).
        if value
            .trim()
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(fail(
                "must not contain white space or control characters (percent-encode them, \
                 e.g. %20)"
                    .into(),
            ));
        }
        let (base, query) = match value.trim().split_once('?') {
            Some((base, query)) => (base, query),
            None => (value.trim(), ""),
        };
        let mut tls = TlsMode::Prefer;
        let mut root_cert = None;
        let mut kept = url::form_urlencoded::Serializer::new(String::new());
        for (key, val) in url::form_urlencoded::parse(query.as_bytes()) {
            match key.as_ref() {
                "sslmode" => {
                    // Not echoed: in a mistyped URL the value may hold the password (found by
                    // the settings_file fuzz target: `?sslmode=x:<password>@host`).
                    tls = TlsMode::parse(&val).ok_or_else(|| {
                        fail(
                            "sslmode must be disable, prefer, require, verify-ca or verify-full"
                                .into(),
                        )
                    })?;
                }
                "sslrootcert" if val != "system" => root_cert = Some(PathBuf::from(val.as_ref())),
                "sslrootcert" => root_cert = None,
                _ => {
                    kept.append_pair(&key, &val);
                }
            }
        }
        let kept = kept.finish();
        let rest = if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{kept}")
        };
        let mut config = tokio_postgres::Config::from_str(&rest).map_err(|e| {
            // The parser's messages name options and values, never the password.
            fail(format!("is not a valid PostgreSQL URL: {e}"))
        })?;
        if config.get_dbname().is_none() {
            return Err(fail(
                "must name a database (postgres://host/<database>)".into(),
            ));
        }
        // What `Display` shows is percent-decoded: a `%0A` there would break a log line in two
        // (found by the settings_file fuzz target). No real name holds a control character.
        let control = |name: &str| name.chars().any(char::is_control);
        let hosts_shown = config.get_hosts().iter().any(|host| match host {
            Host::Tcp(name) => control(name),
            Host::Unix(path) => control(&path.display().to_string()),
        });
        let names_shown = [config.get_user(), config.get_dbname()];
        if hosts_shown || names_shown.into_iter().flatten().any(control) {
            return Err(fail(
                "must not name a user, host or database with a control character (percent-encoded \
                 or not)"
                    .into(),
            ));
        }
        config.ssl_mode(match tls {
            TlsMode::Disable => SslMode::Disable,
            TlsMode::Prefer => SslMode::Prefer,
            _ => SslMode::Require,
        });
        Ok(Self {
            config,
            tls,
            root_cert,
        })
    }

    /// The client configuration (hosts, user, password, database, options).
    pub(crate) fn config(&self) -> &tokio_postgres::Config {
        &self.config
    }

    /// How TLS is used.
    pub(crate) fn tls(&self) -> TlsMode {
        self.tls
    }

    /// The PEM file of trusted roots (`sslrootcert`), when one is named.
    pub(crate) fn root_cert(&self) -> Option<&std::path::Path> {
        self.root_cert.as_deref()
    }
}

impl fmt::Display for DatabaseUrl {
    /// `postgres://user@host:port/database`, without the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let user = self.config.get_user().unwrap_or("");
        let ports = self.config.get_ports();
        let hosts: Vec<String> = self
            .config
            .get_hosts()
            .iter()
            .enumerate()
            .map(|(i, host)| {
                let name = match host {
                    Host::Tcp(name) => name.clone(),
                    Host::Unix(path) => path.display().to_string(),
                };
                match ports.get(i).or(ports.first()) {
                    Some(port) => format!("{name}:{port}"),
                    None => name,
                }
            })
            .collect();
        let at = if user.is_empty() { "" } else { "@" };
        write!(
            f,
            "postgres://{user}{at}{}/{}",
            hosts.join(","),
            self.config.get_dbname().unwrap_or("")
        )
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self}, tls {:?})", self.tls)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_never_displayed() {
        let url =
            DatabaseUrl::parse("postgres://todo:hunter2@db.internal:5433/todo?sslmode=verify-full")
                .unwrap();
        assert_eq!(url.to_string(), "postgres://todo@db.internal:5433/todo");
        assert!(!format!("{url:?}").contains("hunter2"));
        assert_eq!(url.tls(), TlsMode::VerifyFull);
        assert_eq!(url.config().get_ssl_mode(), SslMode::Require);
    }

    #[test]
    fn libpq_ssl_modes_and_a_root_certificate_are_understood() {
        let url = DatabaseUrl::parse(
            "postgresql://u@h/db?sslmode=verify-ca&sslrootcert=/etc/ca.pem&application_name=x",
        )
        .unwrap();
        assert_eq!(url.tls(), TlsMode::VerifyCa);
        assert_eq!(url.root_cert(), Some(std::path::Path::new("/etc/ca.pem")));
        assert_eq!(url.config().get_application_name(), Some("x"));
        let plain = DatabaseUrl::parse("postgres://u@h/db").unwrap();
        assert_eq!(plain.tls(), TlsMode::Prefer);
        assert_eq!(
            DatabaseUrl::parse("postgres://u@h/db?sslmode=disable")
                .unwrap()
                .tls(),
            TlsMode::Disable
        );
    }

    #[test]
    fn bad_urls_name_the_variable_without_echoing_the_password() {
        for bad in [
            "mysql://u:pw@h/db",
            "postgres://u:pw@h/db?sslmode=sometimes",
            "postgres://u:pw@h/db?nonsense=1",
            "postgres://u:pw@h",
        ] {
            let err = DatabaseUrl::parse(bad).unwrap_err();
            assert_eq!(err.variable, "DATABASE_URL", "{bad}");
            assert!(!err.to_string().contains(":pw@"), "{err}");
        }
        // Found by the settings_file fuzz target: a space let the parser take the key-value
        // form's password into the database name, which is displayed.
        for bad in [
            "postgres://h/todo password=hunter2",
            "postgres://h/todo\tpassword=hunter2",
        ] {
            let err = DatabaseUrl::parse(bad).unwrap_err();
            assert_eq!(err.variable, "DATABASE_URL", "{bad}");
            assert!(
                err.message.starts_with("must not contain white space"),
                "{err}"
            );
            assert!(!err.to_string().contains("hunter2"), "{err}");
        }
        assert!(DatabaseUrl::parse("  postgres://h/todo  ").is_ok());
        // Found by the same target: a value echoed in a refusal can hold the password.
        let err = DatabaseUrl::parse("postgres://h/db?sslmode=x:hunter2@h/db").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid configuration: DATABASE_URL sslmode must be disable, prefer, require, \
             verify-ca or verify-full"
        );
        let err = DatabaseUrl::parse("postgres://h/db?password:hunter2").unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        // Found by the same target: a percent-encoded control character reached the display.
        for bad in [
            "postgres://h/to%0Ado",
            "postgres://u%1B@h/todo",
            "postgres://h%0D/todo",
        ] {
            let err = DatabaseUrl::parse(bad).unwrap_err();
            assert_eq!(err.variable, "DATABASE_URL", "{bad}");
            assert!(err.message.contains("control character"), "{bad}: {err}");
        }
        assert_eq!(
            DatabaseUrl::parse("postgres://h/to%20do")
                .unwrap()
                .to_string(),
            "postgres://h:5432/to do"
        );
    }
}
