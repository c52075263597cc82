//! Prometheus metrics: the registry, the request metrics the middleware records, and what is
//! read at scrape time (build info, the database pool, the SQLite WAL, the sites by way in, the
//! process's memory, files and CPU time).
//! Served on a listener of their own (`METRICS_ADDR`, [`listener`]), never on the app's port.
//!
//! The cardinality rule: no label carries a site, user, token, title, raw path or any other
//! value a caller chooses. Routes are the route table's templates (`/api/tasks/{id}`), methods
//! a fixed list, statuses their class; so the number of series is the same with 2 sites or
//! 10,000. docs/metrics.md lists every metric.

mod database;
pub(crate) mod listener;
mod process;
mod sites;

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::{Method, StatusCode};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use crate::db::Db;

/// The `route` of a request no route matched (assets and 404s).
pub(crate) const UNMATCHED: &str = "unmatched";

/// Upper bounds (seconds) of the latency buckets: sub-millisecond cache hits to the slowest
/// outbound-bound requests (a display-name lookup waits at most 1.5 s, a database step 5 s).
const LATENCY_BUCKETS: [f64; 14] = [
    0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: &'static str,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    method: &'static str,
}

type Latencies = Family<RouteLabels, Histogram, fn() -> Histogram>;

/// The metrics registry, app state like each layer's (`web::Data<Metrics>`): the middleware
/// records into it, the metrics listener encodes it. Recording is a counter and a histogram
/// update (atomics and one short lock) and is skipped when no listener serves the metrics.
pub(crate) struct Metrics {
    on: bool,
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latencies: Latencies,
    sites: Arc<sites::SiteCounts>,
}

impl Metrics {
    /// The registry for `db`; `on` when `METRICS_ADDR` serves it (else nothing is recorded).
    pub(crate) fn new(on: bool, db: &Db) -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route template, method and status class",
            requests.clone(),
        );
        let latencies: Latencies = Family::new_with_constructor(|| Histogram::new(LATENCY_BUCKETS));
        registry.register(
            "http_request_duration_seconds",
            "Time from a request's head to its response, by route template and method",
            latencies.clone(),
        );
        registry.register(
            "build",
            "The running binary: version and database backend (always 1)",
            Info::new(vec![
                ("version", env!("CARGO_PKG_VERSION")),
                ("backend", db.backend_name()),
            ]),
        );
        crate::util::telemetry::register(&mut registry);
        registry.register_collector(Box::new(database::DatabaseGauges::new(db.clone())));
        registry.register_collector(Box::new(process::ProcessGauges));
        let sites = Arc::new(sites::SiteCounts::new(db.clone()));
        registry.register_collector(Box::new(sites.clone()));
        Self {
            on,
            registry,
            requests,
            latencies,
            sites,
        }
    }

    /// Whether requests are recorded (a listener serves the metrics).
    pub(crate) fn is_on(&self) -> bool {
        self.on
    }

    /// Counts one answered request and its duration. `route` is the matched route's template
    /// (`HttpRequest::match_pattern`), `None` when no route matched.
    pub(crate) fn record_request(
        &self,
        route: Option<String>,
        method: &Method,
        status: StatusCode,
        elapsed: Duration,
    ) {
        if !self.on {
            return;
        }
        let route = route.unwrap_or_else(|| UNMATCHED.to_owned());
        let method = method_label(method);
        self.latencies
            .get_or_create(&RouteLabels {
                route: route.clone(),
                method,
            })
            .observe(elapsed.as_secs_f64());
        self.requests
            .get_or_create(&RequestLabels {
                route,
                method,
                status: status_class(status),
            })
            .inc();
    }

    /// Everything, in the OpenMetrics text format, the site counts refreshed first when stale.
    pub(crate) async fn scrape(&self) -> Result<String, std::fmt::Error> {
        self.sites.refresh().await;
        self.encode()
    }

    fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::with_capacity(16 * 1024);
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// A method as a label: the methods we route, anything else `other` (a client may send any
/// token as a method).
pub(crate) fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// A status as its class: `2xx`, `4xx`, …
fn status_class(status: StatusCode) -> &'static str {
    match status.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_bounded() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
        assert_eq!(status_class(StatusCode::OK), "2xx");
        assert_eq!(status_class(StatusCode::NOT_FOUND), "4xx");
        assert_eq!(status_class(StatusCode::SERVICE_UNAVAILABLE), "5xx");
        assert_eq!(status_class(StatusCode::SWITCHING_PROTOCOLS), "1xx");
    }
}
