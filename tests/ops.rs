//! Operations through the real binary: run the way the image runs it (alone in an empty folder,
//! unprivileged, data in a separate volume folder, stopped with SIGTERM), production start-up
//! errors, `backup` under concurrent writers, `restore` guarded against a running server,
//! `purge` of expired sites only, and `healthcheck`.

mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{ADDON_KEY, SITE_URL, Site};
use rusqlite::{Connection, params};
use serde_json::Value;

/// The unprivileged user and group the release-like run uses (`nobody`).
const NOBODY: u32 = 65534;
/// How long to wait for a process to reach a state before failing (a hang guard, not a
/// timing assertion).
const PATIENCE: Duration = Duration::from_secs(30);

// ---- processes -----------------------------------------------------------------------------

/// How to run the binary: which file, as whom, where, with which environment.
#[derive(Clone)]
struct Runner {
    binary: PathBuf,
    cwd: PathBuf,
    env: Vec<(String, String)>,
    unprivileged: bool,
}

impl Runner {
    /// The test build of the binary, in `cwd`, with the test environment and `database`.
    fn test(cwd: &Path, database: &Path) -> Self {
        let env = [
            ("APP_ENV", "test"),
            ("SITE_URL", SITE_URL),
            ("ADDON_KEY", ADDON_KEY),
            ("HOST", "127.0.0.1"),
            ("PORT", "0"),
            ("RUST_LOG", "info"),
        ];
        let mut env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        env.push(("DATABASE_PATH".into(), database.display().to_string()));
        Self {
            binary: env!("CARGO_BIN_EXE_todo-connect").into(),
            cwd: cwd.to_path_buf(),
            env,
            unprivileged: false,
        }
    }

    fn with(mut self, key: &str, value: &str) -> Self {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.into(), value.into()));
        self
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = if self.unprivileged && running_as_root() {
            let mut cmd = Command::new("setpriv");
            cmd.arg(format!("--reuid={NOBODY}"))
                .arg(format!("--regid={NOBODY}"))
                .arg("--clear-groups")
                .arg(&self.binary);
            cmd
        } else {
            Command::new(&self.binary)
        };
        cmd.args(args)
            .current_dir(&self.cwd)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        cmd
    }

    /// Runs a command to completion.
    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("the binary runs")
    }

    /// Starts `serve` and waits until it listens.
    fn serve(&self) -> Server {
        let mut child = self
            .command(&["serve"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the server starts");
        let stderr = child.stderr.take().expect("piped stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let mut server = Server {
            child,
            log,
            port: 0,
        };
        let line = server.wait_for_log("listening on http://");
        let after = line.split("listening on http://").nth(1).unwrap();
        let address = after.split_whitespace().next().unwrap();
        server.port = address.rsplit(':').next().unwrap().parse().unwrap();
        server
    }
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").map(|m| m.uid()).ok() == Some(0)
}

/// A running `todo-connect serve` whose log (stderr) is collected; killed if the test fails.
struct Server {
    child: Child,
    log: Arc<Mutex<String>>,
    port: u16,
}

impl Server {
    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits until a log line contains `needle` and returns it.
    fn wait_for_log(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(line) = self.log().lines().find(|l| l.contains(needle)) {
                return line.to_string();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "server exited ({status}) before logging {needle:?}:\n{}",
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "no {needle:?} in:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn sigterm(&self) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    }

    /// SIGTERM, then the exit status.
    fn stop(mut self) -> ExitStatus {
        self.sigterm();
        self.child.wait().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

// ---- HTTP, by hand ----------------------------------------------------------------------------

struct Response {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Response {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }
}

fn connect(port: u16) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream
}

/// Reads one response (the server always sends `Content-Length` here).
fn read_response(stream: &mut TcpStream) -> Response {
    let mut raw = Vec::new();
    let mut byte = [0u8; 1];
    while !raw.ends_with(b"\r\n\r\n") {
        assert_eq!(
            stream.read(&mut byte).unwrap(),
            1,
            "connection closed mid-head"
        );
        raw.push(byte[0]);
    }
    let head = String::from_utf8(raw).unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().unwrap())
        })
        .unwrap_or(0);
    let mut body = vec![0; length];
    stream.read_exact(&mut body).unwrap();
    Response { status, head, body }
}

fn request(port: u16, method: &str, path: &str, auth: Option<&str>, body: &str) -> Response {
    let mut stream = connect(port);
    let auth = auth.map_or(String::new(), |t| format!("Authorization: JWT {t}\r\n"));
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Content-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    read_response(&mut stream)
}

fn get(port: u16, path: &str) -> Response {
    request(port, "GET", path, None, "")
}

fn create_task(port: u16, site: &Site, title: &str) -> i64 {
    let body = serde_json::json!({ "title": title }).to_string();
    let token = site.context_token("account-1");
    let res = request(port, "POST", "/api/tasks", Some(&token), &body);
    assert_eq!(res.status, 201, "{}", String::from_utf8_lossy(&res.body));
    res.json()["id"].as_i64().unwrap()
}

fn served_titles(port: u16, site: &Site) -> Vec<String> {
    let token = site.context_token("account-1");
    let res = request(port, "GET", "/api/tasks?limit=100", Some(&token), "");
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
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

fn open(path: &Path) -> Connection {
    let mut conn = Connection::open(path).unwrap();
    todo_connect::db::configure_connection(&mut conn).unwrap();
    conn
}

/// Stores an installation row for `site` the way a signed install would; returns its id.
/// `uninstalled_days_ago: Some(n)` makes it a site uninstalled n days ago.
fn insert_site(
    conn: &Connection,
    addon_key: &str,
    site: &Site,
    installed: bool,
    uninstalled_days_ago: Option<i64>,
) -> i64 {
    let now = timestamp(0);
    let uninstalled_at = uninstalled_days_ago.map(timestamp);
    let secret = installed.then_some(site.secret.as_str());
    // The base URL answers nothing, so no test depends on a real Confluence.
    conn.execute(
        "INSERT INTO jwt_tokens (addon_key, client_key, shared_secret, base_url, product_type,
             installed, enabled, installed_at, updated_at, uninstalled_at)
         VALUES (?1, ?2, ?3, 'https://127.0.0.1:9/wiki', 'confluence', ?4, 1, ?5, ?5, ?6)",
        params![
            addon_key,
            site.client_key,
            secret,
            installed,
            now,
            uninstalled_at
        ],
    )
    .unwrap();
    conn.last_insert_rowid()
}

fn insert_task(conn: &Connection, installation: i64, title: &str) -> i64 {
    let now = timestamp(0);
    conn.execute(
        "INSERT INTO tasks (site_id, title, created_by, created_at, updated_at)
         VALUES (?1, ?2, 'account-1', ?3, ?3)",
        params![installation, title, now],
    )
    .unwrap();
    conn.last_insert_rowid()
}

fn insert_user(conn: &Connection, installation: i64, account: &str) {
    let now = timestamp(0);
    conn.execute(
        "INSERT INTO jwt_users (site_id, account_id, first_seen_at, last_seen_at)
         VALUES (?1, ?2, ?3, ?3)",
        params![installation, account, now],
    )
    .unwrap();
}

/// Every row of a table, rendered, keyed by the installation it belongs to.
fn rows(conn: &Connection, table: &str, owner: &str) -> Vec<(i64, String)> {
    let mut stmt = conn
        .prepare(&format!("SELECT {owner}, * FROM {table} ORDER BY id"))
        .unwrap();
    let cols = stmt.column_count();
    stmt.query_map([], |row| {
        let rendered: Vec<String> = (1..cols)
            .map(|i| format!("{:?}", row.get_ref(i).unwrap()))
            .collect();
        Ok((row.get(0)?, rendered.join("|")))
    })
    .unwrap()
    .collect::<rusqlite::Result<_>>()
    .unwrap()
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

/// A migrated database in a fresh folder, with one installed site.
fn fresh_database(dir: &Path, site: &Site) -> (PathBuf, i64) {
    let db = dir.join("volume").join("todo.sqlite3");
    let out = Runner::test(dir, &db).run(&["migrate"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let id = insert_site(&open(&db), ADDON_KEY, site, true, None);
    (db, id)
}

/// The binary the image ships: the release build `scripts/test.sh` makes and names in
/// `TODO_CONNECT_RELEASE_BIN`; under a bare `cargo test`, the test build (same code).
fn shipped_binary() -> PathBuf {
    std::env::var_os("TODO_CONNECT_RELEASE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_todo-connect")))
}

// ---- the tests ---------------------------------------------------------------------------------

#[test]
fn the_binary_alone_in_an_empty_folder_runs_unprivileged_keeps_its_data_and_stops_on_sigterm() {
    let root = tempfile::tempdir().unwrap();
    let open_to_all = std::fs::Permissions::from_mode(0o755);
    std::fs::set_permissions(root.path(), open_to_all.clone()).unwrap();
    // The image's layout: the binary alone in an unwritable folder, data in a volume.
    let app = root.path().join("app");
    let volume = root.path().join("volume");
    std::fs::create_dir(&app).unwrap();
    std::fs::create_dir(&volume).unwrap();
    let binary = app.join("todo-connect");
    let shipped = shipped_binary();
    std::fs::copy(&shipped, &binary).unwrap_or_else(|e| panic!("copy {}: {e}", shipped.display()));
    std::fs::set_permissions(&binary, open_to_all.clone()).unwrap();
    std::fs::set_permissions(&app, open_to_all).unwrap();
    if running_as_root() {
        std::os::unix::fs::chown(&volume, Some(NOBODY), Some(NOBODY)).unwrap();
    }
    let db = volume.join("todo.sqlite3");
    let runner = Runner {
        binary,
        cwd: app.clone(),
        env: Vec::new(),
        unprivileged: true,
    }
    .with("APP_ENV", "production")
    .with("SITE_URL", "https://todo.example.com")
    .with("HOST", "127.0.0.1")
    .with("PORT", "0")
    .with("DATABASE_PATH", &db.display().to_string())
    .with("RUST_LOG", "info");

    let mut server = runner.serve();
    let port = server.port;
    if running_as_root() {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", server.child.id())).unwrap();
        let uid = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
        assert!(
            uid.split_whitespace().skip(1).all(|u| u == "65534"),
            "{uid}"
        );
    }
    assert!(db.is_file(), "the database is created in the volume");
    assert_eq!(
        std::fs::read_dir(&app).unwrap().count(),
        1,
        "nothing written beside the binary"
    );

    let landing = get(port, "/");
    assert_eq!(landing.status, 200);
    let html = String::from_utf8_lossy(&landing.body);
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

    // Data: an installation (a signed install needs an https key server in production) and
    // tasks created through the API.
    let site = Site::new("volume");
    let conn = open(&db);
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
    assert_eq!(
        response.status,
        201,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    let exit = server.child.wait().unwrap();
    assert_eq!(exit.code(), Some(0), "{}", server.log());

    let server = runner.serve();
    assert_eq!(
        served_titles(server.port, &site),
        ["finished during shutdown", "first", "second"]
    );
    assert_eq!(server.stop().code(), Some(0));
    if running_as_root() {
        for entry in std::fs::read_dir(&volume).unwrap() {
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

#[test]
fn production_without_an_https_site_url_exits_with_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("volume").join("todo.sqlite3");
    for site_url in [Some("http://todo.example.com"), None] {
        let mut runner = Runner::test(dir.path(), &db).with("APP_ENV", "production");
        runner.env.retain(|(k, _)| k != "SITE_URL");
        if let Some(url) = site_url {
            runner = runner.with("SITE_URL", url);
        }
        let out = runner.run(&["serve"]);
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

#[test]
fn a_backup_under_concurrent_writers_restores_every_task_acknowledged_before_it_began() {
    let dir = tempfile::tempdir().unwrap();
    let site = Site::new("backup");
    let (db, installation) = fresh_database(dir.path(), &site);
    let runner = Runner::test(dir.path(), &db);
    let server = runner.serve();

    let acked: Arc<Mutex<Vec<i64>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..2 {
        let (acked, stop, db) = (acked.clone(), stop.clone(), db.clone());
        writers.push(std::thread::spawn(move || {
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
    {
        let (acked, stop, site, port) = (acked.clone(), stop.clone(), site.clone(), server.port);
        writers.push(std::thread::spawn(move || {
            for i in 0.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let id = create_task(port, &site, &format!("api {i}"));
                acked.lock().unwrap().push(id);
            }
        }));
    }
    let deadline = Instant::now() + PATIENCE;
    while acked.lock().unwrap().len() < 200 {
        assert!(Instant::now() < deadline, "writers make no progress");
        std::thread::sleep(Duration::from_millis(10));
    }

    let before: Vec<i64> = acked.lock().unwrap().clone();
    let backup = dir.path().join("backups").join("todo-backup.sqlite3");
    let out = runner.run(&["backup", backup.to_str().unwrap()]);
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
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
    let out = Runner::test(dir.path(), &restored_db).run(&["restore", backup.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(integrity(&restored_db), "ok");
    let restored = task_ids(&restored_db);
    let missing: Vec<_> = before.iter().filter(|id| !restored.contains(id)).collect();
    assert!(
        missing.is_empty(),
        "acknowledged before the backup but missing: {missing:?}"
    );
    let all: HashSet<i64> = acked.lock().unwrap().iter().copied().collect();
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
    let runner = Runner::test(dir.path(), &db);
    let server = runner.serve();
    create_task(server.port, &site, "before the backup");
    let backup = dir.path().join("backup.sqlite3");
    let out = runner.run(&["backup", backup.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    create_task(server.port, &site, "after the backup");

    let out = runner.run(&["restore", backup.to_str().unwrap()]);
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
        let out = runner.run(&["restore", file.to_str().unwrap()]);
        assert!(!out.status.success());
        assert!(stderr(&out).contains(reason), "{}", stderr(&out));
    }

    let out = runner.run(&["restore", backup.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("restored"), "{}", stdout(&out));
    let server = runner.serve();
    assert_eq!(served_titles(server.port, &site), ["before the backup"]);
    assert_eq!(server.stop().code(), Some(0));
}

#[test]
fn a_server_does_not_start_while_a_restore_holds_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = fresh_database(dir.path(), &Site::new("locked"));
    let lock = std::fs::File::create(dir.path().join("volume").join("todo.sqlite3.lock")).unwrap();
    lock.try_lock().unwrap();
    let out = Runner::test(dir.path(), &db).run(&["serve"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("is being restored"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn purge_deletes_exactly_the_sites_uninstalled_longer_ago_than_asked() {
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
    let snapshot = |conn: &Connection| {
        [
            rows(conn, "jwt_tokens", "id"),
            rows(conn, "jwt_users", "site_id"),
            rows(conn, "tasks", "site_id"),
        ]
    };
    let before = snapshot(&conn);

    // From cron, next to a running server.
    let runner = Runner::test(dir.path(), &db);
    let server = runner.serve();
    let out = runner.run(&["purge", "--uninstalled-for", "30", "--dry-run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("would purge 2 sites"),
        "{}",
        stdout(&out)
    );
    assert_eq!(snapshot(&conn), before, "a dry run deletes nothing");

    let out = runner.run(&["purge", "--uninstalled-for", "30"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = stdout(&out);
    assert!(printed.contains("purged client-old ("), "{printed}");
    assert!(printed.contains("): 3 tasks, 2 users"), "{printed}");
    assert!(printed.contains("purged client-old-empty ("), "{printed}");
    assert!(printed.contains("): 0 tasks, 0 users"), "{printed}");
    assert!(
        printed.contains("purged 2 sites uninstalled before"),
        "{printed}"
    );
    assert!(
        !printed.contains("recent") && !printed.contains("reinstalled"),
        "{printed}"
    );

    let after = snapshot(&conn);
    for (table, (before, after)) in ["jwt_tokens", "jwt_users", "tasks"]
        .iter()
        .zip(before.iter().zip(after.iter()))
    {
        let expected: Vec<_> = before
            .iter()
            .filter(|(owner, _)| *owner != old && *owner != old_empty)
            .cloned()
            .collect();
        assert_eq!(
            after, &expected,
            "{table}: exactly the expired sites' rows are gone"
        );
    }
    assert_eq!(
        served_titles(server.port, &installed),
        [
            format!("task 0 of {installed_id}"),
            format!("task 1 of {installed_id}")
        ]
    );

    let out = runner.run(&["purge", "--uninstalled-for", "30"]);
    assert!(stdout(&out).contains("purged 0 sites"), "{}", stdout(&out));
    assert_eq!(server.stop().code(), Some(0));
}

#[test]
fn healthcheck_exits_zero_against_a_running_server_and_one_against_none() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("volume").join("todo.sqlite3");
    let runner = Runner::test(dir.path(), &db);
    let server = runner.serve();
    let port = server.port.to_string();
    let probe = runner.clone().with("PORT", &port);
    assert_eq!(probe.run(&["healthcheck"]).status.code(), Some(0));
    let wildcard = probe.clone().with("HOST", "0.0.0.0");
    assert_eq!(
        wildcard.run(&["healthcheck"]).status.code(),
        Some(0),
        "0.0.0.0 is asked on loopback"
    );
    let misconfigured = probe
        .clone()
        .with("APP_ENV", "production")
        .with("SITE_URL", "http://x");
    assert_eq!(misconfigured.run(&["healthcheck"]).status.code(), Some(1));

    assert_eq!(server.stop().code(), Some(0));
    let out = probe.run(&["healthcheck"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
}
