//! One error type for every handler, and the policy for turning it into a response.
//!
//! Policy: the client gets a status and a short generic message it can act on; the cause of a
//! server-side failure is logged once here, never sent. Messages never carry a token, a secret
//! or a query string. API and lifecycle routes answer JSON (`{"error": "..."}`); pages wrap the
//! same error in [`HtmlError`] and answer a small HTML page.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};

use crate::util::telemetry::{self, DbFailure};

/// What went wrong while serving a request.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    /// Any authentication failure: `WWW-Authenticate: <scheme> realm="<realm>"`, the scheme
    /// of the way in (`JWT` for Connect, `Bearer` for Forge), the realm our app key.
    #[error("authentication required")]
    Unauthorized { scheme: &'static str, realm: String },
    #[error("not found")]
    NotFound,
    #[error("request body is too large")]
    PayloadTooLarge,
    /// The body did not arrive whole in time (a slow or stalled client); the connection closes.
    #[error("the request body did not arrive in time")]
    RequestTimeout,
    #[error("{0}")]
    Unprocessable(String),
    /// The request conflicts with what is stored (a site at its task quota).
    #[error("{0}")]
    Conflict(String),
    /// This tenant has too much work under way; it may retry in a second.
    #[error("too many requests for this site at once, please retry")]
    TooManyRequests,
    #[error("the service is busy, please retry")]
    Unavailable,
    /// A failure on our side; the text is logged, never sent.
    #[error("internal error")]
    Internal(String),
}

/// The result type of handlers and the functions they call.
pub(crate) type Result<T, E = AppError> = std::result::Result<T, E>;

impl AppError {
    /// A 400 with a message safe to show.
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest(message.into())
    }

    /// A 422 with a message safe to show.
    pub(crate) fn unprocessable(message: impl Into<String>) -> Self {
        Self::Unprocessable(message.into())
    }

    /// A 500 whose cause goes to the log only.
    pub(crate) fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Internal(cause.to_string())
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn start_response(&self) -> actix_web::HttpResponseBuilder {
        if let Self::Internal(cause) = self {
            log::error!("internal error: {cause}");
        }
        let mut builder = HttpResponse::build(self.status());
        if let Self::Unauthorized { scheme, realm } = self {
            let challenge = format!("{scheme} realm=\"{realm}\"");
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                builder.insert_header((header::WWW_AUTHENTICATE, value));
            }
        }
        if let Self::Unavailable | Self::TooManyRequests = self {
            builder.insert_header((header::RETRY_AFTER, "1"));
        }
        if let Self::RequestTimeout | Self::PayloadTooLarge = self {
            // The rest of the body is never read: the connection cannot carry another request.
            builder.force_close();
        }
        builder.insert_header((header::CACHE_CONTROL, "no-store"));
        builder
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        self.start_response()
            .json(serde_json::json!({ "error": self.to_string() }))
    }
}

/// The same errors, answered as a small HTML page (for routes Confluence shows in an iframe).
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub(crate) struct HtmlError(#[from] pub AppError);

impl ResponseError for HtmlError {
    fn status_code(&self) -> StatusCode {
        self.0.status()
    }

    fn error_response(&self) -> HttpResponse {
        let message = match &self.0 {
            AppError::NotFound => {
                "This task does not exist, or it belongs to another site.".to_string()
            }
            AppError::Unauthorized { .. } => {
                "Your session could not be verified. Reload the page in Confluence.".to_string()
            }
            other => other.to_string(),
        };
        let body = format!(
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{status}</title>\
             <link rel=\"stylesheet\" href=\"/css/app.css\"></head><body class=\"error-page\">\
             <p>{message}</p></body></html>",
            status = self.0.status().as_u16(),
            message = crate::util::html::escape(&message),
        );
        self.0
            .start_response()
            .content_type("text/html; charset=utf-8")
            .body(body)
    }
}

impl From<rusqlite::Error> for AppError {
    fn from(err: rusqlite::Error) -> Self {
        let failure = sqlite_failure(&err);
        if let Some(kind) = failure {
            telemetry::db_error(kind);
        }
        match failure {
            Some(DbFailure::Busy) => {
                log::warn!("database busy: {err}");
                Self::Unavailable
            }
            _ => Self::internal(format!("sqlite: {err}")),
        }
    }
}

/// What kind of failure a SQLite error is, for `db_errors_total`: `None` for "no row", which
/// is an answer, not a failure. Busy and locked are the lock waits that ran out (a 503 to
/// retry); a constraint is a refused statement; anything else (a full disk, a corrupt page, a
/// value of the wrong type) is "other".
fn sqlite_failure(err: &rusqlite::Error) -> Option<DbFailure> {
    use rusqlite::ErrorCode::{CannotOpen, ConstraintViolation, DatabaseBusy, DatabaseLocked};
    match err {
        rusqlite::Error::QueryReturnedNoRows => None,
        _ => Some(match err.sqlite_error_code() {
            Some(DatabaseBusy | DatabaseLocked) => DbFailure::Busy,
            Some(ConstraintViolation) => DbFailure::Constraint,
            Some(CannotOpen) => DbFailure::Connection,
            _ => DbFailure::Other,
        }),
    }
}

impl From<r2d2::Error> for AppError {
    /// The pool had no SQLite connection in time (or could not open one).
    fn from(err: r2d2::Error) -> Self {
        telemetry::db_error(DbFailure::Connection);
        log::warn!("no database connection: {err}");
        Self::Unavailable
    }
}

impl From<tokio_postgres::Error> for AppError {
    /// The PostgreSQL twin of the SQLite mapping: a lost connection, a timeout, a lock or
    /// serialization conflict, an overloaded or restarting server, or a read-only standby is a
    /// 503 to retry; anything else is a 500.
    fn from(err: tokio_postgres::Error) -> Self {
        let kind = postgres_failure(&err);
        telemetry::db_error(kind);
        let transient = match err.code() {
            Some(code) => {
                let code = code.code();
                matches!(
                    &code[..2],
                    "08" // connection exception
                        | "53" // insufficient resources (too many connections, …)
                        | "57" // operator intervention: timeouts, shutdown, cannot connect now
                ) || matches!(
                    code,
                    "40001" | "40P01" | "55P03" | "25006" // serialization, deadlock, lock, read-only
                )
            }
            // No SQLSTATE: transient when the connection broke or could not be made; a type
            // mismatch or similar is our bug.
            None => kind == DbFailure::Connection,
        };
        if transient {
            log::warn!("database unavailable: {}", describe(&err));
            Self::Unavailable
        } else {
            Self::internal(format!("postgres: {}", describe(&err)))
        }
    }
}

/// What kind of failure a PostgreSQL error is, for `db_errors_total`, by SQLSTATE:
/// serialization (40001), deadlock (40P01), a lock not had in time (55P03) and a statement
/// timeout (57014) are "busy"; class 23 is a constraint; a connection exception (08), too many
/// connections (53300), a server shutting down or starting (57P01–57P03), and a connection
/// broken or never made (no SQLSTATE) are "connection"; the rest is "other".
fn postgres_failure(err: &tokio_postgres::Error) -> DbFailure {
    let Some(code) = err.code() else {
        let text = err.to_string();
        let lost = err.is_closed()
            || std::error::Error::source(err).is_some_and(|s| s.is::<std::io::Error>())
            || text.starts_with("error connecting")
            || text.starts_with("timeout");
        return if lost {
            DbFailure::Connection
        } else {
            DbFailure::Other
        };
    };
    sqlstate_failure(code.code())
}

/// The kind of failure a SQLSTATE names (see [`postgres_failure`]).
fn sqlstate_failure(code: &str) -> DbFailure {
    match code {
        "40001" | "40P01" | "55P03" | "57014" => DbFailure::Busy,
        "53300" | "57P01" | "57P02" | "57P03" => DbFailure::Connection,
        other if other.starts_with("23") => DbFailure::Constraint,
        other if other.starts_with("08") => DbFailure::Connection,
        _ => DbFailure::Other,
    }
}

/// The server's message and code, which `tokio_postgres::Error`'s `Display` leaves out.
fn describe(err: &tokio_postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => err.to_string(),
    }
}

impl From<deadpool_postgres::PoolError> for AppError {
    /// The pool had no PostgreSQL connection (none free in time, or the server could not be
    /// reached to open one).
    fn from(err: deadpool_postgres::PoolError) -> Self {
        telemetry::db_error(DbFailure::Connection);
        log::warn!("no database connection: {err}");
        Self::Unavailable
    }
}

impl From<actix_web::error::BlockingError> for AppError {
    fn from(err: actix_web::error::BlockingError) -> Self {
        Self::internal(format!("blocking task: {err}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;

    #[actix_web::test]
    async fn internal_errors_do_not_leak_their_cause() {
        let response = AppError::internal("secret path /var/x").error_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = to_bytes(response.into_body()).await.unwrap();
        assert_eq!(&body[..], br#"{"error":"internal error"}"#);
    }

    #[test]
    fn sqlite_failures_are_told_apart_and_no_row_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite3");
        let holder = rusqlite::Connection::open(&path).unwrap();
        holder
            .execute_batch("CREATE TABLE t (v INTEGER NOT NULL UNIQUE); INSERT INTO t VALUES (1);")
            .unwrap();
        let duplicate = holder.execute("INSERT INTO t VALUES (1)", []).unwrap_err();
        assert_eq!(sqlite_failure(&duplicate), Some(DbFailure::Constraint));
        let none = holder
            .query_row("SELECT v FROM t WHERE v = 2", [], |r| r.get::<_, i64>(0))
            .unwrap_err();
        assert_eq!(sqlite_failure(&none), None);
        let typo = holder.execute("SELEC 1", []).unwrap_err();
        assert_eq!(sqlite_failure(&typo), Some(DbFailure::Other));

        holder.execute_batch("BEGIN IMMEDIATE").unwrap();
        let waiter = rusqlite::Connection::open(&path).unwrap();
        waiter.busy_timeout(std::time::Duration::ZERO).unwrap();
        let busy = waiter.execute_batch("BEGIN IMMEDIATE").unwrap_err();
        assert_eq!(sqlite_failure(&busy), Some(DbFailure::Busy));
        assert!(matches!(AppError::from(busy), AppError::Unavailable));
    }

    #[test]
    fn sqlstates_are_told_apart() {
        for (code, kind) in [
            ("40001", DbFailure::Busy),
            ("40P01", DbFailure::Busy),
            ("55P03", DbFailure::Busy),
            ("57014", DbFailure::Busy),
            ("23505", DbFailure::Constraint),
            ("23503", DbFailure::Constraint),
            ("08006", DbFailure::Connection),
            ("53300", DbFailure::Connection),
            ("57P01", DbFailure::Connection),
            ("42601", DbFailure::Other),
            ("22P02", DbFailure::Other),
        ] {
            assert_eq!(sqlstate_failure(code), kind, "{code}");
        }
    }

    #[actix_web::test]
    async fn unauthorized_names_the_realm() {
        let response = AppError::Unauthorized {
            scheme: "JWT",
            realm: "my-app".into(),
        }
        .error_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers().get("www-authenticate").unwrap(),
            "JWT realm=\"my-app\""
        );
    }
}
