//! The Grafana dashboard and the alert rules in docs/: they parse, their queries are valid PromQL, and every metric they name is in a real scrape.
//!
//! promtool (Debian's `prometheus` package, scripts/setup.sh) checks the rules, runs their unit
//! tests (docs/alerts.test.yml) and parses every dashboard query; a missing promtool skips those
//! tests visibly (a failure under `CI=true`).

mod alerts;
mod panels;
mod queries;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Deployment, parser_python};
use crate::harness::raw_http::get;
use crate::harness::*;
use queries::{alert_rules, dashboard, dashboard_queries, metric_names, rule_queries};

/// promtool: `PROMTOOL`, else `promtool` on `PATH`; `None` after reporting the skip.
fn promtool() -> Option<PathBuf> {
    skip::require(testkit::tools::find_program("PROMTOOL", &["promtool"]))
}

/// Runs promtool with `args`; its exit status and everything it printed.
fn run(promtool: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(promtool).args(args).output().unwrap();
    let text = format!("{}{}", stdout(&out), stderr(&out));
    (out.status.success(), text)
}

#[test]
fn metric_names_are_read_past_functions_labels_strings_and_ranges() {
    let names = |expr| metric_names(expr).into_iter().collect::<Vec<_>>();
    assert_eq!(
        names(
            r#"histogram_quantile(0.99, sum by (le, route) (rate(a_bucket{x=~"b(c)", y='}'}[5m]))) > 1e3"#
        ),
        ["a_bucket"]
    );
    assert_eq!(
        names(
            "sum(rate(c_total[$__rate_interval])) by (d) / ignoring (e) group_left f * 64 and on(g) h offset 5m"
        ),
        ["c_total", "f", "h"]
    );
}

/// The metric names every dashboard query and alert rule reads.
fn names_used() -> BTreeMap<String, Vec<String>> {
    let mut used: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let all = dashboard_queries(&dashboard())
        .into_iter()
        .chain(rule_queries(&alert_rules()));
    for query in all {
        for name in metric_names(&query.expr) {
            used.entry(name).or_default().push(query.origin.clone());
        }
    }
    used
}

#[test]
fn every_metric_the_dashboard_and_the_alerts_read_is_in_a_real_scrape() {
    let Some(python) = parser_python() else {
        return;
    };
    let used = names_used();
    for expected in [
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "sites",
    ] {
        assert!(used.contains_key(expected), "{expected} not read: {used:?}");
    }
    let deployment = Deployment::start(&[]);
    // The request metrics show a route once it has been requested.
    assert_eq!(get(deployment.port(), "/healthz").status, 200);
    let scraped: BTreeSet<String> = deployment
        .scrape(&python)
        .into_iter()
        .map(|s| s.name)
        .collect();
    // Each backend shows one gauge the other cannot have (docs/metrics.md); `up` is made by
    // Prometheus itself.
    let (own, other) = if on_postgres() {
        ("db_pool_waiting", "sqlite_wal_bytes")
    } else {
        ("sqlite_wal_bytes", "db_pool_waiting")
    };
    assert!(
        used.contains_key(own) && scraped.contains(own),
        "{own}: {scraped:?}"
    );
    let missing: Vec<_> = used
        .iter()
        .filter(|(name, _)| !scraped.contains(*name) && !["up", other].contains(&name.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "not in the scrape: {missing:?}\nscraped: {scraped:?}"
    );
}
