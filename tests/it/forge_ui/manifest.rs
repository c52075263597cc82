//! `todo-connect manifest [--with-connect | --retire-connect]`: the real binary prints each of
//! the three forms (the three stages of the move from Connect), Atlassian's validator
//! (`@forge/manifest`, through `forge/scripts/validate-manifest.mjs`) accepts all three, and
//! what they declare is checked against the descriptor and the route table.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};
use todo_connect::app::routes::paths;
use yaml_rust2::{Yaml, YamlLoader};

use super::{built_ui, forge_dir, ui_build};
use crate::harness::*;

const APP_UUID: &str = "0E3A1B2C-1234-4abc-9def-0123456789ab";
const APP_ARI: &str = "ari:cloud:ecosystem::app/0e3a1b2c-1234-4abc-9def-0123456789ab";

/// The binary in a fresh folder with the test environment and `FORGE_APP_ID`.
fn binary(dir: &Path) -> Binary {
    Binary::test(dir, &dir.join("todo.sqlite3")).env("FORGE_APP_ID", APP_UUID)
}

/// Runs `manifest` with `args` and returns its standard output, failing on a non-zero exit.
fn manifest(bin: &Binary, args: &[&str]) -> String {
    let mut all = vec!["manifest"];
    all.extend_from_slice(args);
    let out = bin.run(&all);
    assert!(
        out.status.success(),
        "manifest {args:?} failed: {}",
        stderr(&out)
    );
    stdout(&out)
}

/// YAML as JSON, for comparing with the descriptor.
fn json_of(yaml: &Yaml) -> Value {
    match yaml {
        Yaml::String(s) => json!(s),
        Yaml::Integer(i) => json!(i),
        Yaml::Real(r) => json!(r.parse::<f64>().unwrap()),
        Yaml::Boolean(b) => json!(b),
        Yaml::Array(items) => Value::Array(items.iter().map(json_of).collect()),
        Yaml::Hash(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.as_str().expect("string keys").to_string(), json_of(v)))
                .collect(),
        ),
        Yaml::Null => Value::Null,
        other => panic!("unexpected YAML node {other:?}"),
    }
}

fn parse(text: &str) -> Value {
    let docs = YamlLoader::load_from_str(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(docs.len(), 1, "one YAML document");
    json_of(&docs[0])
}

/// Writes `text` as `manifest.yml` in a new folder beside a link to the built Custom UI, the
/// layout `forge deploy` sees in `forge/`.
fn manifest_folder(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("manifest.yml"), text).unwrap();
    std::os::unix::fs::symlink(built_ui(), dir.path().join("build")).unwrap();
    dir
}

/// Whether Atlassian's validator can run here: node and the built Custom UI; otherwise the
/// test is reported skipped (a failure under `CI=true`) and returns.
fn validator_ready() -> bool {
    skip::require(testkit::tools::node()).is_some() && skip::require(ui_build()).is_some()
}

/// Atlassian's validator on each folder's `manifest.yml`: one `{file, success, errors}` each.
fn validate(folders: &[&Path]) -> Vec<Value> {
    let script = forge_dir().join("scripts").join("validate-manifest.mjs");
    let node = testkit::tools::node().unwrap_or_else(|reason| panic!("{reason}"));
    let out = Command::new(node)
        .arg(&script)
        .args(folders.iter().map(|f| f.join("manifest.yml")))
        .current_dir(forge_dir())
        .output()
        .expect("node runs (scripts/setup.sh installs it)");
    let text = String::from_utf8_lossy(&out.stdout);
    let results: Vec<Value> = text
        .lines()
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{e}: {l}\n{}", String::from_utf8_lossy(&out.stderr)))
        })
        .collect();
    assert_eq!(
        results.len(),
        folders.len(),
        "one result per manifest: {text}"
    );
    results
}

/// The three forms, in the order of the stages: new Forge app, Connect on Forge, Connect retired.
const FORMS: [&[&str]; 3] = [&[], &["--with-connect"], &["--retire-connect"]];

#[test]
fn all_three_manifest_forms_pass_atlassians_validator() {
    if !validator_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bin = binary(dir.path());
    let folders: Vec<_> = FORMS
        .iter()
        .map(|args| manifest_folder(&manifest(&bin, args)))
        .collect();
    let paths: Vec<&Path> = folders.iter().map(|f| f.path()).collect();
    for result in validate(&paths) {
        assert_eq!(result["success"], true, "{result}");
        assert_eq!(result["errors"], json!([]), "{result}");
    }
}

#[test]
fn the_validator_checks_where_the_uninstall_signal_goes() {
    if !validator_ready() {
        return;
    }
    // The uninstall signal passes above only if the validator knows it: pointed at an endpoint
    // that does not exist, it must fail.
    let dir = tempfile::tempdir().unwrap();
    let text = manifest(&binary(dir.path()), &["--retire-connect"]);
    let broken = text.replace("endpoint: todo-uninstall\n", "endpoint: todo-nowhere\n");
    assert_ne!(broken, text);
    let folder = manifest_folder(&broken);
    let result = &validate(&[folder.path()])[0];
    assert_eq!(result["success"], false, "{result}");
    let message = result["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("preUninstall") && message.contains("todo-nowhere"),
        "{result}"
    );
}

#[test]
fn every_form_declares_the_uninstall_signal_on_its_own_route() {
    let dir = tempfile::tempdir().unwrap();
    let bin = binary(dir.path());
    for args in FORMS {
        let m = parse(&manifest(&bin, args));
        assert_eq!(
            m["modules"]["preUninstall"],
            json!([{"key": "todo-pre-uninstall", "endpoint": "todo-uninstall"}]),
            "{args:?}"
        );
        let endpoint = m["modules"]["endpoint"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["key"] == "todo-uninstall")
            .cloned();
        assert_eq!(
            endpoint,
            Some(json!({"key": "todo-uninstall", "remote": "todo-backend",
                        "route": {"path": paths::FORGE_PRE_UNINSTALL}})),
            "{args:?}: no app token of its own"
        );
    }
}

#[test]
fn the_validator_refuses_a_forge_module_that_takes_a_connect_modules_key() {
    if !validator_ready() {
        return;
    }
    // The check above is only worth something if the validator really looks: the same
    // manifest with the Forge macro renamed to the Connect macro's key must fail.
    let dir = tempfile::tempdir().unwrap();
    let text = manifest(&binary(dir.path()), &["--with-connect"]);
    let clash = text.replace("key: todo-task\n", "key: dynamic-task-macro\n");
    assert_ne!(clash, text);
    let folder = manifest_folder(&clash);
    let result = &validate(&[folder.path()])[0];
    assert_eq!(result["success"], false, "{result}");
    let message = result["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("dynamic-task-macro"), "{result}");
}

#[test]
fn the_forge_manifest_declares_the_remote_its_endpoints_modules_and_least_privilege() {
    let dir = tempfile::tempdir().unwrap();
    let m = parse(&manifest(&binary(dir.path()), &[]));
    assert_eq!(
        m["app"],
        json!({"id": APP_ARI, "runtime": {"name": "nodejs22.x"},
               "compatibility": {"confluence": {"required": true}, "jira": {"required": false}}})
    );
    assert_eq!(
        m["remotes"],
        json!([{"key": "todo-backend", "baseUrl": SITE_URL, "operations": ["storage", "compute"],
                "storage": {"inScopeEUD": true}}])
    );
    let token = json!({"appSystemToken": {"enabled": true}});
    assert_eq!(
        m["modules"]["endpoint"],
        json!([
            {"key": "todo-ui", "remote": "todo-backend", "auth": token},
            {"key": "todo-events", "remote": "todo-backend", "auth": token,
             "route": {"path": paths::FORGE_EVENTS}},
            {"key": "todo-uninstall", "remote": "todo-backend",
             "route": {"path": paths::FORGE_PRE_UNINSTALL}},
        ])
    );
    assert_eq!(
        m["modules"]["trigger"],
        json!([{"key": "todo-lifecycle", "endpoint": "todo-events",
                "events": ["avi:forge:installed:app", "avi:forge:upgraded:app"]},
               {"key": "todo-jira-deletions", "endpoint": "todo-events",
                "events": ["avi:jira:deleted:issue", "avi:jira:deleted:project"]}])
    );
    assert_eq!(
        m["modules"]["macro"],
        json!([{
            "key": "todo-task", "title": "TODO",
            "description": "Shows a task from the Todo app inline in the page.",
            "resource": "macro-view", "resolver": {"endpoint": "todo-ui"}, "layout": "inline",
            "config": {"resource": "macro-config", "title": "Insert a task",
                       "viewportSize": "medium", "openOnInsert": true},
        }])
    );
    assert_eq!(
        m["modules"]["confluence:globalPage"],
        json!([{"key": "todo-global-page", "title": "Todo", "route": "todo",
                "resource": "global-page", "resolver": {"endpoint": "todo-ui"}}])
    );
    assert_eq!(
        m["resources"],
        json!([
            {"key": "macro-view", "path": "build/macro-view"},
            {"key": "macro-config", "path": "build/macro-config"},
            {"key": "global-page", "path": "build/global-page"},
            {"key": "issue-panel", "path": "build/issue-panel"},
        ])
    );
    assert_eq!(
        m["modules"]["jira:issuePanel"],
        json!([{"key": "todo-issue-panel", "title": "Todo", "resource": "issue-panel",
                "resolver": {"endpoint": "todo-ui"}, "viewportSize": "medium",
                "icon": format!("{SITE_URL}{}", paths::ICON)}])
    );
    assert_eq!(
        m["modules"]["jira:entityProperty"],
        json!([{"key": "todo-progress-index", "entityType": "issue", "propertyKey": "todo-progress",
                "values": [{"path": "open", "type": "number", "searchAlias": "todoOpen"},
                           {"path": "total", "type": "number", "searchAlias": "todoTotal"}]}])
    );
    assert_eq!(
        m["permissions"],
        json!({"scopes": ["read:app-system-token", "read:confluence-user", "write:confluence-content",
                          "read:jira-work", "write:jira-work", "read:jira-user"],
               "external": {"fetch": {"backend": [{"remote": "todo-backend"}]}}})
    );
    assert_eq!(
        m.get("connectModules"),
        None,
        "a new Forge app declares no Connect modules"
    );
}

#[test]
fn with_connect_the_connect_modules_are_the_descriptors_own() {
    let dir = tempfile::tempdir().unwrap();
    let bin = binary(dir.path());
    let m = parse(&manifest(&bin, &["--with-connect"]));
    let descriptor: Value = serde_json::from_str(&stdout(&bin.run(&["descriptor"]))).unwrap();
    assert_eq!(
        m["app"]["connect"],
        json!({"key": ADDON_KEY, "remote": "todo-backend", "authentication": "jwt"})
    );
    let connect = m["connectModules"].as_object().unwrap();
    let modules = descriptor["modules"].as_object().unwrap();
    assert_eq!(
        connect.len(),
        modules.len() + 1,
        "every descriptor module kind, and the lifecycle"
    );
    for (kind, list) in modules {
        assert_eq!(&connect[&format!("confluence:{kind}")], list, "{kind}");
    }
    let mut lifecycle = descriptor["lifecycle"].clone();
    lifecycle["key"] = json!("connect-lifecycle");
    assert_eq!(
        connect["confluence:lifecycle"],
        json!([lifecycle]),
        "exactly one lifecycle entry"
    );
    assert_eq!(
        m["permissions"]["scopes"],
        json!([
            "read:app-system-token",
            "read:confluence-user",
            "write:confluence-content",
            "read:connect-confluence",
            "write:connect-confluence"
        ])
    );
    // Both macros are offered, under different keys: Connect's renders the saved macros.
    assert_eq!(m["modules"]["macro"][0]["key"], "todo-task");
    assert_eq!(
        connect["confluence:dynamicContentMacros"][0]["key"],
        "dynamic-task-macro"
    );
    // The Forge form's modules are all there too but Jira's (an app with Connect modules may
    // serve one product only), and no key is used twice.
    let mut forge = parse(&manifest(&bin, &[]));
    let forge_modules = forge["modules"].as_object_mut().unwrap();
    forge_modules.remove("jira:issuePanel");
    forge_modules.remove("jira:entityProperty");
    forge_modules["trigger"].as_array_mut().unwrap().truncate(1);
    assert_eq!(m["modules"], forge["modules"]);
    assert_eq!(m["app"].get("compatibility"), None, "Confluence only");
    let scopes = m["permissions"]["scopes"].to_string();
    assert!(!scopes.contains("jira"), "{scopes}");
    let mut keys: Vec<&str> = ["modules", "connectModules"]
        .iter()
        .flat_map(|group| m[group].as_object().unwrap().values())
        .flat_map(|list| list.as_array().unwrap())
        .map(|module| module["key"].as_str().unwrap())
        .collect();
    let count = keys.len();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), count, "module keys are unique: {keys:?}");
}

#[test]
fn retiring_connect_keeps_the_connect_key_and_hands_the_saved_macros_to_forge() {
    let dir = tempfile::tempdir().unwrap();
    let bin = binary(dir.path());
    let m = parse(&manifest(&bin, &["--retire-connect"]));
    let forge = parse(&manifest(&bin, &[]));
    let descriptor: Value = serde_json::from_str(&stdout(&bin.run(&["descriptor"]))).unwrap();
    assert_eq!(
        m["app"]["connect"],
        json!({"key": ADDON_KEY, "remote": "todo-backend"}),
        "app.connect.key can never go once deployed"
    );
    assert_eq!(
        m.get("connectModules"),
        None,
        "no Connect module, lifecycle included"
    );
    let scopes = m["permissions"]["scopes"].as_array().unwrap();
    assert!(
        scopes
            .iter()
            .all(|s| !s.as_str().unwrap().ends_with(":connect-confluence")),
        "no Connect scope: {scopes:?}"
    );
    // The macro is the Forge form's, under the key the saved Connect macros carry; the Forge
    // form's own stays, hidden, for the macros inserted through it while Connect's was there.
    let connect_macros = descriptor["modules"]["dynamicContentMacros"]
        .as_array()
        .unwrap();
    assert_eq!(connect_macros.len(), 1);
    assert_eq!(m["modules"]["macro"][0]["key"], connect_macros[0]["key"]);
    let mut taking_over = forge["modules"]["macro"][0].clone();
    taking_over["key"] = connect_macros[0]["key"].clone();
    let mut earlier = forge["modules"]["macro"][0].clone();
    earlier["hidden"] = json!(true);
    assert_eq!(m["modules"]["macro"], json!([taking_over, earlier]));
    // Everything else is the plain Forge manifest's.
    for part in [
        "endpoint",
        "trigger",
        "preUninstall",
        "confluence:globalPage",
    ] {
        assert_eq!(m["modules"][part], forge["modules"][part], "{part}");
    }
    let kinds = |v: &Value| v["modules"].as_object().unwrap().len();
    assert_eq!(kinds(&m), kinds(&forge), "no module kind of its own");
    for part in ["remotes", "resources", "permissions"] {
        assert_eq!(m[part], forge[part], "{part}");
    }
    assert_eq!(m["app"]["id"], forge["app"]["id"]);
    assert_eq!(m["app"]["runtime"], forge["app"]["runtime"]);
}

#[test]
fn the_two_connect_flags_are_refused_together() {
    let dir = tempfile::tempdir().unwrap();
    let out = binary(dir.path()).run(&["manifest", "--with-connect", "--retire-connect"]);
    assert!(!out.status.success());
    assert_eq!(stdout(&out), "", "no manifest printed");
    assert!(
        stderr(&out).contains("cannot be used with"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn manifest_help_explains_the_three_stages() {
    let dir = tempfile::tempdir().unwrap();
    let out = binary(dir.path()).run(&["manifest", "--help"]);
    assert!(out.status.success());
    let help = stdout(&out);
    for stage in [
        "\"new Forge app\"",
        "\"Connect on Forge\"",
        "\"Connect retired\"",
    ] {
        assert!(help.contains(stage), "{stage} in {help}");
    }
    assert!(help.contains("--retire-connect") && help.contains("--with-connect"));
}

#[test]
fn values_that_look_like_yaml_syntax_stay_the_strings_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let site = "https://todo.example.test/a:b/it's/-[x]/";
    for key in ["null", "true", "1e5", "0x10"] {
        let bin = binary(dir.path())
            .env("ADDON_KEY", key)
            .env("SITE_URL", site);
        let m = parse(&manifest(&bin, &["--with-connect"]));
        assert_eq!(m["app"]["connect"]["key"], json!(key));
        let descriptor: Value = serde_json::from_str(&stdout(&bin.run(&["descriptor"]))).unwrap();
        assert_eq!(
            descriptor["baseUrl"],
            json!("https://todo.example.test/a:b/it's/-[x]")
        );
        assert_eq!(m["remotes"][0]["baseUrl"], descriptor["baseUrl"]);
    }
}

#[test]
fn without_a_forge_app_id_or_https_the_manifest_is_refused_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    for (bin, variable) in [
        (binary(dir.path()).without("FORGE_APP_ID"), "FORGE_APP_ID"),
        (
            binary(dir.path()).env("SITE_URL", "http://localhost:3000"),
            "SITE_URL",
        ),
    ] {
        for args in [
            &["manifest"][..],
            &["manifest", "--with-connect"],
            &["manifest", "--retire-connect"],
        ] {
            let out = bin.run(args);
            assert!(
                !out.status.success(),
                "{args:?} without {variable} must fail"
            );
            assert_eq!(stdout(&out), "", "nothing printed on stdout");
            let err = stderr(&out);
            assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
            assert!(
                err.starts_with("todo-connect: ") && err.contains(variable),
                "{err}"
            );
        }
    }
}
