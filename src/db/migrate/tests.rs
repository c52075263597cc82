//! The migrations on a real in-memory SQLite database: applied once, refused when newer,
//! rolled back whole when one fails or would leave a row pointing at nothing, and each one
//! keeping every row of the schema before it.

use super::*;
use crate::db::sqlite::memory;

#[test]
fn migrating_twice_applies_nothing_the_second_time() {
    let mut conn = memory();
    assert_eq!(
        migrate(&mut conn).unwrap(),
        vec![
            "0001_initial",
            "0002_site_id",
            "0003_forge",
            "0004_ways_in",
            "0005_jira_issues"
        ]
    );
    assert!(migrate(&mut conn).unwrap().is_empty());
    assert_eq!(schema_version(&conn).unwrap(), latest_version());
}

#[test]
fn a_newer_schema_is_refused() {
    let mut conn = memory();
    conn.pragma_update(None, "user_version", latest_version() + 1)
        .unwrap();
    let err = migrate(&mut conn).unwrap_err();
    assert!(matches!(err, DbError::TooNew { .. }), "{err}");
}

#[test]
fn a_failing_migration_leaves_the_previous_schema_intact() {
    let mut conn = memory();
    let broken: &[(&'static str, &str)] = &[
        MIGRATIONS[0],
        (
            "0002_broken",
            "CREATE TABLE half_done (x); ALTER TABLE nowhere ADD y;",
        ),
    ];
    let err = apply(&mut conn, broken).unwrap_err();
    assert!(
        matches!(
            err,
            DbError::Migration {
                name: "0002_broken",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(schema_version(&conn).unwrap(), 1, "version not bumped");
    let half: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE name = 'half_done'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        half, 0,
        "the failed migration's first statement was rolled back"
    );
    assert_eq!(
        apply(&mut conn, &MIGRATIONS[..2]).unwrap(),
        vec!["0002_site_id"],
        "the good schema still migrates from where it stood"
    );
}

/// Every row of the three tables, in id order, as text.
fn rows(conn: &Connection) -> Vec<String> {
    let mut out = Vec::new();
    for (table, columns) in [
        (
            "jwt_tokens",
            "id, addon_key, client_key, shared_secret, base_url, display_url, product_type, \
             description, oauth_client_id, server_version, plugins_version, sen, \
             installation_id, installed, enabled, installed_at, updated_at, uninstalled_at",
        ),
        ("jwt_users", "*"),
        (
            "tasks",
            "id, site_id, title, done, created_by, page_id, created_at, updated_at",
        ),
    ] {
        let sql = format!("SELECT {columns} FROM {table} ORDER BY id");
        let mut stmt = conn.prepare(&sql).unwrap();
        let n = stmt.column_count();
        let found = stmt
            .query_map([], |row| {
                let values: Vec<String> = (0..n)
                    .map(|i| format!("{:?}", row.get_ref(i).unwrap()))
                    .collect();
                Ok(format!("{table}: {}", values.join("|")))
            })
            .unwrap();
        out.extend(found.map(Result::unwrap));
    }
    out
}

#[test]
fn the_forge_migration_keeps_every_site_user_and_task_of_schema_2() {
    let mut conn = memory();
    apply(&mut conn, &MIGRATIONS[..2]).unwrap();
    conn.execute_batch(
        "INSERT INTO jwt_tokens (addon_key, client_key, shared_secret, base_url, display_url,
             product_type, installation_id, installed, enabled, installed_at, updated_at,
             uninstalled_at)
         VALUES ('app', 'c1', 's1', 'https://a.atlassian.net/wiki', NULL, 'confluence',
                 'ari:cloud:ecosystem::installation/1', 1, 1, 't1', 't1', NULL),
                ('app', 'c2', NULL, 'https://b.atlassian.net/wiki', 'https://b.example',
                 'confluence', NULL, 0, 0, 't2', 't3', 't3');
         INSERT INTO jwt_users (site_id, account_id, first_seen_at, last_seen_at)
         VALUES (1, 'u1', 't', 't'), (2, 'u2', 't', 't');
         INSERT INTO tasks (site_id, title, done, created_by, page_id, created_at, updated_at)
         VALUES (1, 'one', 0, 'u1', '42', 't', 't'), (2, 'two', 1, NULL, NULL, 't', 't'),
                (1, 'three', 0, 'u1', NULL, 't', 't');
         DELETE FROM tasks WHERE title = 'three';",
    )
    .unwrap();
    let before = rows(&conn);
    assert_eq!(before.len(), 6, "{before:?}");

    assert_eq!(
        apply(&mut conn, &MIGRATIONS[..3]).unwrap(),
        vec!["0003_forge"]
    );
    assert_eq!(rows(&conn), before, "every row unchanged");
    let enforced: bool = conn
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .unwrap();
    assert!(enforced, "foreign keys are on again after migrating");
    // The references still point at the rebuilt table: deleting a site cascades.
    conn.execute("DELETE FROM jwt_tokens WHERE id = 2", [])
        .unwrap();
    let left: i64 = conn
        .query_row("SELECT count(*) FROM tasks WHERE site_id = 2", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(left, 0);
    // An id is still never reused after a delete (AUTOINCREMENT survived).
    conn.execute(
        "INSERT INTO tasks (site_id, title, created_at, updated_at) VALUES (1, 'four', 't', 't')",
        [],
    )
    .unwrap();
    let newest: i64 = conn
        .query_row("SELECT max(id) FROM tasks", [], |r| r.get(0))
        .unwrap();
    assert_eq!(newest, 4);
}

#[test]
fn the_ways_in_migration_backfills_each_way_from_the_columns_of_schema_3() {
    let mut conn = memory();
    apply(&mut conn, &MIGRATIONS[..3]).unwrap();
    conn.execute_batch(
        "INSERT INTO jwt_tokens (addon_key, client_key, shared_secret, base_url, product_type,
             installation_id, cloud_id, api_base_url, installed, enabled, installed_at,
             updated_at, uninstalled_at)
         VALUES ('app', 'live', 's', 'https://a/wiki', 'confluence', NULL, NULL, NULL,
                 1, 1, 't1', 't1', NULL),
                ('app', 'gone', NULL, 'https://b/wiki', 'confluence', NULL, NULL, NULL,
                 0, 0, 't1', 't2', 't2'),
                ('app', 'moved', NULL, 'https://c/wiki', 'confluence', 'i-c', 'cloud-c',
                 'https://api/ex/confluence/cloud-c', 0, 0, 't1', 't3', 't3'),
                ('app', 'adopted', 's', 'https://d/wiki', 'confluence', 'i-d', NULL, NULL,
                 1, 1, 't1', 't1', NULL),
                ('app', NULL, NULL, NULL, 'confluence', 'i-e', 'cloud-e', NULL,
                 1, 1, 't4', 't4', NULL);",
    )
    .unwrap();
    assert_eq!(
        apply(&mut conn, &MIGRATIONS[..4]).unwrap(),
        vec!["0004_ways_in"]
    );
    let ways: Vec<String> = conn
        .prepare(
            "SELECT concat_ws('|', connect_state, connect_installed_at,
                 connect_uninstalled_at, forge_state, forge_installed_at)
             FROM jwt_tokens ORDER BY id",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(
        ways,
        [
            "installed|t1",
            "uninstalled|t1|t2",
            "uninstalled|t1|t3|installed|t1",
            "installed|t1",
            "installed|t4",
        ]
    );
}

#[test]
fn a_forge_only_site_needs_no_client_key_but_some_way_in() {
    let mut conn = memory();
    migrate(&mut conn).unwrap();
    conn.execute(
        "INSERT INTO jwt_tokens (addon_key, product_type, installation_id, cloud_id, installed_at, updated_at)
         VALUES ('app', 'confluence', 'ari:cloud:ecosystem::installation/9', 'cloud-9', 't', 't')",
        [],
    )
    .unwrap();
    let neither = conn.execute(
        "INSERT INTO jwt_tokens (addon_key, product_type, installed_at, updated_at)
         VALUES ('app', 'confluence', 't', 't')",
        [],
    );
    assert!(neither.is_err(), "a site with no way in is refused");
    let same_cloud = conn.execute(
        "INSERT INTO jwt_tokens (addon_key, product_type, installation_id, cloud_id, installed_at, updated_at)
         VALUES ('app', 'confluence', 'other', 'cloud-9', 't', 't')",
        [],
    );
    assert!(same_cloud.is_err(), "cloud ids are unique");
}

#[test]
fn a_migration_that_would_leave_dangling_references_is_rolled_back() {
    let mut conn = memory();
    apply(&mut conn, &MIGRATIONS[..2]).unwrap();
    conn.execute_batch(
        "INSERT INTO jwt_tokens (addon_key, client_key, base_url, product_type, installed_at, updated_at)
         VALUES ('app', 'c1', 'https://a', 'confluence', 't', 't');
         INSERT INTO tasks (site_id, title, created_at, updated_at) VALUES (1, 'kept', 't', 't');",
    )
    .unwrap();
    let careless: &[(&'static str, &str)] = &[
        MIGRATIONS[0],
        MIGRATIONS[1],
        (
            "0003_careless",
            "CREATE TABLE jwt_tokens_new (id INTEGER PRIMARY KEY, addon_key TEXT);
             DROP TABLE jwt_tokens;
             ALTER TABLE jwt_tokens_new RENAME TO jwt_tokens;",
        ),
    ];
    let err = apply(&mut conn, careless).unwrap_err();
    assert!(
        matches!(
            err,
            DbError::ForeignKeys {
                name: "0003_careless",
                rows: 1
            }
        ),
        "{err}"
    );
    assert_eq!(schema_version(&conn).unwrap(), 2);
    let kept: i64 = conn
        .query_row(
            "SELECT count(*) FROM tasks JOIN jwt_tokens ON jwt_tokens.id = tasks.site_id",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(kept, 1, "the site and its task are still there");
}
