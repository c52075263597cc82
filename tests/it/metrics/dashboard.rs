//! The Grafana dashboard and the alert rules in docs/: they parse, their queries are valid PromQL, and every metric they name is in a real scrape.
//!
//! promtool (Debian's `prometheus` package, scripts/setup.sh) checks the rules, runs their unit
//! tests (docs/alerts.test.yml) and parses every dashboard query; a missing promtool skips those
//! tests visibly (a failure under `CI=true`).

mod queries;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use yaml_rust2::YamlLoader;

use super::{Deployment, parser_python};
use crate::harness::raw_http::get;
use crate::harness::*;
use queries::{
    Query, alert_rules, dashboard, dashboard_queries, docs, metric_names, panels, rule_queries,
    rules, variables,
};

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
fn the_alert_rules_pass_promtool_and_their_unit_tests_cover_every_alert() {
    let Some(promtool) = promtool() else {
        return;
    };
    let (rules_file, tests_file) = (docs().join("alerts.yml"), docs().join("alerts.test.yml"));
    let (ok, out) = run(&promtool, &["check", "rules", rules_file.to_str().unwrap()]);
    assert!(ok, "{out}");
    let (ok, out) = run(&promtool, &["test", "rules", tests_file.to_str().unwrap()]);
    assert!(ok && out.contains("SUCCESS"), "{out}");

    let doc = alert_rules();
    assert_eq!(doc["groups"][0]["name"].as_str(), Some("todo-connect"));
    let alerts: Vec<&str> = rules(&doc)
        .iter()
        .map(|rule| {
            let name = rule["alert"].as_str().expect("only alerting rules");
            assert!(rule["for"].as_str().is_some(), "{name} has no for:");
            let severity = rule["labels"]["severity"].as_str();
            assert!(
                matches!(severity, Some("critical" | "warning")),
                "{name}: {severity:?}"
            );
            for annotation in ["summary", "description"] {
                let text = rule["annotations"][annotation].as_str().unwrap_or_default();
                assert!(text.len() > 20, "{name} has no {annotation}");
            }
            name
        })
        .collect();
    assert!(alerts.len() >= 9, "{alerts:?}");

    // For each alert: a case where it fires and one where it must not. promtool passes a
    // case naming an alert that does not exist as long as nothing is expected, so this
    // also checks that every case names a real alert.
    let text = std::fs::read_to_string(&tests_file).unwrap();
    let tests = YamlLoader::load_from_str(&text).unwrap().remove(0);
    let mut cases: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for test in tests["tests"].as_vec().expect("tests") {
        for case in test["alert_rule_test"].as_vec().expect("alert_rule_test") {
            let name = case["alertname"].as_str().unwrap().to_owned();
            assert!(
                alerts.contains(&name.as_str()),
                "a test of no alert: {name}"
            );
            let expected = case["exp_alerts"].as_vec().map_or(0, Vec::len);
            let (firing, quiet) = cases.entry(name).or_default();
            *if expected > 0 { firing } else { quiet } += 1;
        }
    }
    for alert in &alerts {
        let (firing, quiet) = cases.get(*alert).copied().unwrap_or_default();
        assert!(
            firing > 0 && quiet > 0,
            "{alert}: {firing} firing, {quiet} quiet cases"
        );
    }
}

/// Whether two `gridPos` rectangles share any cell.
fn overlap(a: &Value, b: &Value) -> bool {
    let span = |p: &Value, at: &str, len: &str| {
        let start = p[at].as_u64().unwrap();
        start..start + p[len].as_u64().unwrap()
    };
    let (ax, ay, bx, by) = (
        span(a, "x", "w"),
        span(a, "y", "h"),
        span(b, "x", "w"),
        span(b, "y", "h"),
    );
    ax.start < bx.end && bx.start < ax.end && ay.start < by.end && by.start < ay.end
}

#[test]
fn the_dashboard_is_well_formed_and_queries_through_its_datasource_variable() {
    let dashboard = dashboard();
    assert!(dashboard["schemaVersion"].as_u64().unwrap() >= 41);
    assert_eq!(dashboard["uid"], "todo-connect");
    let variable_ds = json!({"type": "prometheus", "uid": "${datasource}"});
    let variables = variables(&dashboard);
    let datasource = variables
        .iter()
        .find(|v| v["name"] == "datasource")
        .unwrap();
    assert_eq!(datasource["type"], "datasource");
    assert_eq!(datasource["query"], "prometheus");
    for variable in variables.iter().filter(|v| v["type"] == "query") {
        assert_eq!(variable["datasource"], variable_ds, "{variable}");
    }

    let panels = panels(&dashboard);
    assert!(panels.len() >= 20, "{}", panels.len());
    let mut ids = BTreeSet::new();
    for (n, panel) in panels.iter().enumerate() {
        let title = &panel["title"];
        assert!(
            ids.insert(panel["id"].as_u64().unwrap()),
            "id repeats: {title}"
        );
        let pos = &panel["gridPos"];
        let (x, w, h) = (pos["x"].as_u64(), pos["w"].as_u64(), pos["h"].as_u64());
        assert!(
            pos["y"].as_u64().is_some() && h > Some(0) && w > Some(0),
            "{title}: {pos}"
        );
        assert!(
            x.unwrap() + w.unwrap() <= 24,
            "{title} is wider than the grid: {pos}"
        );
        for other in &panels[..n] {
            assert!(
                !overlap(pos, &other["gridPos"]),
                "{title} overlaps {}",
                other["title"]
            );
        }
        let targets = panel["targets"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        if panel["type"] == "row" {
            assert!(targets.is_empty(), "{title}");
            continue;
        }
        assert_eq!(panel["datasource"], variable_ds, "{title}");
        assert!(!targets.is_empty(), "{title} has no query");
        let mut refs = BTreeSet::new();
        for target in targets {
            assert_eq!(target["datasource"], variable_ds, "{title}");
            assert!(
                !target["expr"]
                    .as_str()
                    .unwrap_or_default()
                    .trim()
                    .is_empty(),
                "{title}"
            );
            assert!(
                refs.insert(target["refId"].as_str().unwrap()),
                "{title}: refId repeats"
            );
        }
    }
}

/// A query as Prometheus receives it: Grafana's built-in intervals and the dashboard's own
/// variables replaced by a value (asserts none is left).
fn substituted(query: &Query, variables: &[Value]) -> String {
    let mut expr = query
        .expr
        .replace("$__rate_interval", "5m")
        .replace("$__interval", "1m")
        .replace("$__range", "6h");
    for variable in variables {
        let name = variable["name"].as_str().unwrap();
        expr = expr
            .replace(&format!("${{{name}}}"), ".+")
            .replace(&format!("${name}"), ".+");
    }
    assert!(
        !expr.contains('$'),
        "{}: an unknown variable in {expr}",
        query.origin
    );
    expr
}

/// `promtool check rules` on the queries written as recording rules in a temporary file.
fn check_as_rules(promtool: &Path, exprs: &[String]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("queries.yml");
    let mut yaml = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (n, expr) in exprs.iter().enumerate() {
        // A JSON string is a YAML double-quoted scalar.
        let quoted = serde_json::to_string(expr).unwrap();
        yaml += &format!("      - record: dashboard:query_{n}\n        expr: {quoted}\n");
    }
    std::fs::write(&file, yaml).unwrap();
    run(promtool, &["check", "rules", file.to_str().unwrap()])
}

#[test]
fn every_dashboard_query_is_valid_promql() {
    let Some(promtool) = promtool() else {
        return;
    };
    let dashboard = dashboard();
    let queries = dashboard_queries(&dashboard);
    let exprs: Vec<String> = queries
        .iter()
        .map(|q| substituted(q, variables(&dashboard)))
        .collect();
    let (ok, out) = check_as_rules(&promtool, &exprs);
    assert!(
        ok && out.contains(&format!("SUCCESS: {} rules found", exprs.len())),
        "{out}"
    );
    // The check can fail: an unbalanced query is refused.
    let broken = "sum by (le (rate(http_requests_total[5m]))".to_owned();
    let (ok, out) = check_as_rules(&promtool, &[broken]);
    assert!(!ok, "{out}");
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
