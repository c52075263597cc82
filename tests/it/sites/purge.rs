//! `purge` and the ways in (issue 24, HIGH): a Connect `uninstalled` on a site Forge still uses
//! leaves its tasks reachable through Forge and out of every purge; a site goes only when every
//! way in it ever had is gone, and never when it was used after.

use reqwest::Method;

use super::{Deployment, connect_payload};
use crate::harness::*;

/// The migration order: Connect install → Forge installed event → tasks via Forge → Connect
/// uninstalled. Before the fix, `purge --uninstalled-for 0` deleted the site with its tasks
/// and the next Forge call re-created an empty one.
#[test]
fn a_connect_uninstall_leaves_a_site_forge_uses_to_forge_and_out_of_the_purge() {
    let d = Deployment::start();
    let (connect, forge) = (Site::new("moving"), ForgeSite::new());
    assert_eq!(
        d.lifecycle(&connect, "installed", &connect_payload(&connect, &forge)),
        204
    );
    let old = d.connect_create(&connect, "from Connect days");
    d.forge_installed(&forge);
    let mut ids = vec![old, d.forge_create(&forge, "from Forge")];
    ids.push(d.forge_create(&forge, "also from Forge"));
    ids.sort_unstable();
    assert_eq!(d.forge_ids(&forge), ids);
    assert_eq!(
        d.lifecycle(&connect, "uninstalled", &connect.payload()),
        204
    );

    let dry = d.run(&["purge", "--uninstalled-for", "0", "--dry-run"]);
    assert!(dry.contains("would purge 0 sites"), "{dry}");
    let out = d.run(&["purge", "--uninstalled-for", "0"]);
    assert!(out.contains("purged 0 sites"), "{out}");
    assert_eq!(d.forge_ids(&forge), ids, "Forge still lists every task");
    assert_eq!(d.site_count(), 1, "no second, empty site");
    let json = d.run(&["sites", "--json"]);
    let sites: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(sites[0]["reached_by"], "forge", "{sites}");
    assert_eq!(sites[0]["connect"]["state"], "uninstalled", "{sites}");
    assert_eq!(sites[0]["tasks"], 3, "{sites}");

    // Then Forge's preUninstall: every way in is gone, and nothing used it since.
    let res = d.pre_uninstall(&forge);
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json()["status"], "recorded");
    let dry = d.run(&["purge", "--uninstalled-for", "0", "--dry-run"]);
    assert!(dry.contains("would purge 1 sites"), "{dry}");
    assert!(
        dry.contains("connect uninstalled") && dry.contains("forge uninstalled"),
        "the dry run says why: {dry}"
    );
    assert_eq!(d.site_count(), 1, "a dry run deletes nothing");
    let kept = d.run(&["purge", "--uninstalled-for", "30"]);
    assert!(kept.contains("purged 0 sites"), "too recent: {kept}");
    let out = d.run(&["purge", "--uninstalled-for", "0"]);
    assert!(
        out.contains("purged 1 sites") && out.contains(": 3 tasks"),
        "{out}"
    );
    assert_eq!(d.site_count(), 0);
}

/// The reverse order: Forge first, then Connect adopts the site, then Forge's preUninstall —
/// the site stays while Connect reaches it — then Connect's uninstall.
#[test]
fn forge_then_connect_then_pre_uninstall_keeps_the_site_until_connect_goes_too() {
    let d = Deployment::start();
    let (connect, forge) = (Site::new("reverse"), ForgeSite::new());
    d.forge_installed(&forge);
    let first = d.forge_create(&forge, "from Forge first");
    assert_eq!(
        d.lifecycle(&connect, "installed", &adopted_payload(&connect, &forge)),
        204
    );
    let second = d.connect_create(&connect, "from Connect");
    assert_eq!(d.site_count(), 1, "one site, reached both ways");
    assert_eq!(d.pre_uninstall(&forge).status, 200);

    let out = d.run(&["purge", "--uninstalled-for", "0"]);
    assert!(
        out.contains("purged 0 sites"),
        "Connect still installed: {out}"
    );
    let token = connect.context_token("account-1");
    let res = crate::harness::raw_http::request(d.port(), "GET", "/api/tasks", Some(&token), "");
    assert_eq!(res.status, 200);
    assert_eq!(super::sorted_ids(&res.json()), vec![first, second]);

    assert_eq!(
        d.lifecycle(&connect, "uninstalled", &connect.payload()),
        204
    );
    let out = d.run(&["purge", "--uninstalled-for", "0"]);
    assert!(
        out.contains("purged 1 sites") && out.contains(": 2 tasks"),
        "{out}"
    );
    let left: i64 = d
        .db()
        .query_row("SELECT count(*) FROM tasks", (), |r| r.get(0))
        .unwrap();
    assert_eq!(left, 0);
}

/// The reverse order without preUninstall: Forge never said it left, so Connect's uninstall
/// leaves the site to Forge.
#[test]
fn forge_then_connect_uninstalled_without_pre_uninstall_is_never_purged() {
    let d = Deployment::start();
    let (connect, forge) = (Site::new("no-pre"), ForgeSite::new());
    d.forge_installed(&forge);
    let id = d.forge_create(&forge, "kept");
    assert_eq!(
        d.lifecycle(&connect, "installed", &adopted_payload(&connect, &forge)),
        204
    );
    assert_eq!(
        d.lifecycle(&connect, "uninstalled", &connect.payload()),
        204
    );
    let out = d.run(&["purge", "--uninstalled-for", "0"]);
    assert!(out.contains("purged 0 sites"), "{out}");
    assert_eq!(d.forge_ids(&forge), vec![id]);
}

/// A site used through Forge after its preUninstall (the uninstall takes effect only later) is
/// not purged, however long ago its ways in went.
#[test]
fn a_site_used_after_its_last_uninstall_is_kept() {
    let d = Deployment::start();
    let forge = ForgeSite::new();
    d.forge_installed(&forge);
    let id = d.forge_create(&forge, "still used");
    assert_eq!(d.pre_uninstall(&forge).status, 200);
    assert_eq!(d.forge_ids(&forge), vec![id], "used after the preUninstall");
    let dry = d.run(&["purge", "--uninstalled-for", "0", "--dry-run"]);
    assert!(dry.contains("would purge 0 sites"), "{dry}");
    let out = d.run(&["purge", "--uninstalled-for", "0"]);
    assert!(out.contains("purged 0 sites"), "{out}");
    assert_eq!(d.forge_ids(&forge), vec![id]);
}

/// preUninstall refuses what is not its token's, and changes nothing for an unknown
/// installation.
#[test]
fn pre_uninstall_refuses_another_cloud_and_ignores_an_unknown_installation() {
    let d = Deployment::start();
    let (forge, other) = (ForgeSite::new(), ForgeSite::new());
    d.forge_installed(&forge);
    let before = d.dump_sites();
    let body = serde_json::json!({"context": {"cloudId": other.cloud_id, "moduleKey": "m"}});
    let res = d.forge(&forge, Method::POST, "/forge/pre-uninstall", Some(body));
    assert_eq!(res.status, 401, "{}", res.text());
    assert!(res.text().contains("error"), "JSON error: {}", res.text());
    let res = super::forge_call(
        d.port(),
        "not-a-token",
        Method::POST,
        "/forge/pre-uninstall",
        None,
    );
    assert_eq!(res.status, 401);
    let bad = d.forge(
        &forge,
        Method::POST,
        "/forge/pre-uninstall",
        Some("[]".into()),
    );
    assert_eq!(bad.status, 400);
    assert_eq!(d.dump_sites(), before, "refusals changed nothing");
    let res = d.pre_uninstall(&other);
    assert_eq!(
        (res.status, res.json()["status"].clone()),
        (200, "unknown".into())
    );
    assert_eq!(
        d.dump_sites(),
        before,
        "an unknown installation changed nothing"
    );
}

/// A call after the site was purged (the uninstall took effect, then the app came back) is a
/// fresh, empty site — never a 500 from a site the server still remembered.
#[test]
fn a_forge_call_after_its_site_was_purged_starts_a_fresh_site() {
    let d = Deployment::start();
    let forge = ForgeSite::new();
    d.forge_installed(&forge);
    d.forge_create(&forge, "gone with the site");
    assert_eq!(d.pre_uninstall(&forge).status, 200);
    let out = d.run(&["purge", "--uninstalled-for", "0"]);
    assert!(out.contains("purged 1 sites"), "{out}");
    assert_eq!(d.site_count(), 0);

    assert_eq!(d.forge_ids(&forge), Vec::<i64>::new());
    let id = d.forge_create(&forge, "a new start");
    assert_eq!(d.forge_ids(&forge), vec![id]);
    assert_eq!(d.site_count(), 1);
}
