//! The Forge schema change on a real database file through the real binary: a database at
//! schema 2 (before Forge) keeps every site, user and task unchanged when `migrate` rebuilds
//! `jwt_tokens` — foreign keys would otherwise cascade-delete every task with the old table.

use rusqlite::Connection;

use crate::harness::*;

const MIGRATIONS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/db/migrations");

/// Every row of the three tables (jwt_tokens and tasks by their schema-2 columns), in id order.
fn rows(conn: &Connection) -> Vec<String> {
    let tables = [
        (
            "jwt_tokens",
            "id, addon_key, client_key, shared_secret, base_url, display_url, product_type, \
             description, oauth_client_id, server_version, plugins_version, sen, installation_id, \
             installed, enabled, installed_at, updated_at, uninstalled_at",
        ),
        ("jwt_users", "*"),
        (
            "tasks",
            "id, site_id, title, done, created_by, page_id, created_at, updated_at",
        ),
    ];
    let mut out = Vec::new();
    for (table, columns) in tables {
        let mut stmt = conn
            .prepare(&format!("SELECT {columns} FROM {table} ORDER BY id"))
            .unwrap();
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
fn sites_users_and_tasks_of_schema_2_survive_the_forge_migration_unchanged() {
    if skip::sqlite_only() {
        return; // SQLite only: the table rebuild and its foreign keys are SQLite's.
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("schema2.sqlite3");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch("PRAGMA foreign_keys = ON;").unwrap();
    for file in ["0001_initial.sql", "0002_site_id.sql"] {
        let sql = std::fs::read_to_string(format!("{MIGRATIONS}/{file}")).unwrap();
        conn.execute_batch(&sql).unwrap();
    }
    conn.pragma_update(None, "user_version", 2).unwrap();
    conn.execute_batch(
        "INSERT INTO jwt_tokens (addon_key, client_key, shared_secret, base_url, display_url,
             product_type, description, oauth_client_id, installation_id, installed, enabled,
             installed_at, updated_at, uninstalled_at)
         VALUES ('todo-connect-test', 'client-a', 'secret-a', 'https://a.atlassian.net/wiki',
                 'https://a.example.com/wiki', 'confluence', 'A', 'oauth-a',
                 'ari:cloud:ecosystem::installation/a', 1, 1, '2026-01-01T00:00:00.000Z',
                 '2026-01-02T00:00:00.000Z', NULL),
                ('todo-connect-test', 'client-b', NULL, 'https://b.atlassian.net/wiki', NULL,
                 'confluence', NULL, NULL, NULL, 0, 0, '2026-01-01T00:00:00.000Z',
                 '2026-02-01T00:00:00.000Z', '2026-02-01T00:00:00.000Z');
         INSERT INTO jwt_users (site_id, account_id, first_seen_at, last_seen_at)
         VALUES (1, 'acc-1', 't1', 't2'), (2, 'acc-2', 't1', 't1');
         INSERT INTO tasks (site_id, title, done, created_by, page_id, created_at, updated_at)
         VALUES (1, 'alpha', 0, 'acc-1', '100', 't1', 't1'),
                (2, 'beta', 1, 'acc-2', NULL, 't1', 't2'),
                (1, 'gamma', 0, NULL, NULL, 't3', 't3');",
    )
    .unwrap();
    let before = rows(&conn);
    drop(conn);

    let out = Binary::test(dir.path(), &path).run(&["migrate"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let conn = Connection::open(&path).unwrap();
    assert_eq!(rows(&conn), before, "every row unchanged");
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, api::latest_version());
    let dangling: i64 = conn
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(dangling, 0);
    // The migrated site still works end to end: its secret verifies and its tasks list.
    drop(conn);
    let server = Binary::test(dir.path(), &path).serve();
    let site = Site {
        client_key: "client-a".into(),
        secret: "secret-a".into(),
        base_url: "http://127.0.0.1:9/wiki".into(),
    };
    let token = site.context_token("acc-1");
    let response = crate::harness::raw_http::exchange(
        server.port,
        format!(
            "GET /api/tasks HTTP/1.1\r\nHost: x\r\nAuthorization: JWT {token}\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    );
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response.contains("alpha") && response.contains("gamma"),
        "{response}"
    );
    assert!(!response.contains("beta"), "{response}");
}
