//! `todo-connect sites [--json]` beside a running server: every site with how it is reached,
//! each way in's state and times, its task count — and nothing written.

use serde_json::Value;

use super::{Deployment, connect_payload};
use crate::harness::*;

#[test]
fn sites_lists_every_site_with_its_ways_in_beside_a_running_server() {
    let d = Deployment::start();
    let (connect_only, both_c, both_f, forge_only) = (
        Site::new("listed-connect"),
        Site::new("listed-both"),
        ForgeSite::new(),
        ForgeSite::new(),
    );
    install_at_blocking(&connect_only, &d);
    assert_eq!(
        d.lifecycle(&both_c, "installed", &connect_payload(&both_c, &both_f)),
        204
    );
    d.connect_create(&both_c, "one");
    d.forge_create(&both_f, "two");
    d.forge_create(&forge_only, "three");
    // The uses just made are written after their answers: wait for them before the snapshot.
    d.wait_seen("connect_seen_at", "client_key", &both_c.client_key);
    d.wait_seen("forge_seen_at", "cloud_id", &both_f.cloud_id);
    d.wait_seen("forge_seen_at", "cloud_id", &forge_only.cloud_id);
    let before = d.dump_sites();

    let json: Value = serde_json::from_str(&d.run(&["sites", "--json"])).unwrap();
    let sites = json.as_array().unwrap();
    assert_eq!(sites.len(), 3, "{json}");
    let reached: Vec<&str> = sites
        .iter()
        .map(|s| s["reached_by"].as_str().unwrap())
        .collect();
    assert_eq!(reached, ["connect", "both", "forge"], "{json}");
    let tasks: Vec<i64> = sites.iter().map(|s| s["tasks"].as_i64().unwrap()).collect();
    assert_eq!(tasks, [0, 2, 1]);
    assert_eq!(sites[0]["client_key"], true);
    assert_eq!(sites[2]["client_key"], false);
    assert_eq!(sites[2]["cloud_id"], forge_only.cloud_id.as_str());
    assert_eq!(sites[1]["forge"]["state"], "installed");
    assert!(
        sites[1]["forge"]["seen_at"].is_string(),
        "Forge use on record: {json}"
    );
    assert!(sites[1]["connect"]["installed_at"].is_string(), "{json}");
    assert!(
        !json.to_string().contains(&both_c.secret),
        "no secret printed"
    );

    let table = d.run(&["sites"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4, "{table}");
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("REACHED"),
        "{table}"
    );
    assert!(
        lines[2].contains("both") && lines[3].contains(&forge_only.cloud_id),
        "{table}"
    );
    assert!(!table.contains(&both_c.secret));
    assert_eq!(d.dump_sites(), before, "read-only: nothing written");
}

fn install_at_blocking(site: &Site, d: &Deployment) {
    assert_eq!(d.lifecycle(site, "installed", &site.payload()), 204);
}
