//! The PromQL in docs/: every query of the Grafana dashboard (panel targets and template
//! variables) and every alert rule's expression, and the metric names a query reads.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;
use yaml_rust2::{Yaml, YamlLoader};

/// One query and where it lives, for failure messages.
#[derive(Debug, Clone)]
pub struct Query {
    pub origin: String,
    pub expr: String,
}

/// docs/ in this checkout.
pub fn docs() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs")
}

/// docs/grafana-dashboard.json, parsed (asserts it is JSON).
pub fn dashboard() -> Value {
    let path = docs().join("grafana-dashboard.json");
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every panel, those inside a collapsed row included.
pub fn panels(dashboard: &Value) -> Vec<&Value> {
    let top = dashboard["panels"].as_array().expect("panels");
    top.iter()
        .flat_map(|p| {
            let nested = p["panels"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default();
            std::iter::once(p).chain(nested)
        })
        .collect()
}

/// The template variables.
pub fn variables(dashboard: &Value) -> &[Value] {
    dashboard["templating"]["list"]
        .as_array()
        .expect("templating.list")
}

/// Every query of the dashboard: each panel target's `expr`, and the selector of each query
/// variable's `label_values(<selector>, <label>)`.
pub fn dashboard_queries(dashboard: &Value) -> Vec<Query> {
    let mut queries = Vec::new();
    for panel in panels(dashboard) {
        for target in panel["targets"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            queries.push(Query {
                origin: format!(
                    "panel {} {} target {}",
                    panel["id"], panel["title"], target["refId"]
                ),
                expr: target["expr"].as_str().unwrap_or_default().to_owned(),
            });
        }
    }
    for variable in variables(dashboard).iter().filter(|v| v["type"] == "query") {
        let query = variable["query"]
            .as_str()
            .expect("a query variable's query");
        let selector = query
            .strip_prefix("label_values(")
            .and_then(|rest| rest.strip_suffix(')'))
            .and_then(|args| args.rsplit_once(','))
            .map(|(selector, _label)| selector.trim())
            .unwrap_or_else(|| panic!("not label_values(<selector>, <label>): {query}"));
        queries.push(Query {
            origin: format!("variable {}", variable["name"]),
            expr: selector.to_owned(),
        });
    }
    queries
}

/// docs/alerts.yml, parsed (asserts it is YAML).
pub fn alert_rules() -> Yaml {
    let text = std::fs::read_to_string(docs().join("alerts.yml")).unwrap();
    YamlLoader::load_from_str(&text)
        .expect("docs/alerts.yml is YAML")
        .remove(0)
}

/// The rules of every group.
pub fn rules(doc: &Yaml) -> Vec<&Yaml> {
    doc["groups"]
        .as_vec()
        .expect("groups")
        .iter()
        .flat_map(|g| g["rules"].as_vec().expect("rules"))
        .collect()
}

/// Every alert rule's expression.
pub fn rule_queries(doc: &Yaml) -> Vec<Query> {
    rules(doc)
        .into_iter()
        .map(|rule| Query {
            origin: format!("alert {}", rule["alert"].as_str().expect("alert")),
            expr: rule["expr"].as_str().expect("expr").to_owned(),
        })
        .collect()
}

/// Words that are PromQL, never a metric: aggregations, operators, modifiers.
const KEYWORDS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "inf",
    "nan",
];

/// Modifiers whose `( … )` lists labels, not expressions.
const LABEL_LISTS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// The metric names `expr` reads: identifiers that are not a function call, a keyword, a
/// label (inside `{…}` or a `by (…)`-style list), a string, a number or a range.
pub fn metric_names(expr: &str) -> BTreeSet<String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut names = BTreeSet::new();
    let mut label_list_next = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '(' && label_list_next {
            i = past(&chars, i, ')');
            label_list_next = false;
        } else if matches!(c, '"' | '\'' | '`') {
            i = past_string(&chars, i);
        } else if c == '{' {
            i = past(&chars, i, '}');
        } else if c == '[' {
            i = past(&chars, i, ']');
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '_' | ':'))
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let lower = word.to_ascii_lowercase();
            let called = chars[i..].iter().find(|c| !c.is_whitespace()) == Some(&'(');
            label_list_next = LABEL_LISTS.contains(&lower.as_str());
            if !called && !KEYWORDS.contains(&lower.as_str()) {
                names.insert(word);
            }
        } else {
            if !c.is_whitespace() {
                label_list_next = false;
            }
            i += 1;
        }
    }
    names
}

/// The index after the string that opens at `start` (backslash escapes honoured).
fn past_string(chars: &[char], start: usize) -> usize {
    let quote = chars[start];
    let mut i = start + 1;
    while i < chars.len() && chars[i] != quote {
        i += if chars[i] == '\\' { 2 } else { 1 };
    }
    i + 1
}

/// The index after the `close` that ends the group opening at `start`, strings skipped.
fn past(chars: &[char], start: usize, close: char) -> usize {
    let mut i = start + 1;
    while i < chars.len() && chars[i] != close {
        i = if matches!(chars[i], '"' | '\'' | '`') {
            past_string(chars, i)
        } else {
            i + 1
        };
    }
    i + 1
}
