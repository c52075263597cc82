//! The metrics listener (`METRICS_ADDR`): a second, small HTTP server that answers
//! `GET /metrics` and 404 to everything else, bounded like the app's (one worker, few
//! connections, a request-head deadline), so a scraper cannot take the app's workers and the
//! app's port never serves the metrics.

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::{App, HttpResponse, HttpServer, web};

use super::Metrics;

/// The OpenMetrics text format's content type.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// Connections the metrics listener serves at once (scrapers are few).
const MAX_CONNECTIONS: usize = 64;

/// Binds `addr` now (so a taken port is a start-up error; port 0 picks a free one) and returns
/// the server, not yet polled, and the address bound; it stops with the app
/// (`Application::run_until_stopped`), not on signals itself.
pub(crate) fn bind(
    addr: SocketAddr,
    metrics: web::Data<Metrics>,
) -> std::io::Result<(Server, SocketAddr)> {
    let listener = TcpListener::bind(addr)?;
    let bound = listener.local_addr()?;
    let server = HttpServer::new(move || {
        App::new()
            .app_data(metrics.clone())
            .route("/metrics", web::get().to(scrape))
            .default_service(web::to(HttpResponse::NotFound))
    })
    .workers(1)
    .max_connections(MAX_CONNECTIONS)
    .client_request_timeout(Duration::from_secs(5))
    .client_disconnect_timeout(Duration::from_secs(1))
    .shutdown_timeout(1)
    .disable_signals()
    .listen(listener)?
    .run();
    Ok((server, bound))
}

async fn scrape(metrics: web::Data<Metrics>) -> HttpResponse {
    match metrics.scrape().await {
        Ok(body) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, CONTENT_TYPE))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(body),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}
