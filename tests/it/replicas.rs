//! Replicas (`TODO_CONNECT_TEST_BACKEND=postgres`): several real servers on one database
//! agreeing on lifecycle changes and Forge reinstalls, `kill -9` of one replica during writes,
//! migrations raced by processes starting together, TLS to the database, and `copy` between the
//! backends. On the SQLite run the same tests assert SQLite's side: a second server on the file
//! is refused, and migrations raced on one file are applied once; TLS and the cross-backend
//! copy, which need a PostgreSQL run, report a skip.

use reqwest::Method;
use serde_json::Value;

use crate::hardening::{Acknowledged, assert_every_acknowledged_task_is_stored, start_writers};
use crate::harness::api::latest_version;
use crate::harness::raw_http::{Response, request};
use crate::harness::*;

/// Two replicas of the real binary on one database, trusting one key server.
struct Replicas {
    _dir: tempfile::TempDir,
    db: std::path::PathBuf,
    a: Server,
    b: Server,
    keys: KeyServer,
    _jwks: JwksServer,
    sys: actix_web::rt::SystemRunner,
}

impl Replicas {
    /// Two replicas; on SQLite `None`, after asserting that the second server is refused.
    fn start() -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        if !on_postgres() {
            let binary = Binary::test(dir.path(), &dir.path().join("shared.sqlite3"));
            let _first = binary.serve();
            crate::foundation::assert_a_second_server_is_refused(&binary);
            return None;
        }
        let db = dir.path().join("shared.sqlite3");
        let sys = actix_web::rt::System::new();
        let keys = sys.block_on(async { KeyServer::start() });
        let jwks = JwksServer::start();
        let mut binary = Binary::test(dir.path(), &db).env("CONNECT_KEYS_URL", &keys.url);
        for (key, value) in forge_env(&jwks) {
            binary = binary.env(key, value);
        }
        let a = binary.serve();
        let b = binary.serve();
        Some(Self {
            _dir: dir,
            db,
            a,
            b,
            keys,
            _jwks: jwks,
            sys,
        })
    }

    fn lifecycle(&self, server: &Server, site: &Site, event: &str) -> u16 {
        let body = site.payload();
        let address = server.address();
        self.sys.block_on(async {
            site.post_lifecycle_at(&reqwest::Client::new(), &address, event, &body)
                .await
        })
    }
}

/// `enabled` / `disabled` as Confluence sends them: HS256 with the site's secret.
fn toggle(server: &Server, site: &Site, event: &str) -> u16 {
    let path = format!("/confluence/{event}");
    let token = site.token("POST", &path);
    request(
        server.port,
        "POST",
        &path,
        Some(&token),
        &site.payload().to_string(),
    )
    .status
}

fn macro_page(server: &Server, site: &Site, id: i64) -> Response {
    let path = format!("/confluence/get_task?id={id}");
    request(
        server.port,
        "GET",
        &path,
        Some(&site.token("GET", &path)),
        "",
    )
}

fn create(server: &Server, site: &Site, title: &str) -> i64 {
    let body = serde_json::json!({ "title": title }).to_string();
    let res = request(
        server.port,
        "POST",
        "/api/tasks",
        Some(&site.context_token("a")),
        &body,
    );
    assert_eq!(res.status, 201, "{}", res.text());
    res.json()["id"].as_i64().unwrap()
}

fn change(server: &Server, site: &Site, method: &str, id: i64, body: &str) -> u16 {
    let path = format!("/api/tasks/{id}");
    let token = site.context_token("a");
    request(server.port, method, &path, Some(&token), body).status
}

#[test]
fn a_task_written_through_one_replica_is_what_the_others_macro_shows() {
    let Some(r) = Replicas::start() else { return };
    let site = Site::new("hot-replicated");
    assert_eq!(r.lifecycle(&r.a, &site, "installed"), 204);
    let id = create(&r.a, &site, "first title");
    // B keeps the page once it trusts its cache (it hears A's writes).
    for _ in 0..2 {
        let page = macro_page(&r.b, &site, id);
        assert_eq!(page.status, 200, "{}", page.text());
        assert!(page.text().contains("first title"));
    }
    assert_eq!(
        change(&r.a, &site, "PATCH", id, r#"{"title":"second title"}"#),
        200
    );
    wait_until("B shows the new title", || {
        macro_page(&r.b, &site, id).text().contains("second title")
    });
    assert_eq!(change(&r.a, &site, "PATCH", id, r#"{"done":true}"#), 200);
    wait_until("B shows the task done", || {
        macro_page(&r.b, &site, id).text().contains("state done")
    });
    assert_eq!(change(&r.a, &site, "DELETE", id, ""), 204);
    wait_until("B shows the task gone", || {
        macro_page(&r.b, &site, id).status == 404
    });
    assert_eq!(macro_page(&r.a, &site, id).status, 404);
}

#[test]
fn lifecycle_changes_through_one_replica_take_effect_on_the_other() {
    let Some(r) = Replicas::start() else { return };
    let site = Site::new("replicated");
    assert_eq!(r.lifecycle(&r.a, &site, "installed"), 204);
    // Created through one, rendered through the other (which now caches the installation).
    let id = create(&r.a, &site, "seen everywhere");
    let page = macro_page(&r.b, &site, id);
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(page.text().contains("seen everywhere"));

    // Disabled through A: B refuses the site's tokens, then serves again once enabled.
    assert_eq!(toggle(&r.a, &site, "disabled"), 204);
    wait_until("B refuses a disabled site", || {
        macro_page(&r.b, &site, id).status == 401
    });
    assert_eq!(toggle(&r.a, &site, "enabled"), 204);
    wait_until("B serves the enabled site again", || {
        macro_page(&r.b, &site, id).status == 200
    });

    // A reinstall through B rotates the secret: A refuses the old one, accepts the new one.
    assert_eq!(macro_page(&r.a, &site, id).status, 200);
    let rotated = Site {
        secret: format!("{}-rotated", site.secret),
        ..site.clone()
    };
    assert_eq!(r.lifecycle(&r.b, &rotated, "installed"), 204);
    wait_until("A refuses the old secret", || {
        macro_page(&r.a, &site, id).status == 401
    });
    assert_eq!(macro_page(&r.a, &rotated, id).status, 200);

    // Uninstalled through A: B refuses the (current) token.
    assert_eq!(macro_page(&r.b, &rotated, id).status, 200);
    assert_eq!(r.lifecycle(&r.a, &rotated, "uninstalled"), 204);
    wait_until("B refuses an uninstalled site", || {
        macro_page(&r.b, &rotated, id).status == 401
    });
    assert!(!r.a.log().contains(&rotated.secret) && !r.b.log().contains(&rotated.secret));
}

/// A Forge call through `server` listing `site`'s tasks; the status.
fn forge_list(server: &Server, site: &ForgeSite) -> u16 {
    let token = site.token();
    crate::sites::forge_call(server.port, &token, Method::GET, "/forge/api/tasks", None).status
}

#[test]
fn a_forge_reinstall_through_one_replica_retires_the_old_id_on_the_other() {
    let Some(r) = Replicas::start() else { return };
    let old = ForgeSite::new();
    assert_eq!(forge_list(&r.a, &old), 200);
    // B learns the site under the old installation id and answers it from its cache.
    assert_eq!(forge_list(&r.b, &old), 200);
    assert_eq!(forge_list(&r.b, &old), 200);

    // The reinstall through A retires the old id and tells B, by the site's id, on commit:
    // B's cache entry goes and the old id is refused there too.
    let new = old.reinstalled();
    assert_eq!(forge_list(&r.a, &new), 200);
    wait_until("B refuses the retired installation id", || {
        forge_list(&r.b, &old) == 401
    });
    assert_eq!(forge_list(&r.b, &new), 200);
    let sites: i64 = TestDb::at(&r.db)
        .query_row("SELECT count(*) FROM jwt_tokens", [], |row| row.get(0))
        .unwrap();
    assert_eq!(sites, 1);
}

#[test]
fn a_replica_cut_off_from_the_database_listens_again_and_hears_changes() {
    let Some(mut r) = Replicas::start() else {
        return;
    };
    r.b.wait_for_log("listening for changes");
    let site = Site::new("reconnect");
    assert_eq!(r.lifecycle(&r.a, &site, "installed"), 204);
    let id = create(&r.a, &site, "still heard");
    // Every session of the database ends (a failover, a restart): pools and listeners reconnect.
    let url = postgres::database_for(&r.db);
    let name = url.rsplit('/').next().unwrap();
    postgres::admin(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
    ));
    wait_until("B listening again", || {
        r.b.log().matches("listening for changes").count() >= 2
    });
    wait_until("B serving the site", || {
        macro_page(&r.b, &site, id).status == 200
    });
    // The first request on a cut connection may be a 503 to retry; the change then goes through.
    wait_until("A disabling the site", || {
        toggle(&r.a, &site, "disabled") == 204
    });
    wait_until("B refusing the disabled site", || {
        macro_page(&r.b, &site, id).status == 401
    });
}

#[test]
fn killing_one_replica_during_writes_loses_no_acknowledged_task() {
    let Some(r) = Replicas::start() else { return };
    let site = Site::new("crash-replica");
    assert_eq!(r.lifecycle(&r.a, &site, "installed"), 204);
    let token = site.context_token("writer");
    let acknowledged = Acknowledged::default();
    let writers = start_writers(r.a.port, &token, &acknowledged);
    poll(PATIENCE, || {
        (acknowledged.lock().unwrap().len() >= 100).then_some(())
    });
    let mut a = r.a;
    a.signal("KILL");
    a.wait();
    for w in writers {
        w.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= 100,
        "only {} acknowledged",
        acknowledged.len()
    );
    assert_every_acknowledged_task_is_stored(&r.db, &acknowledged);
    // The survivor serves them, and keeps taking writes.
    let (id, title) = acknowledged.last().unwrap();
    let res = request(
        r.b.port,
        "GET",
        &format!("/api/tasks/{id}"),
        Some(&token),
        "",
    );
    assert_eq!(res.status, 200);
    assert_eq!(res.json()["title"], Value::from(title.as_str()));
    create(&r.b, &site, "after the crash");
    drop(r.keys);
}

#[test]
fn replicas_starting_together_apply_each_migration_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fresh.sqlite3");
    let binary = Binary::test(dir.path(), &db);
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let binary = binary.clone();
            std::thread::spawn(move || binary.run(&["migrate"]))
        })
        .collect();
    let applied: usize = runs
        .into_iter()
        .map(|t| {
            let out = t.join().unwrap();
            assert!(out.status.success(), "{}", stderr(&out));
            let expected = format!("schema version {}", latest_version());
            assert!(stdout(&out).contains(&expected), "{}", stdout(&out));
            stderr(&out).matches("applied migration").count()
        })
        .sum();
    assert_eq!(
        applied as i64,
        latest_version(),
        "each migration applied by exactly one process"
    );
    let recorded = if on_postgres() {
        "SELECT count(*) FROM schema_migrations"
    } else {
        "SELECT user_version FROM pragma_user_version"
    };
    let versions: i64 = TestDb::at(&db)
        .query_row(recorded, (), |r| r.get(0))
        .unwrap();
    assert_eq!(versions, latest_version());
}

#[test]
fn tls_to_the_database_follows_sslmode() {
    if skip::postgres_only_because("SQLite has no connection to encrypt") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("tls.sqlite3");
    let url = postgres::database_for(&db);
    let ca = postgres::cluster().ca.display().to_string();
    let binary = Binary::test(dir.path(), &db);
    let with = |query: &str| binary.clone().env("DATABASE_URL", format!("{url}?{query}"));
    // Verified against the test CA, by chain and host name.
    let out = with(&format!("sslmode=verify-full&sslrootcert={ca}")).run(&["migrate"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // A CA that did not sign the server's certificate is refused, in one line.
    let other_ca = dir.path().join("other-ca.pem");
    std::fs::write(
        &other_ca,
        include_str!("../fixtures/connect-qsh-vectors.json"),
    )
    .unwrap();
    let out = with(&format!(
        "sslmode=verify-full&sslrootcert={}",
        other_ca.display()
    ))
    .run(&["migrate"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("sslrootcert"), "{}", stderr(&out));
    // The server runs over verified TLS: its sessions show up as encrypted.
    let server = with(&format!("sslmode=verify-full&sslrootcert={ca}")).serve();
    assert_eq!(request(server.port, "GET", "/readyz", None, "").status, 200);
    let name = url.rsplit('/').next().unwrap();
    let encrypted: i64 = TestDb::Postgres(postgres::url("postgres"))
        .query_row(
            "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid)
             WHERE datname = ?1 AND application_name = 'todo-connect' AND ssl",
            [name],
            |r| r.get(0),
        )
        .unwrap();
    assert!(encrypted >= 1, "no encrypted session");
    assert!(
        !server.log().contains("sslrootcert="),
        "the URL's query is not logged"
    );
}

/// Rows of every table, rendered the same for both backends.
fn contents(db: &TestDb) -> String {
    db.dump()
}

#[test]
fn copy_moves_every_row_sqlite_to_postgres_and_back_identically() {
    if skip::postgres_only_because("it copies between the backends; it runs on the PostgreSQL run")
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sqlite = dir.path().join("source.sqlite3");
    let sys = actix_web::rt::System::new();
    let keys = sys.block_on(async { KeyServer::start() });
    // A SQLite deployment with two sites, users, tasks, an uninstall and a deleted task.
    let on_sqlite = Binary::test(dir.path(), &sqlite)
        .without("DATABASE_URL")
        .env("CONNECT_KEYS_URL", &keys.url);
    let server = on_sqlite.serve();
    let (one, two) = (Site::new("copy-one"), Site::new("copy-two"));
    for site in [&one, &two] {
        sys.block_on(site.install_at(&server.address()));
    }
    let mut last = 0;
    for i in 0..7 {
        last = create(
            &server,
            if i % 2 == 0 { &one } else { &two },
            &format!("task {i}"),
        );
    }
    let deleted = request(
        server.port,
        "DELETE",
        &format!("/api/tasks/{last}"),
        Some(&one.context_token("a")),
        "",
    );
    assert_eq!(deleted.status, 204);
    let address = server.address();
    assert_eq!(
        sys.block_on(async {
            two.post_lifecycle_at(
                &reqwest::Client::new(),
                &address,
                "uninstalled",
                &two.payload(),
            )
            .await
        }),
        204
    );
    assert_eq!(server.stop().code(), Some(0));
    let source = contents(&TestDb::Sqlite(
        rusqlite::Connection::open(&sqlite).unwrap(),
    ));

    // Refused while a server uses the file.
    let running = on_sqlite.serve();
    let pg_key = dir.path().join("target.sqlite3");
    let pg_url = postgres::database_for(&pg_key);
    let out = on_sqlite.run(&["copy", "--to", &pg_url]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("stop the server"), "{}", stderr(&out));
    assert_eq!(running.stop().code(), Some(0));

    // SQLite -> PostgreSQL.
    let out = on_sqlite.run(&["copy", "--to", &pg_url]);
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = stdout(&out);
    assert!(
        printed.contains("2 jwt_tokens") && printed.contains("6 tasks"),
        "{printed}"
    );
    assert!(
        printed.contains(&format!("next task id {}", last + 1)),
        "{printed}"
    );
    let on_pg = TestDb::Postgres(pg_url.clone());
    assert_eq!(contents(&on_pg), source, "identical rows in PostgreSQL");

    // PostgreSQL -> SQLite at once: the round trip gives the same rows back.
    let on_postgres = Binary::test(dir.path(), &pg_key).env("CONNECT_KEYS_URL", &keys.url);
    let back = dir.path().join("back").join("todo.sqlite3");
    let out = on_postgres.run(&["copy", "--to", back.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let returned = TestDb::Sqlite(rusqlite::Connection::open(&back).unwrap());
    assert_eq!(
        contents(&returned),
        source,
        "identical rows after the round trip"
    );
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&back).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "the copy holds every secret: private");

    // A second copy into the now non-empty target is refused, and changes nothing.
    let out = on_sqlite.run(&["copy", "--to", &pg_url]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not empty"), "{}", stderr(&out));
    assert_eq!(contents(&on_pg), source);

    // The copy serves: the installed site's tasks are there, a new task gets a fresh id.
    let mut server = on_postgres.serve();
    // While a replica serves, copying out of (or into) its database is refused.
    server.wait_for_log("listening for changes");
    let elsewhere = dir.path().join("while-serving.sqlite3");
    let out = on_postgres.run(&["copy", "--to", elsewhere.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("stop every server"),
        "{}",
        stderr(&out)
    );
    let fresh = create(&server, &one, "after the move");
    assert_eq!(
        fresh,
        last + 1,
        "the deleted task's id is not handed out again"
    );
    let listed = request(
        server.port,
        "GET",
        "/api/tasks",
        Some(&one.context_token("a")),
        "",
    );
    assert_eq!(listed.json()["tasks"].as_array().unwrap().len(), 4);
    request(
        server.port,
        "DELETE",
        &format!("/api/tasks/{fresh}"),
        Some(&one.context_token("a")),
        "",
    );
    assert_eq!(server.stop().code(), Some(0));

    // Back to SQLite after serving: the PostgreSQL rows, and the id high-water mark kept.
    let again = dir.path().join("again.sqlite3");
    let out = on_postgres.run(&["copy", "--to", again.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!("next task id {}", fresh + 1)),
        "{}",
        stdout(&out)
    );
    let again = TestDb::Sqlite(rusqlite::Connection::open(&again).unwrap());
    assert_eq!(contents(&again), contents(&on_pg));
    drop(keys);
}
