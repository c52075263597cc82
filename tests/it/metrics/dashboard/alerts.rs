//! docs/alerts.yml: promtool accepts it and its unit tests pass, and every alert is tested
//! firing and quiet and carries what an operator needs (for, severity, summary, description).

use std::collections::BTreeMap;

use yaml_rust2::YamlLoader;

use super::queries::{alert_rules, docs, rules};
use super::{promtool, run};

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
