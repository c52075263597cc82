//! Looking into the app's SQLite file from the test, for assertions.

use super::app::TestApp;

/// A second connection to the app's database file.
pub fn db(app: &TestApp) -> rusqlite::Connection {
    rusqlite::Connection::open(&app.db_path).unwrap()
}

/// The stored secret of a site (None when uninstalled or unknown).
pub fn stored_secret(app: &TestApp, client_key: &str) -> Option<String> {
    db(app)
        .query_row(
            "SELECT shared_secret FROM jwt_tokens WHERE client_key = ?1",
            [client_key],
            |r| r.get(0),
        )
        .unwrap_or(None)
}

/// A snapshot of every row of every table, to assert nothing changed.
pub fn dump(app: &TestApp) -> String {
    let conn = db(app);
    let mut out = String::new();
    for table in ["jwt_tokens", "jwt_users", "tasks"] {
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM {table} ORDER BY id"))
            .unwrap();
        let cols = stmt.column_count();
        let rows = stmt
            .query_map([], |row| {
                let vals: Vec<String> = (0..cols)
                    .map(|i| match row.get_ref(i).unwrap() {
                        rusqlite::types::ValueRef::Text(t) => {
                            String::from_utf8_lossy(t).into_owned()
                        }
                        other => format!("{other:?}"),
                    })
                    .collect();
                Ok(vals.join("|"))
            })
            .unwrap();
        for r in rows {
            out.push_str(table);
            out.push(':');
            out.push_str(&r.unwrap());
            out.push('\n');
        }
    }
    out
}
