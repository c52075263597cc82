//! The one middleware every response passes: security headers, the request id, the request
//! metrics and one access-log line.
//!
//! The log line carries method, path (never the query string: iframe URLs hold a token),
//! status, duration and the request id; as key-values (for `LOG_FORMAT=json`) also the route
//! template. Nothing else from the request reaches the log.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;

use super::Web;
use crate::metrics::Metrics;
use crate::util::{log_format, request_id};

/// Longest request target (path and query) we serve; Confluence iframe URLs are far shorter.
const MAX_URL_BYTES: usize = 8 * 1024;
/// Largest total size of request headers we serve.
const MAX_HEADER_BYTES: usize = 16 * 1024;

/// The log target of the access log.
const ACCESS: &str = "todo_connect::access";

/// Adds security headers and the request id, records the request's metrics and writes the
/// access-log line.
pub(crate) async fn secure_and_log<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<impl MessageBody + use<B>>, actix_web::Error> {
    let started = Instant::now();
    let request_id = request_id::accept_or_make(req.headers().get(request_id::HEADER));
    // Copied only when the line will be written (not at RUST_LOG=warn).
    let logged = log::log_enabled!(target: ACCESS, log::Level::Info)
        .then(|| (req.method().clone(), req.path().to_owned()));
    let state = req.app_data::<web::Data<Web>>().cloned();
    let metrics = req
        .app_data::<web::Data<Metrics>>()
        .filter(|m| m.is_on())
        .cloned();
    // The route's template (never the raw path); matching it again costs a walk of the route
    // table, so only when a metric or a JSON line will carry it.
    let route = (metrics.is_some() || (logged.is_some() && log_format::is_json()))
        .then(|| req.match_pattern())
        .flatten();
    let method = req.method().clone();
    let result = match oversized(&req) {
        Some(status) => Ok(req
            .into_response(actix_web::HttpResponse::build(status).finish())
            .map_into_right_body()),
        None => {
            log_format::with_request_id(request_id.to_str().unwrap_or_default(), next.call(req))
                .await
                .map(ServiceResponse::map_into_left_body)
        }
    };
    let status = match &result {
        Ok(res) => res.status(),
        Err(err) => err.as_response_error().status_code(),
    };
    let elapsed = started.elapsed();
    // Only ids of safe characters are accepted or made, so the text is always there.
    let id = request_id.to_str().unwrap_or_default();
    if let Some((method, path)) = logged {
        let ms = elapsed.as_secs_f64() * 1000.0;
        log::info!(
            target: ACCESS,
            method = method.as_str(),
            route = route.as_deref().unwrap_or(crate::metrics::UNMATCHED),
            status = status.as_u16(),
            ms = (ms * 100.0).round() / 100.0,
            request_id = id;
            "{method} {path} {} {ms:.2}ms id={id}",
            status.as_u16(),
        );
    }
    if let Some(metrics) = metrics {
        metrics.record_request(route, &method, status, elapsed);
    }
    let mut res = result?;
    res.headers_mut().insert(
        header::HeaderName::from_static(request_id::HEADER),
        request_id,
    );
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
