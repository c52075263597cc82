//! `purge` and `sites` on a database at another schema version than the binary's (a newer
//! binary migrated it, or an older one is run against it): both refuse with one line naming
//! both versions, before reading or deleting anything, on either backend.

use super::Deployment;
use crate::harness::api::latest_version;
use crate::harness::*;

#[test]
fn purge_and_sites_refuse_another_schema_version_and_change_nothing() {
    let d = Deployment::start();
    let forge = ForgeSite::new();
    d.forge_installed(&forge);
    d.forge_create(&forge, "kept");
    assert_eq!(d.pre_uninstall(&forge).status, 200);
    let newer = latest_version() + 1;
    let stamp = if on_postgres() {
        format!(
            "INSERT INTO schema_migrations (version, name) VALUES ({newer}, 'from_a_newer_binary')"
        )
    } else {
        format!("PRAGMA user_version = {newer}")
    };
    d.db().execute(&stamp, ()).unwrap();
    let before = d.dump_sites();

    let expected = format!(
        "schema version {newer}, this binary knows {}",
        latest_version()
    );
    for args in [
        &["purge", "--uninstalled-for", "0"][..],
        &["purge", "--uninstalled-for", "0", "--dry-run"],
        &["sites", "--json"],
    ] {
        let out = d.binary.run(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stdout(&out));
        let err = stderr(&out);
        assert!(err.contains(&expected), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(stdout(&out).is_empty(), "{args:?}: {}", stdout(&out));
    }
    assert_eq!(d.dump_sites(), before, "the site is still there, unchanged");
    let tasks: i64 = d
        .db()
        .query_row("SELECT count(*) FROM tasks", (), |r| r.get(0))
        .unwrap();
    assert_eq!(tasks, 1);
}
