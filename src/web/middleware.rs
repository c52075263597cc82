//! The one middleware every response passes: security headers and one access-log line.
//!
//! The log line carries method, path (never the query string: iframe URLs hold a token),
//! status and duration. Nothing else from the request reaches the log.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;

use super::Web;

/// Longest request target (path and query) we serve; Confluence iframe URLs are far shorter.
const MAX_URL_BYTES: usize = 8 * 1024;
/// Largest total size of request headers we serve.
const MAX_HEADER_BYTES: usize = 16 * 1024;

/// The log target of the access log.
const ACCESS: &str = "todo_connect::access";

/// Adds security headers and writes the access-log line.
pub(crate) async fn secure_and_log<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<impl MessageBody + use<B>>, actix_web::Error> {
    let started = Instant::now();
    // Copied only when the line will be written (not at RUST_LOG=warn).
    let logged = log::log_enabled!(target: ACCESS, log::Level::Info)
        .then(|| (req.method().clone(), req.path().to_owned()));
    let state = req.app_data::<web::Data<Web>>().cloned();
    let result = match oversized(&req) {
        Some(status) => Ok(req
            .into_response(actix_web::HttpResponse::build(status).finish())
            .map_into_right_body()),
        None => next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body),
    };
    let status = match &result {
        Ok(res) => res.status(),
        Err(err) => err.as_response_error().status_code(),
    };
    if let Some((method, path)) = logged {
        log::info!(
            target: ACCESS,
            "{method} {path} {} {:.2}ms",
            status.as_u16(),
            started.elapsed().as_secs_f64() * 1000.0
        );
    }
    let mut res = result?;
    if let Some(state) = state {
        add_security_headers(res.headers_mut(), &state);
    }
    Ok(res)
}

/// 414 or 431 when the request target or headers exceed our caps.
fn oversized(req: &ServiceRequest) -> Option<StatusCode> {
    let target = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if target > MAX_URL_BYTES {
        return Some(StatusCode::URI_TOO_LONG);
    }
    let headers: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    (headers > MAX_HEADER_BYTES).then_some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
}

fn add_security_headers(headers: &mut HeaderMap, state: &Web) {
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if state.hsts {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    let is_html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if is_html && !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(header::CONTENT_SECURITY_POLICY, state.default_csp.clone());
    }
}
