//! The Forge schema change on a real database through the real binary, on either backend: a
//! database at schema 2 (before Forge) keeps every site, user and task unchanged when `migrate`
//! brings it to the latest schema. On SQLite the migration rebuilds `jwt_tokens`, whose foreign
//! keys would otherwise cascade-delete every task with the old table; on PostgreSQL it alters
//! the table in place.

use crate::harness::*;
use crate::sites::migration::schema_at;

/// Every row of the three tables (jwt_tokens and tasks by their schema-2 columns), in id order.
fn rows(db: &TestDb) -> Vec<String> {
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
        let found = db
            .rows(&format!("SELECT {columns} FROM {table} ORDER BY id"), ())
            .unwrap();
        out.extend(found.iter().map(|row| {
            let values: Vec<String> = row.0.iter().map(Val::render).collect();
            format!("{table}: {}", values.join("|"))
        }));
    }
    out
}

#[test]
fn sites_users_and_tasks_of_schema_2_survive_the_forge_migration_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("schema2.sqlite3");
    schema_at(&path, 2);
    let db = TestDb::at(&path);
    if let TestDb::Sqlite(conn) = &db {
        conn.execute_batch("PRAGMA foreign_keys = ON;").unwrap();
    }
    // Written once for both backends: `true`/`false` and RFC 3339 text are read by both.
    for insert in [
        "INSERT INTO jwt_tokens (addon_key, client_key, shared_secret, base_url, display_url,
             product_type, description, oauth_client_id, installation_id, installed, enabled,
             installed_at, updated_at, uninstalled_at)
         VALUES ('todo-connect-test', 'client-a', 'secret-a', 'https://a.atlassian.net/wiki',
                 'https://a.example.com/wiki', 'confluence', 'A', 'oauth-a',
                 'ari:cloud:ecosystem::installation/a', true, true, '2026-01-01T00:00:00.000Z',
                 '2026-01-02T00:00:00.000Z', NULL),
                ('todo-connect-test', 'client-b', NULL, 'https://b.atlassian.net/wiki', NULL,
                 'confluence', NULL, NULL, NULL, false, false, '2026-01-01T00:00:00.000Z',
                 '2026-02-01T00:00:00.000Z', '2026-02-01T00:00:00.000Z')",
        "INSERT INTO jwt_users (site_id, account_id, first_seen_at, last_seen_at)
         VALUES (1, 'acc-1', '2026-01-01T00:00:00.000Z', '2026-01-02T00:00:00.000Z'),
                (2, 'acc-2', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')",
        "INSERT INTO tasks (site_id, title, done, created_by, page_id, created_at, updated_at)
         VALUES (1, 'alpha', false, 'acc-1', '100', '2026-01-01T00:00:00.000Z',
                 '2026-01-01T00:00:00.000Z'),
                (2, 'beta', true, 'acc-2', NULL, '2026-01-01T00:00:00.000Z',
                 '2026-01-02T00:00:00.000Z'),
                (1, 'gamma', false, NULL, NULL, '2026-01-03T00:00:00.000Z',
                 '2026-01-03T00:00:00.000Z')",
    ] {
        db.execute(insert, ()).unwrap();
    }
    let before = rows(&db);
    assert_eq!(before.len(), 7, "{before:#?}");
    drop(db);

    let out = Binary::test(dir.path(), &path).run(&["migrate"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let db = TestDb::at(&path);
    assert_eq!(rows(&db), before, "every row unchanged");
    let recorded = if on_postgres() {
        "SELECT CAST(max(version) AS bigint) FROM schema_migrations"
    } else {
        "SELECT user_version FROM pragma_user_version"
    };
    let version: i64 = db.query_row(recorded, (), |r| r.get(0)).unwrap();
    assert_eq!(version, api::latest_version());
    if let TestDb::Sqlite(conn) = &db {
        // PostgreSQL enforces its foreign keys on every statement; SQLite's rebuild could not.
        let dangling: i64 = conn
            .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(dangling, 0);
    }
    // The migrated site still works end to end: its secret verifies and its tasks list.
    drop(db);
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
