//! Sites through their ways in, against the real binary on either backend: the purge keeps a
//! site while any way in still reaches it (the migration order Connect → Forge and its
//! reverse, with and without Forge's `preUninstall`), a reinstall retires the old Forge
//! installation id without costing other sites their cache, and `todo-connect sites` lists
//! every site beside a running server.

mod flapping;
mod listing;
pub(crate) mod migration;
mod purge;
mod version;

use std::io::Write;
use std::path::PathBuf;

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::raw_http::{Response, connect, read_response, request};
use crate::harness::*;

/// The real binary serving with Connect (a local key server) and Forge (a local JWKS) on.
struct Deployment {
    _dir: tempfile::TempDir,
    db: PathBuf,
    binary: Binary,
    server: Server,
    sys: actix_web::rt::SystemRunner,
    _keys: KeyServer,
    _jwks: JwksServer,
}

impl Deployment {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("volume").join("todo.sqlite3");
        let sys = actix_web::rt::System::new();
        let keys = sys.block_on(async { KeyServer::start() });
        let jwks = JwksServer::start();
        let mut binary = Binary::test(dir.path(), &db).env("CONNECT_KEYS_URL", &keys.url);
        for (key, value) in forge_env(&jwks) {
            binary = binary.env(key, value);
        }
        let server = binary.serve();
        Self {
            _dir: dir,
            db,
            binary,
            server,
            sys,
            _keys: keys,
            _jwks: jwks,
        }
    }

    fn port(&self) -> u16 {
        self.server.port
    }

    /// A signed Connect `installed` / `uninstalled` with this body; the status.
    fn lifecycle(&self, site: &Site, event: &str, body: &Value) -> u16 {
        let address = self.server.address();
        self.sys.block_on(async {
            site.post_lifecycle_at(&reqwest::Client::new(), &address, event, body)
                .await
        })
    }

    /// A Forge call with a valid token for `site`.
    fn forge(&self, site: &ForgeSite, method: Method, path: &str, body: Option<Value>) -> Response {
        forge_call(self.port(), &site.token(), method, path, body)
    }

    /// Creates a task through Forge; its id.
    fn forge_create(&self, site: &ForgeSite, title: &str) -> i64 {
        let res = self.forge(
            site,
            Method::POST,
            "/forge/api/tasks",
            Some(json!({"title": title})),
        );
        assert_eq!(res.status, 201, "{}", res.text());
        res.json()["id"].as_i64().unwrap()
    }

    /// The task ids Forge lists for `site`, sorted.
    fn forge_ids(&self, site: &ForgeSite) -> Vec<i64> {
        let res = self.forge(site, Method::GET, "/forge/api/tasks?limit=100", None);
        assert_eq!(res.status, 200, "{}", res.text());
        sorted_ids(&res.json())
    }

    /// Creates a task through Connect; its id.
    fn connect_create(&self, site: &Site, title: &str) -> i64 {
        let body = json!({ "title": title }).to_string();
        let token = site.context_token("account-1");
        let res = request(self.port(), "POST", "/api/tasks", Some(&token), &body);
        assert_eq!(res.status, 201, "{}", res.text());
        res.json()["id"].as_i64().unwrap()
    }

    /// Forge's `installed` event for `site` (asserts 200).
    fn forge_installed(&self, site: &ForgeSite) {
        let res = self.forge(
            site,
            Method::POST,
            "/forge/events",
            Some(site.installed_event()),
        );
        assert_eq!(res.status, 200, "{}", res.text());
        // The event's use of the site is written after the answer (the bookkeeping writer):
        // a snapshot taken next must already hold it.
        self.wait_seen("forge_seen_at", "cloud_id", &site.cloud_id);
    }

    /// Waits until the site whose `key` column is `value` has its `seen` column written: the
    /// bookkeeping writer writes it after the request answered.
    fn wait_seen(&self, seen: &str, key: &str, value: &str) {
        let sql =
            format!("SELECT count(*) FROM jwt_tokens WHERE {key} = ?1 AND {seen} IS NOT NULL");
        wait_until(&format!("{seen} of {value}"), || {
            let written: i64 = self.db().query_row(&sql, [value], |r| r.get(0)).unwrap();
            written == 1
        });
    }

    /// Forge's `preUninstall` for `site`; the answer.
    fn pre_uninstall(&self, site: &ForgeSite) -> Response {
        let body = json!({
            "context": {"cloudId": site.cloud_id, "moduleKey": "todo-pre-uninstall"},
            "contextToken": "opaque",
        });
        self.forge(site, Method::POST, "/forge/pre-uninstall", Some(body))
    }

    /// Runs a command of the binary on the same database; its stdout (asserts success).
    fn run(&self, args: &[&str]) -> String {
        let out = self.binary.run(args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        stdout(&out)
    }

    fn db(&self) -> TestDb {
        TestDb::at(&self.db)
    }

    /// Every site row, rendered, in id order.
    fn dump_sites(&self) -> Vec<String> {
        self.db()
            .rows("SELECT * FROM jwt_tokens ORDER BY id", ())
            .unwrap()
            .iter()
            .map(|row| row.0.iter().map(Val::render).collect::<Vec<_>>().join("|"))
            .collect()
    }

    /// How many site rows there are.
    fn site_count(&self) -> i64 {
        self.db()
            .query_row("SELECT count(*) FROM jwt_tokens", (), |r| r.get(0))
            .unwrap()
    }
}

/// A request with `Authorization: Bearer <token>` on its own connection.
pub(crate) fn forge_call(
    port: u16,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Response {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut stream = connect(port);
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    read_response(&mut stream)
}

fn sorted_ids(list: &Value) -> Vec<i64> {
    let mut ids: Vec<i64> = list["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    ids.sort_unstable();
    ids
}

/// A Connect install payload that names the site's cloud id (how Forge later finds it).
fn connect_payload(connect: &Site, forge: &ForgeSite) -> Value {
    let mut payload = connect.payload();
    payload["cloudId"] = json!(forge.cloud_id);
    payload
}
