//! `todo-connect manifest [--with-connect]`: the real binary prints each form, Atlassian's
//! validator (`@forge/manifest`, through `forge/scripts/validate-manifest.mjs`) accepts both,
//! and what they declare is checked against the descriptor and the route table.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};
use todo_connect::app::routes::paths;
use yaml_rust2::{Yaml, YamlLoader};

use super::{built_ui, forge_dir};
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

/// Atlassian's validator on each folder's `manifest.yml`: one `{file, success, errors}` each.
fn validate(folders: &[&Path]) -> Vec<Value> {
    let script = forge_dir().join("scripts").join("validate-manifest.mjs");
    let out = Command::new("node")
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

#[test]
fn both_manifest_forms_pass_atlassians_validator() {
    let dir = tempfile::tempdir().unwrap();
    let bin = binary(dir.path());
    let forge = manifest_folder(&manifest(&bin, &[]));
    let connect = manifest_folder(&manifest(&bin, &["--with-connect"]));
    for result in validate(&[forge.path(), connect.path()]) {
        assert_eq!(result["success"], true, "{result}");
        assert_eq!(result["errors"], json!([]), "{result}");
    }
}

#[test]
fn the_validator_refuses_a_forge_module_that_takes_a_connect_modules_key() {
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
        json!({"id": APP_ARI, "runtime": {"name": "nodejs22.x"}})
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
        ])
    );
    assert_eq!(
        m["modules"]["trigger"],
        json!([{"key": "todo-lifecycle", "endpoint": "todo-events",
                "events": ["avi:forge:installed:app", "avi:forge:upgraded:app"]}])
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
        ])
    );
    assert_eq!(
        m["permissions"],
        json!({"scopes": ["read:app-system-token", "read:confluence-user", "write:confluence-content"],
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
            "write:connect-confluence",
            "act-as-user:connect-confluence"
        ])
    );
    // The Forge form's modules are all there too, and no key is used twice.
    let forge = parse(&manifest(&bin, &[]));
    assert_eq!(m["modules"], forge["modules"]);
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
        for args in [&["manifest"][..], &["manifest", "--with-connect"]] {
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
