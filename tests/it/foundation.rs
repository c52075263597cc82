//! The foundation: configuration layering and validation, migrations, the request log,
//! readiness and graceful shutdown — through the public API and the real binary.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;

use crate::harness::api::{AppEnv, Settings};
use crate::harness::raw_http::{connect, exchange, read_response};
use crate::harness::*;

fn load(env: &[(&str, &str)], dir: &Path) -> Result<Settings, String> {
    let lookup = |k: &str| {
        env.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
    };
    Settings::load(&lookup, dir).map_err(|e| e.to_string())
}

fn empty_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn development_defaults_need_no_configuration() {
    let dir = empty_dir();
    let s = load(&[], dir.path()).unwrap();
    assert_eq!(s.app_env, AppEnv::Development);
    assert_eq!(s.site_url, "http://localhost:3000");
    assert_eq!((s.host.as_str(), s.port), ("127.0.0.1", 3000));
    assert_eq!(s.database_path, Path::new("db/development.sqlite3"));
    assert_eq!(s.addon_key, "connect-add-on-todo-development");
    assert_eq!(
        s.connect_keys_url,
        "https://connect-install-keys.atlassian.com"
    );
    assert!(s.allowed_hosts.is_empty());
    assert!(s.host_allowed("127.0.0.1"));
}

#[test]
fn files_override_embedded_defaults_and_environment_overrides_files() {
    let dir = empty_dir();
    std::fs::create_dir(dir.path().join("config")).unwrap();
    std::fs::write(
        dir.path().join("config/default.toml"),
        "port = 4000\nhost = \"0.0.0.0\"\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("config/test.toml"), "port = 5000\n").unwrap();
    std::fs::write(dir.path().join("config/production.toml"), "port = 7000\n").unwrap();

    let s = load(&[("APP_ENV", "development")], dir.path()).unwrap();
    assert_eq!(
        (s.host.as_str(), s.port),
        ("0.0.0.0", 4000),
        "default.toml applies"
    );
    let s = load(&[("APP_ENV", "test")], dir.path()).unwrap();
    assert_eq!(
        s.port, 5000,
        "the environment's file wins over default.toml"
    );
    assert_eq!(s.database_path, Path::new("db/test.sqlite3"));
    let s = load(&[("APP_ENV", "test"), ("PORT", "6000")], dir.path()).unwrap();
    assert_eq!(s.port, 6000, "environment variables win over files");
}

#[test]
fn production_requires_an_https_site_url_and_restricts_hosts() {
    let dir = empty_dir();
    let err = load(&[("APP_ENV", "production")], dir.path()).unwrap_err();
    assert!(
        err.contains("SITE_URL") && err.contains("required"),
        "{err}"
    );
    let err = load(
        &[
            ("APP_ENV", "production"),
            ("SITE_URL", "http://todo.example.com"),
        ],
        dir.path(),
    )
    .unwrap_err();
    assert!(
        err.contains("SITE_URL") && err.contains("https://"),
        "{err}"
    );
    let s = load(
        &[
            ("APP_ENV", "production"),
            ("SITE_URL", "https://todo.example.com/"),
        ],
        dir.path(),
    )
    .unwrap();
    assert_eq!(
        s.site_url, "https://todo.example.com",
        "trailing slash dropped"
    );
    assert!(s.host_allowed("acme.atlassian.net"));
    assert!(s.host_allowed("acme.jira.com"));
    assert!(!s.host_allowed("evil.example.com"));
    assert!(!s.host_allowed("atlassian.net"));
}

#[test]
fn every_invalid_value_names_its_variable() {
    let dir = empty_dir();
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("APP_ENV", "staging")], "APP_ENV"),
        (&[("PORT", "http")], "PORT"),
        (&[("PORT", "70000")], "PORT"),
        (&[("SITE_URL", "ftp://x")], "SITE_URL"),
        (&[("SITE_URL", "https://x.com/?a=b")], "SITE_URL"),
        (&[("ADDON_KEY", "has spaces")], "ADDON_KEY"),
        (&[("ADDON_KEY", &"k".repeat(65))], "ADDON_KEY"),
        (&[("ALLOWED_HOSTS", "*.ok.com,bad host")], "ALLOWED_HOSTS"),
        (&[("CONNECT_KEYS_URL", "not a url")], "CONNECT_KEYS_URL"),
        (&[("HOST", " ")], "HOST"),
        (&[("MAX_TASKS_PER_SITE", "0")], "MAX_TASKS_PER_SITE"),
        (&[("MAX_TASKS_PER_SITE", "many")], "MAX_TASKS_PER_SITE"),
        (&[("DATABASE_TIMEOUT", "0")], "DATABASE_TIMEOUT"),
        (&[("DATABASE_TIMEOUT", "301")], "DATABASE_TIMEOUT"),
        (&[("DATABASE_TIMEOUT", "5s")], "DATABASE_TIMEOUT"),
        (
            &[("MAX_CONNECTIONS_PER_IP", "-1")],
            "MAX_CONNECTIONS_PER_IP",
        ),
    ];
    for (env, variable) in cases {
        let err = load(env, dir.path()).unwrap_err();
        assert!(
            err.contains(variable),
            "{env:?} should name {variable}: {err}"
        );
        assert!(!err.contains('\n'), "one line: {err}");
    }
}

#[test]
fn a_config_file_with_an_unknown_key_is_refused() {
    let dir = empty_dir();
    std::fs::create_dir(dir.path().join("config")).unwrap();
    std::fs::write(dir.path().join("config/development.toml"), "prot = 1\n").unwrap();
    let err = load(&[], dir.path()).unwrap_err();
    assert!(
        err.contains("config/<APP_ENV>.toml") && err.contains("prot"),
        "{err}"
    );
}

// ---- the real binary -------------------------------------------------------------------

#[test]
fn migrate_is_idempotent_and_a_newer_schema_is_refused() {
    let dir = empty_dir();
    let db = dir.path().join("nested/folder/app.sqlite3");
    let binary = Binary::test(dir.path(), &db);
    for _ in 0..2 {
        let out = binary.run(&["migrate"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let version = format!("schema version {}", api::latest_version());
        assert!(stdout(&out).contains(&version), "{}", stdout(&out));
    }
    let conn = TestDb::at(&db);
    let catalog = if on_postgres() {
        "information_schema.tables WHERE table_schema = current_schema() AND table_name"
    } else {
        "sqlite_schema WHERE type = 'table' AND name"
    };
    let tables: i64 = conn
        .query_row(
            &format!("SELECT count(*) FROM {catalog} IN ('jwt_tokens','jwt_users','tasks')"),
            (),
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tables, 3);
    let newer = if on_postgres() {
        "INSERT INTO schema_migrations (version, name) VALUES (99, 'from the future')"
    } else {
        "PRAGMA user_version = 99"
    };
    conn.execute(newer, ()).unwrap();
    drop(conn);
    for command in ["migrate", "serve"] {
        let out = binary.run(&[command]);
        assert!(
            !out.status.success(),
            "{command} must refuse a newer database"
        );
        let stderr = stderr(&out);
        assert!(
            stderr.contains(&format!(
                "schema is version 99, newer than this binary knows ({})",
                api::latest_version()
            )),
            "{stderr}"
        );
    }
}

#[test]
fn the_descriptor_command_prints_json_or_one_line_why_not() {
    let dir = empty_dir();
    let db = dir.path().join("x.sqlite3");
    let out = Binary::test(dir.path(), &db).run(&["descriptor"]);
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["baseUrl"], SITE_URL);
    assert_eq!(json["key"], ADDON_KEY);
    assert!(!db.exists(), "printing the descriptor touches no database");

    let out = Binary::test(dir.path(), &db)
        .env("ADDON_KEY", "bad key!")
        .run(&["descriptor"]);
    assert!(!out.status.success());
    let stderr = stderr(&out);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("ADDON_KEY"), "{stderr}");
}

#[test]
fn no_query_string_token_or_secret_reaches_the_log_at_debug_level() {
    let dir = empty_dir();
    let db = dir.path().join("log.sqlite3");
    let server = Binary::test(dir.path(), &db)
        .env("RUST_LOG", "debug")
        .serve();
    let secret_token = "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJ4In0.SECRETSIGNATURE";
    let body = r#"{"key":"k","clientKey":"c","sharedSecret":"TOPSECRETVALUE","baseUrl":"https://a.atlassian.net","productType":"confluence"}"#;
    let requests = [
        format!(
            "GET /confluence/get_task?id=1&jwt={secret_token}&xdm_e=https%3A%2F%2Fevil.example HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        ),
        format!(
            "GET /api/tasks?q=private HTTP/1.1\r\nHost: x\r\nAuthorization: JWT {secret_token}\r\nConnection: close\r\n\r\n"
        ),
        format!(
            "POST /confluence/installed?lic=none HTTP/1.1\r\nHost: x\r\nAuthorization: JWT {secret_token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    ];
    for request in &requests {
        let response = exchange(server.port, request.as_bytes());
        assert!(response.starts_with("HTTP/1.1 401"), "{response}");
    }
    let access_lines = [
        "GET /confluence/get_task 401",
        "GET /api/tasks 401",
        "POST /confluence/installed 401",
    ];
    wait_until("the three access lines in the log", || {
        let log = server.log();
        access_lines.iter().all(|line| log.contains(line))
    });
    let log = server.log();
    assert!(
        log.contains("GET /confluence/get_task 401"),
        "access line without query: {log}"
    );
    assert!(log.contains("GET /api/tasks 401"), "{log}");
    assert!(log.contains("POST /confluence/installed 401"), "{log}");
    for forbidden in [
        "SECRETSIGNATURE",
        "eyJhbGciOiJIUzI1NiJ9",
        "TOPSECRETVALUE",
        "jwt=",
        "q=private",
        "evil.example",
        "lic=none",
    ] {
        assert!(!log.contains(forbidden), "log leaks {forbidden}: {log}");
    }
}

#[actix_web::test]
async fn readiness_turns_503_while_the_database_is_unavailable() {
    let app = spawn_app().await;
    let ready = || async {
        app.client
            .get(format!("{}/readyz", app.address))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(ready().await, 200);
    // SQLite: another process holds the write lock (a stuck maintenance job), so nothing can be
    // written. PostgreSQL: the database takes no connections and its sessions are ended.
    let blocker = Unavailable::start(&app);
    assert_eq!(ready().await, 503);
    assert_eq!(
        app.client
            .get(format!("{}/healthz", app.address))
            .send()
            .await
            .unwrap()
            .status(),
        200,
        "liveness is unaffected"
    );
    let head = |path: &'static str| {
        let url = format!("{}{path}", app.address);
        let client = app.client.clone();
        async move { client.head(url).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(head("/readyz").await, 503, "HEAD probes see the same");
    blocker.end();
    assert_eq!(ready().await, 200);
    assert_eq!((head("/healthz").await, head("/readyz").await), (200, 200));
}

/// The app's database made unavailable until [`Unavailable::end`].
enum Unavailable {
    Sqlite(rusqlite::Connection),
    Postgres(String),
}

impl Unavailable {
    fn start(app: &TestApp) -> Self {
        if on_postgres() {
            let url = postgres::database_for(&app.db_path);
            let name = url.rsplit('/').next().unwrap().to_string();
            postgres::admin(&format!(
                "ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false;
                 SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}';"
            ));
            Self::Postgres(name)
        } else {
            let blocker = rusqlite::Connection::open(&app.db_path).unwrap();
            blocker
                .execute_batch(
                    "BEGIN IMMEDIATE; INSERT INTO jwt_users SELECT * FROM jwt_users WHERE 0;",
                )
                .unwrap();
            Self::Sqlite(blocker)
        }
    }

    fn end(self) {
        match self {
            Self::Sqlite(blocker) => blocker.execute_batch("COMMIT").unwrap(),
            Self::Postgres(name) => postgres::admin(&format!(
                "ALTER DATABASE {name} WITH ALLOW_CONNECTIONS true"
            )),
        }
    }
}

#[test]
fn sigterm_finishes_the_in_flight_request_then_exits_zero() {
    let dir = empty_dir();
    let db = dir.path().join("graceful.sqlite3");
    let sys = actix_web::rt::System::new();
    let keys = sys.block_on(async { KeyServer::start() });
    let mut server = Binary::test(dir.path(), &db)
        .env("CONNECT_KEYS_URL", &keys.url)
        .serve();
    let site = Site::new("graceful");
    sys.block_on(site.install_at(&server.address()));

    // A create request whose body is still arriving when SIGTERM comes. `Expect:
    // 100-continue` makes the server say when it has taken the request in.
    let body = r#"{"title":"finished during shutdown"}"#;
    let (first, rest) = body.split_at(10);
    let mut stream = connect(server.port);
    write!(
        stream,
        "POST /api/tasks HTTP/1.1\r\nHost: x\r\nAuthorization: JWT {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
        site.context_token("account-1"),
        body.len()
    )
    .unwrap();
    assert_eq!(read_response(&mut stream).status, 100, "{}", server.log());
    stream.write_all(first.as_bytes()).unwrap();
    stream.flush().unwrap();
    server.sigterm();
    server.wait_for_log("graceful shutdown");
    wait_until("no new connections after SIGTERM", || {
        TcpStream::connect(("127.0.0.1", server.port)).is_err()
    });
    stream.write_all(rest.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");

    let exit = server.wait();
    assert_eq!(exit.code(), Some(0), "log: {}", server.log());
    let title: String = TestDb::at(&db)
        .query_row("SELECT title FROM tasks", (), |r| r.get(0))
        .unwrap();
    assert_eq!(title, "finished during shutdown");
    // Its bookkeeping, noted by the request and written by the background writer, is flushed
    // before the server exits.
    let users: i64 = TestDb::at(&db)
        .query_row(
            "SELECT count(*) FROM jwt_users WHERE account_id = 'account-1'",
            (),
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(users, 1, "the user row was written before the exit");
}

/// A second server on the database one already serves: on SQLite it is refused (two servers
/// would each trust their own installation cache); on PostgreSQL it is a replica, and serves
/// what was written through the first.
#[test]
fn a_second_server_on_the_same_database_is_refused_on_sqlite_and_a_replica_on_postgres() {
    let dir = empty_dir();
    let db = dir.path().join("one.sqlite3");
    let sys = actix_web::rt::System::new();
    let keys = sys.block_on(async { KeyServer::start() });
    let binary = Binary::test(dir.path(), &db).env("CONNECT_KEYS_URL", &keys.url);
    let first = binary.serve();
    if !on_postgres() {
        assert_a_second_server_is_refused(&binary);
        return;
    }
    let site = Site::new("second");
    sys.block_on(site.install_at(&first.address()));
    let token = site.context_token("account-1");
    let created = crate::harness::raw_http::request(
        first.port,
        "POST",
        "/api/tasks",
        Some(&token),
        r#"{"title":"written through the first"}"#,
    );
    assert_eq!(created.status, 201, "{}", created.text());
    let second = binary.serve();
    let listed =
        crate::harness::raw_http::request(second.port, "GET", "/api/tasks", Some(&token), "");
    assert_eq!(listed.status, 200, "{}", listed.text());
    assert_eq!(
        listed.json()["tasks"][0]["title"],
        "written through the first",
        "{}",
        listed.text()
    );
    drop(keys);
}

/// On SQLite, with a server of `binary` running: a second `serve` on its database exits
/// non-zero, saying it refuses. The SQLite arm of every "several servers" test.
pub fn assert_a_second_server_is_refused(binary: &Binary) {
    let out = binary.run(&["serve"]);
    assert!(
        !out.status.success(),
        "two servers would each trust their own installation cache"
    );
    let stderr = stderr(&out);
    assert!(stderr.contains("refusing to serve"), "{stderr}");
}
