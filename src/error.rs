//! One error type for every handler, and the policy for turning it into a response.
//!
//! Policy: the client gets a status and a short generic message it can act on; the cause of a
//! server-side failure is logged once here, never sent. Messages never carry a token, a secret
//! or a query string. API and lifecycle routes answer JSON (`{"error": "..."}`); pages wrap the
//! same error in [`HtmlError`] and answer a small HTML page. The database drivers' errors become
//! these in `db/failure.rs`.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};

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
