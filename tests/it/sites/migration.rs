//! The ways-in schema change (`0004_ways_in`) on a real database through the real binary, on
//! either backend: a database at schema 3 gets each site's Connect and Forge state backfilled
//! from the columns it had, and `sites` shows them.

use serde_json::Value;

use crate::harness::*;

const MIGRATIONS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/db/migrations");

/// The schema of the first `version` shipped migration files, on either backend, as a binary of
/// that version left it (PostgreSQL: with its `schema_migrations` rows; SQLite: `user_version`).
/// Also the start of `forge::migration`'s test.
pub(crate) fn schema_at(db: &std::path::Path, version: usize) {
    let mut files: Vec<String> = std::fs::read_dir(MIGRATIONS)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".sql"))
        .collect();
    files.sort();
    files.truncate(version);
    assert_eq!(files.len(), version, "{files:?}");
    if on_postgres() {
        let mut sql = String::new();
        for file in &files {
            sql += &std::fs::read_to_string(format!("{MIGRATIONS}/postgres/{file}")).unwrap();
        }
        sql += "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now());";
        for (i, file) in files.iter().enumerate() {
            let name = file.trim_end_matches(".sql");
            sql += &format!(
                "INSERT INTO schema_migrations (version, name) VALUES ({}, '{name}');",
                i + 1
            );
        }
        let url = crate::harness::postgres::database_for(db);
        crate::harness::postgres::run(&url, move |client| async move {
            client.batch_execute(&sql).await
        })
        .unwrap();
    } else {
        std::fs::create_dir_all(db.parent().unwrap()).unwrap();
        let conn = rusqlite::Connection::open(db).unwrap();
        for file in &files {
            let sql = std::fs::read_to_string(format!("{MIGRATIONS}/{file}")).unwrap();
            conn.execute_batch(&sql).unwrap();
        }
        conn.pragma_update(None, "user_version", version as i64)
            .unwrap();
    }
}

#[test]
fn each_way_in_is_backfilled_from_the_columns_of_schema_3() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("volume").join("todo.sqlite3");
    schema_at(&db, 3);
    let t = |day: u32| format!("2026-0{day}-01T00:00:00.000Z");
    let rows = TestDb::at(&db);
    for (client_key, secret, installation, cloud, api, installed, uninstalled) in [
        (Some("live"), Some("s"), None, None, None, true, None),
        (Some("gone"), None, None, None, None, false, Some(t(2))),
        (
            Some("moved"),
            None,
            Some("i-moved"),
            Some("cloud-moved"),
            Some("https://api.atlassian.com/ex/confluence/cloud-moved"),
            false,
            Some(t(3)),
        ),
        (
            None,
            None,
            Some("i-forge"),
            Some("cloud-forge"),
            None,
            true,
            None,
        ),
    ] {
        rows.execute(
            "INSERT INTO jwt_tokens (addon_key, client_key, shared_secret, base_url, product_type,
                 installation_id, cloud_id, api_base_url, installed, enabled, installed_at,
                 updated_at, uninstalled_at)
             VALUES ('app', ?1, ?2, ?3, 'confluence', ?4, ?5, ?6, ?7, ?7, ?8, ?8, ?9)",
            vals![
                client_key,
                secret,
                client_key.map(|_| "https://x.atlassian.net/wiki"),
                installation,
                cloud,
                api,
                installed,
                t(1),
                uninstalled
            ],
        )
        .unwrap();
    }
    drop(rows);

    let binary = Binary::test(dir.path(), &db);
    let out = binary.run(&["migrate"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = binary.run(&["sites", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let sites: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let ways: Vec<(Value, Value, Value, &str)> = sites
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["connect"]["state"].clone(),
                s["connect"]["uninstalled_at"].clone(),
                s["forge"]["state"].clone(),
                s["reached_by"].as_str().unwrap(),
            )
        })
        .collect();
    let (null, installed, uninstalled) = (
        Value::Null,
        Value::from("installed"),
        Value::from("uninstalled"),
    );
    assert_eq!(
        ways,
        vec![
            (installed.clone(), null.clone(), null.clone(), "connect"),
            (uninstalled.clone(), Value::from(t(2)), null.clone(), "none"),
            (uninstalled, Value::from(t(3)), installed.clone(), "forge"),
            (null.clone(), null, installed, "forge"),
        ],
        "{sites}"
    );
    // The moved site (Connect gone, Forge in use) is what the old purge deleted: not now.
    let out = binary.run(&["purge", "--uninstalled-for", "0"]);
    assert!(stdout(&out).contains("purged 1 sites"), "{}", stdout(&out));
    assert!(stdout(&out).contains("purged gone ("), "{}", stdout(&out));
}
