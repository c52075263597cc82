//! Operations through the real binary: run the way the image runs it (alone in an empty folder,
//! unprivileged, data in a separate volume folder, stopped with SIGTERM), production start-up
//! errors, `backup` under concurrent writers, `restore` guarded against a running server,
//! `purge` of expired sites only, and `healthcheck`. On PostgreSQL the image runs with
//! `DATABASE_URL` on an empty database and writes nothing to its volume, and `backup`/`restore`
//! refuse, naming `pg_dump`/`pg_restore`, with nothing written.

use std::collections::HashSet;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rusqlite::Connection;

use crate::harness::raw_http::{connect, get, read_response, request};
use crate::harness::*;

// ---- HTTP --------------------------------------------------------------------------------------

fn create_task(port: u16, site: &Site, title: &str) -> i64 {
    let body = serde_json::json!({ "title": title }).to_string();
    let token = site.context_token("account-1");
    let res = request(port, "POST", "/api/tasks", Some(&token), &body);
    assert_eq!(res.status, 201, "{}", res.text());
    res.json()["id"].as_i64().unwrap()
}

fn served_titles(port: u16, site: &Site) -> Vec<String> {
    let token = site.context_token("account-1");
    let res = request(port, "GET", "/api/tasks?limit=100", Some(&token), "");
    assert_eq!(res.status, 200, "{}", res.text());
    let mut titles: Vec<String> = res.json()["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap().to_string())
        .collect();
    titles.sort();
    titles
}

// ---- data --------------------------------------------------------------------------------------

fn timestamp(days_ago: i64) -> String {
    let at = time::OffsetDateTime::now_utc() - time::Duration::days(days_ago);
    at.format(&time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    ))
    .unwrap()
}

fn open(path: &Path) -> TestDb {
    TestDb::at(path)
}

/// Stores an installation row for `site` the way a signed install would; returns its id.
/// `uninstalled_days_ago: Some(n)` makes it a site uninstalled n days ago.
fn insert_site(
    conn: &TestDb,
    addon_key: &str,
    site: &Site,
    installed: bool,
    uninstalled_days_ago: Option<i64>,
) -> i64 {
    let now = timestamp(0);
    let uninstalled_at = uninstalled_days_ago.map(timestamp);
    let secret = installed.then_some(site.secret.as_str());
    // The base URL answers nothing, so no test depends on a real Confluence.
    // Connect is its one way in, in the same state.
    conn.query_row(
        "INSERT INTO jwt_tokens (addon_key, client_key, shared_secret, base_url, product_type,
             installed, enabled, installed_at, updated_at, uninstalled_at, connect_state,
             connect_installed_at, connect_uninstalled_at)
         VALUES (?1, ?2, ?3, 'https://127.0.0.1:9/wiki', 'confluence', ?4, ?7, ?5, ?5, ?6,
                 ?8, ?5, ?9)
         RETURNING id",
        vals![
            addon_key,
            site.client_key,
            secret,
            installed,
            now,
            uninstalled_at,
            true,
            if installed {
                "installed"
            } else {
                "uninstalled"
            },
            if installed {
                None
            } else {
                uninstalled_at.clone()
            }
        ],
        |r| r.get(0),
    )
    .unwrap()
}

fn insert_task(conn: &TestDb, installation: i64, title: &str) -> i64 {
    let now = timestamp(0);
    conn.query_row(
        "INSERT INTO tasks (site_id, title, created_by, created_at, updated_at)
         VALUES (?1, ?2, 'account-1', ?3, ?3) RETURNING id",
        vals![installation, title, now],
        |r| r.get(0),
    )
    .unwrap()
}

fn insert_user(conn: &TestDb, installation: i64, account: &str) {
    let now = timestamp(0);
    conn.execute(
        "INSERT INTO jwt_users (site_id, account_id, first_seen_at, last_seen_at)
         VALUES (?1, ?2, ?3, ?3)",
        vals![installation, account, now],
    )
    .unwrap();
}

/// Every row of a table, rendered, keyed by the installation it belongs to.
fn rows(conn: &TestDb, table: &str, owner: &str) -> Vec<(i64, String)> {
    conn.rows(&format!("SELECT {owner}, * FROM {table} ORDER BY id"), ())
        .unwrap()
        .iter()
        .map(|row| {
            let rendered: Vec<String> = row.0[1..].iter().map(Val::render).collect();
            (row.get(0).unwrap(), rendered.join("|"))
        })
        .collect()
}

fn integrity(path: &Path) -> String {
    Connection::open(path)
        .unwrap()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

fn task_ids(path: &Path) -> HashSet<i64> {
    let conn = Connection::open(path).unwrap();
    let mut stmt = conn.prepare("SELECT id FROM tasks").unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

/// On PostgreSQL, `backup` and `restore` do not apply: each exits 1 with one line naming the
/// PostgreSQL tool to use instead (`pg_dump`, `pg_restore`), and touches nothing.
fn refused_on_postgres(binary: &Binary, command: &str, file: &Path) {
    let tool = if command == "backup" {
        "pg_dump"
    } else {
        "pg_restore"
    };
    let out = binary.run(&[command, file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(tool) && err.contains("PostgreSQL"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
}

/// A migrated database in a fresh folder, with one installed site.
fn fresh_database(dir: &Path, site: &Site) -> (PathBuf, i64) {
    let db = dir.join("volume").join("todo.sqlite3");
    let out = Binary::test(dir, &db).run(&["migrate"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let id = insert_site(&open(&db), ADDON_KEY, site, true, None);
    (db, id)
}

/// The binary the image ships: the release build `scripts/test.sh` makes and names in
/// `TODO_CONNECT_RELEASE_BIN`; under a bare `cargo test`, the test build (same code).
fn shipped_binary() -> PathBuf {
    std::env::var_os("TODO_CONNECT_RELEASE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(TEST_BUILD))
}

// ---- the image's way of running ----------------------------------------------------------------

/// The image's layout: the shipped binary alone in an unwritable folder, data in a volume
/// owned by `nobody`, the production environment, run as `nobody`.
struct ImageLike {
    _root: tempfile::TempDir,
    app: PathBuf,
    volume: PathBuf,
    db: PathBuf,
    binary: Binary,
}

impl ImageLike {
    fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        let open_to_all = std::fs::Permissions::from_mode(0o755);
        std::fs::set_permissions(root.path(), open_to_all.clone()).unwrap();
        let app = root.path().join("app");
        let volume = root.path().join("volume");
        std::fs::create_dir(&app).unwrap();
        std::fs::create_dir(&volume).unwrap();
        let program = app.join("todo-connect");
        let shipped = shipped_binary();
        std::fs::copy(&shipped, &program)
            .unwrap_or_else(|e| panic!("copy {}: {e}", shipped.display()));
        std::fs::set_permissions(&program, open_to_all.clone()).unwrap();
        std::fs::set_permissions(&app, open_to_all).unwrap();
        if running_as_root() {
            std::os::unix::fs::chown(&volume, Some(NOBODY), Some(NOBODY)).unwrap();
        }
        let db = volume.join("todo.sqlite3");
        let mut binary = Binary::new(program, &app);
        if on_postgres() {
            // An empty database of its own, as a fresh deployment's DATABASE_URL names.
            binary = binary.env("DATABASE_URL", postgres::database_for(&db));
        }
        let binary = binary
            .unprivileged()
            .env("APP_ENV", "production")
            .env("SITE_URL", "https://todo.example.com")
            .env("HOST", "127.0.0.1")
            .env("PORT", "0")
            .env("DATABASE_PATH", &db)
            .env("RUST_LOG", "info");
        Self {
            _root: root,
            app,
            volume,
            db,
            binary,
        }
    }

    /// Serves, and checks it runs as `nobody` and wrote nothing but its database.
    fn serve(&self) -> Server {
        let server = self.binary.serve();
        if running_as_root() {
            let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid())).unwrap();
            let uid = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
            assert!(
                uid.split_whitespace().skip(1).all(|u| u == "65534"),
                "{uid}"
            );
        }
        if on_postgres() {
            assert_eq!(
                std::fs::read_dir(&self.volume).unwrap().count(),
                0,
                "with DATABASE_URL nothing is written to the volume"
            );
        } else {
            assert!(self.db.is_file(), "the database is created in the volume");
        }
        assert_eq!(
            std::fs::read_dir(&self.app).unwrap().count(),
            1,
            "nothing written beside the binary"
        );
        server
    }
}

#[test]
fn the_binary_alone_in_an_empty_folder_runs_unprivileged_and_serves_its_public_routes() {
    let image = ImageLike::new();
    let server = image.serve();
    let port = server.port;
    let landing = get(port, "/");
    assert_eq!(landing.status, 200);
    let html = landing.text();
    // Today's install path is Forge's, step by step; Connect only for sites that have it.
    for step in [
        "forge register",
        "todo-connect manifest",
        "forge deploy",
        "forge install",
    ] {
        assert!(
            html.contains(step),
            "the landing page lacks {step:?}:\n{html}"
        );
    }
    assert!(!html.contains("Upload app"), "{html}");
    assert!(
        html.contains("todo.example.com") && html.contains("atlassian-connect.json"),
        "{html}"
    );
    let health = get(port, "/healthz");
    assert_eq!((health.status, health.body.as_slice()), (200, &b"ok"[..]));
    assert_eq!(get(port, "/readyz").status, 200);
    let descriptor = get(port, "/atlassian-connect.json");
    assert_eq!(descriptor.status, 200);
    assert_eq!(descriptor.json()["baseUrl"], "https://todo.example.com");
    let logo = get(port, "/images/confluence/logo_300x300.png");
    assert_eq!(logo.status, 200);
    assert!(
        logo.head
            .to_ascii_lowercase()
            .contains("content-type: image/png"),
        "{}",
        logo.head
    );
    assert_eq!(&logo.body[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&logo.body[16..24], &[0, 0, 1, 44, 0, 0, 1, 44], "300x300");
    assert_eq!(server.stop().code(), Some(0));
}

#[test]
fn the_binary_alone_in_an_empty_folder_finishes_a_request_on_sigterm_and_keeps_its_data() {
    let image = ImageLike::new();
    let mut server = image.serve();
    let port = server.port;
    // Data: an installation (a signed install needs an https key server in production) and
    // tasks created through the API.
    let site = Site::new("volume");
    let conn = open(&image.db);
    insert_site(&conn, "connect-add-on-todo-production", &site, true, None);
    drop(conn);
    create_task(port, &site, "first");
    create_task(port, &site, "second");

    // A create whose body is still arriving when SIGTERM comes. `Expect: 100-continue` makes
    // the server say when it has taken the request in.
    let mut stream = connect(port);
    let body = r#"{"title":"finished during shutdown"}"#;
    write!(
        stream,
        "POST /api/tasks HTTP/1.1\r\nHost: localhost\r\nAuthorization: JWT {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\
         Connection: close\r\n\r\n",
        site.context_token("account-1"),
        body.len()
    )
    .unwrap();
    assert_eq!(read_response(&mut stream).status, 100, "{}", server.log());
    server.sigterm();
    server.wait_for_log("graceful shutdown");
    stream
        .write_all(body.as_bytes())
        .unwrap_or_else(|e| panic!("{e}: {}", server.log()));
    let response = read_response(&mut stream);
    assert_eq!(response.status, 201, "{}", response.text());
    let exit = server.wait();
    assert_eq!(exit.code(), Some(0), "{}", server.log());

    let server = image.serve();
    assert_eq!(
        served_titles(server.port, &site),
        ["finished during shutdown", "first", "second"]
    );
    assert_eq!(server.stop().code(), Some(0));
    if running_as_root() {
        for entry in std::fs::read_dir(&image.volume).unwrap() {
            let entry = entry.unwrap();
            assert_eq!(
                entry.metadata().unwrap().uid(),
                NOBODY,
                "{:?}",
                entry.path()
            );
        }
    }
}

// ---- start-up, backup, restore, purge, healthcheck ----------------------------------------------

#[test]
fn production_without_an_https_site_url_exits_with_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("volume").join("todo.sqlite3");
    for site_url in [Some("http://todo.example.com"), None] {
        let mut binary = Binary::test(dir.path(), &db)
            .env("APP_ENV", "production")
            .without("SITE_URL");
        if let Some(url) = site_url {
            binary = binary.env("SITE_URL", url);
        }
        let out = binary.run(&["serve"]);
        assert!(!out.status.success(), "{site_url:?} must be refused");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("SITE_URL"), "{err}");
        assert!(
            !db.exists(),
            "nothing is created before the configuration is valid"
        );
    }
}

/// Writers that keep creating tasks until told to stop: two straight into the database file,
/// one through the API. Every acknowledged id is recorded.
struct Writers {
    acked: Arc<Mutex<Vec<i64>>>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Writers {
    fn start(db: &Path, installation: i64, port: u16, site: &Site) -> Self {
        let acked: Arc<Mutex<Vec<i64>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for w in 0..2 {
            let (acked, stop, db) = (acked.clone(), stop.clone(), db.to_path_buf());
            threads.push(std::thread::spawn(move || {
                let conn = open(&db);
                for i in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let id = insert_task(&conn, installation, &format!("direct {w}-{i}"));
                    acked.lock().unwrap().push(id);
                }
            }));
        }
        let (api_acked, api_stop, site) = (acked.clone(), stop.clone(), site.clone());
        threads.push(std::thread::spawn(move || {
            for i in 0.. {
                if api_stop.load(Ordering::Relaxed) {
                    break;
                }
                let id = create_task(port, &site, &format!("api {i}"));
                api_acked.lock().unwrap().push(id);
            }
        }));
        Self {
            acked,
            stop,
            threads,
        }
    }

    fn acked(&self) -> Vec<i64> {
        self.acked.lock().unwrap().clone()
    }

    /// Stops the writers; every id they got acknowledged.
    fn finish(self) -> HashSet<i64> {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            t.join().unwrap();
        }
        self.acked.lock().unwrap().iter().copied().collect()
    }
}

#[test]
fn a_backup_under_concurrent_writers_restores_every_task_acknowledged_before_it_began() {
    let dir = tempfile::tempdir().unwrap();
    let site = Site::new("backup");
    let (db, installation) = fresh_database(dir.path(), &site);
    let binary = Binary::test(dir.path(), &db);
    if on_postgres() {
        let backup = dir.path().join("backups").join("todo-backup.sqlite3");
        refused_on_postgres(&binary, "backup", &backup);
        assert!(!backup.parent().unwrap().exists(), "nothing written");
        return;
    }
    let server = binary.serve();
    let writers = Writers::start(&db, installation, server.port, &site);
    wait_until("200 acknowledged writes (writers make no progress)", || {
        writers.acked().len() >= 200
    });

    let before = writers.acked();
    let backup = dir.path().join("backups").join("todo-backup.sqlite3");
    let out = binary.run(&["backup", backup.to_str().unwrap()]);
    let all = writers.finish();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("backed up"), "{}", stdout(&out));
    assert_eq!(
        get(server.port, "/readyz").status,
        200,
        "the server kept serving"
    );
    assert_eq!(server.stop().code(), Some(0));

    let leftovers: Vec<_> = std::fs::read_dir(backup.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers,
        ["todo-backup.sqlite3"],
        "one self-contained file, no temp files"
    );

    let restored_db = dir.path().join("restored").join("todo.sqlite3");
    let out = Binary::test(dir.path(), &restored_db).run(&["restore", backup.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(integrity(&restored_db), "ok");
    let restored = task_ids(&restored_db);
    let missing: Vec<_> = before.iter().filter(|id| !restored.contains(id)).collect();
    assert!(
        missing.is_empty(),
        "acknowledged before the backup but missing: {missing:?}"
    );
    assert!(
        restored.is_subset(&all),
        "the backup holds only acknowledged tasks"
    );
}

#[test]
fn restore_is_refused_while_a_server_runs_and_swaps_the_backup_in_once_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let site = Site::new("restore");
    let (db, _) = fresh_database(dir.path(), &site);
    let binary = Binary::test(dir.path(), &db);
    let server = binary.serve();
    create_task(server.port, &site, "before the backup");
    if on_postgres() {
        // Whether or not a server runs: `pg_restore` is the tool, and nothing changes.
        let backup = dir.path().join("todo.dump");
        std::fs::write(&backup, b"a pg_dump archive").unwrap();
        refused_on_postgres(&binary, "restore", &backup);
        assert_eq!(served_titles(server.port, &site), ["before the backup"]);
        assert_eq!(server.stop().code(), Some(0));
        refused_on_postgres(&binary, "restore", &backup);
        let server = binary.serve();
        assert_eq!(served_titles(server.port, &site), ["before the backup"]);
        return;
    }
    let backup = dir.path().join("backup.sqlite3");
    let out = binary.run(&["backup", backup.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    create_task(server.port, &site, "after the backup");

    let out = binary.run(&["restore", backup.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("refusing to restore") && err.contains("stop the server"),
        "{err}"
    );
    assert_eq!(
        served_titles(server.port, &site),
        ["after the backup", "before the backup"],
        "the live database is untouched"
    );

    // Broken or too new backups are refused before anything is touched.
    let garbage = dir.path().join("garbage.sqlite3");
    std::fs::write(&garbage, b"this is not a database").unwrap();
    let too_new = dir.path().join("too-new.sqlite3");
    std::fs::copy(&backup, &too_new).unwrap();
    Connection::open(&too_new)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    assert_eq!(server.stop().code(), Some(0));
    for (file, reason) in [
        (&garbage, "not a database"),
        (&too_new, "newer than this binary"),
    ] {
        let out = binary.run(&["restore", file.to_str().unwrap()]);
        assert!(!out.status.success());
        assert!(stderr(&out).contains(reason), "{}", stderr(&out));
    }

    let out = binary.run(&["restore", backup.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("restored"), "{}", stdout(&out));
    let server = binary.serve();
    assert_eq!(served_titles(server.port, &site), ["before the backup"]);
    assert_eq!(server.stop().code(), Some(0));
}

#[test]
fn a_server_does_not_start_while_a_restore_holds_the_database() {
    // On PostgreSQL `restore` refuses (pg_restore restores), so no restore holds anything.
    if skip::sqlite_only_because("the restore's lock file beside the database file") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = fresh_database(dir.path(), &Site::new("locked"));
    let lock = std::fs::File::create(dir.path().join("volume").join("todo.sqlite3.lock")).unwrap();
    lock.try_lock().unwrap();
    let out = Binary::test(dir.path(), &db).run(&["serve"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("is being restored"),
        "{}",
        stderr(&out)
    );
}

/// Sites in every state of a purge, with tasks and users: installed, uninstalled 40 and 31
/// days ago (expired), 5 days ago (recent), and reinstalled after an uninstall 60 days ago.
struct PurgeFixture {
    _dir: tempfile::TempDir,
    db: PathBuf,
    binary: Binary,
    installed: Site,
    installed_id: i64,
    expired: [i64; 2],
}

impl PurgeFixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let installed = Site::new("installed");
        let (db, installed_id) = fresh_database(dir.path(), &installed);
        let conn = open(&db);
        let old = insert_site(&conn, ADDON_KEY, &Site::new("old"), false, Some(40));
        let old_empty = insert_site(&conn, ADDON_KEY, &Site::new("old-empty"), false, Some(31));
        let recent = insert_site(&conn, ADDON_KEY, &Site::new("recent"), false, Some(5));
        let reinstalled = insert_site(&conn, ADDON_KEY, &Site::new("reinstalled"), true, Some(60));
        for (id, tasks, users) in [
            (installed_id, 2, 1),
            (old, 3, 2),
            (recent, 2, 1),
            (reinstalled, 1, 1),
        ] {
            for t in 0..tasks {
                insert_task(&conn, id, &format!("task {t} of {id}"));
            }
            for u in 0..users {
                insert_user(&conn, id, &format!("account-{u}"));
            }
        }
        let binary = Binary::test(dir.path(), &db);
        Self {
            _dir: dir,
            db,
            binary,
            installed,
            installed_id,
            expired: [old, old_empty],
        }
    }

    fn snapshot(&self) -> [Vec<(i64, String)>; 3] {
        let conn = open(&self.db);
        [
            rows(&conn, "jwt_tokens", "id"),
            rows(&conn, "jwt_users", "site_id"),
            rows(&conn, "tasks", "site_id"),
        ]
    }
}

#[test]
fn a_dry_run_purge_counts_the_expired_sites_and_deletes_nothing() {
    let fixture = PurgeFixture::new();
    let before = fixture.snapshot();
    // From cron, next to a running server.
    let server = fixture.binary.serve();
    let out = fixture
        .binary
        .run(&["purge", "--uninstalled-for", "30", "--dry-run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("would purge 2 sites"),
        "{}",
        stdout(&out)
    );
    assert_eq!(fixture.snapshot(), before, "a dry run deletes nothing");
    assert_eq!(server.stop().code(), Some(0));
}

#[test]
fn purge_deletes_exactly_the_sites_uninstalled_longer_ago_than_asked() {
    let fixture = PurgeFixture::new();
    let before = fixture.snapshot();
    // From cron, next to a running server.
    let server = fixture.binary.serve();
    let out = fixture.binary.run(&["purge", "--uninstalled-for", "30"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = stdout(&out);
    assert!(printed.contains("purged client-old ("), "{printed}");
    assert!(printed.contains("): 3 tasks, 2 users"), "{printed}");
    assert!(printed.contains("purged client-old-empty ("), "{printed}");
    assert!(printed.contains("): 0 tasks, 0 users"), "{printed}");
    assert!(
        printed.contains("purged 2 sites whose every way in went before"),
        "{printed}"
    );
    assert!(
        !printed.contains("recent") && !printed.contains("reinstalled"),
        "{printed}"
    );

    let after = fixture.snapshot();
    for (table, (before, after)) in ["jwt_tokens", "jwt_users", "tasks"]
        .iter()
        .zip(before.iter().zip(after.iter()))
    {
        let expected: Vec<_> = before
            .iter()
            .filter(|(owner, _)| !fixture.expired.contains(owner))
            .cloned()
            .collect();
        assert_eq!(
            after, &expected,
            "{table}: exactly the expired sites' rows are gone"
        );
    }
    let id = fixture.installed_id;
    assert_eq!(
        served_titles(server.port, &fixture.installed),
        [format!("task 0 of {id}"), format!("task 1 of {id}")]
    );

    let out = fixture.binary.run(&["purge", "--uninstalled-for", "30"]);
    assert!(stdout(&out).contains("purged 0 sites"), "{}", stdout(&out));
    assert_eq!(server.stop().code(), Some(0));
}

#[test]
fn healthcheck_exits_zero_against_a_running_server_and_one_against_none() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("volume").join("todo.sqlite3");
    let binary = Binary::test(dir.path(), &db);
    let server = binary.serve();
    let probe = binary.clone().env("PORT", server.port.to_string());
    assert_eq!(probe.run(&["healthcheck"]).status.code(), Some(0));
    let wildcard = probe.clone().env("HOST", "0.0.0.0");
    assert_eq!(
        wildcard.run(&["healthcheck"]).status.code(),
        Some(0),
        "0.0.0.0 is asked on loopback"
    );
    let misconfigured = probe
        .clone()
        .env("APP_ENV", "production")
        .env("SITE_URL", "http://x");
    assert_eq!(misconfigured.run(&["healthcheck"]).status.code(), Some(1));

    assert_eq!(server.stop().code(), Some(0));
    let out = probe.run(&["healthcheck"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
}
