//! docs/grafana-dashboard.json: well formed for Grafana's import, and every query valid PromQL.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{Value, json};

use super::queries::{Query, dashboard, dashboard_queries, panels, variables};
use super::{promtool, run};

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
