//! A throwaway PostgreSQL cluster for the whole test run, when the suite runs against
//! PostgreSQL (`TODO_CONNECT_TEST_BACKEND=postgres`): `initdb` into a temp folder as an
//! unprivileged user (the `postgres` system user the package creates, or `nobody`; `initdb`
//! and `postgres` refuse root), a free loopback port, its unix socket in the temp folder, TLS
//! on with a certificate from a CA made here. Started on first use; a reaper process stops it
//! and removes the folder when this test process ends, however it ends (it waits for the end
//! of a pipe only this process holds). Each test gets a fresh database, named after the file
//! path the test would have given SQLite, and dropped once that path's folder is gone.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use crate::net::{NOBODY, free_port, running_as_root};

/// Which database the integration tests run against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The backend of this run: `TODO_CONNECT_TEST_BACKEND=postgres`, else SQLite.
pub fn backend() -> Backend {
    match std::env::var("TODO_CONNECT_TEST_BACKEND").as_deref() {
        Ok("postgres") => Backend::Postgres,
        _ => Backend::Sqlite,
    }
}

/// True when this run is against PostgreSQL: what a SQLite-only test checks first (it then
/// returns at once; `scripts/test.sh` also skips those tests by name on that run).
pub fn on_postgres() -> bool {
    backend() == Backend::Postgres
}

/// The running cluster.
pub struct Cluster {
    pub port: u16,
    /// The CA that signed the server's certificate (for `sslrootcert`).
    pub ca: PathBuf,
    /// The data folder (its `postmaster.pid` names the server process).
    data: PathBuf,
    databases: Mutex<HashMap<PathBuf, String>>,
    _reaper: Mutex<ChildStdin>,
}

/// The cluster of this test run, started on first use.
pub fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(start)
}

/// `postgres://postgres@127.0.0.1:<port>/<name>` (trust authentication on loopback).
pub fn url(name: &str) -> String {
    format!("postgres://postgres@127.0.0.1:{}/{name}", cluster().port)
}

/// A cluster of the calling test's own, for what the shared one must never suffer (its
/// processes stopped); it is stopped and removed when dropped.
pub fn own_cluster() -> Cluster {
    start()
}

impl Cluster {
    /// `postgres://postgres@127.0.0.1:<port>/<name>` on this cluster, created first.
    pub fn create_database(&self, name: &str) -> String {
        let sql = format!("CREATE DATABASE {name}");
        let maintenance = format!("postgres://postgres@127.0.0.1:{}/postgres", self.port);
        run(&maintenance, move |client| async move {
            client.batch_execute(&sql).await
        })
        .unwrap_or_else(|e| panic!("CREATE DATABASE failed: {e}"));
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Sends `signal` (`STOP`, `CONT`) to the server and every process it started: the
    /// postmaster first when stopping (so it forks nothing new), last when continuing.
    pub fn signal_all(&self, signal: &str) {
        let pid_file = std::fs::read_to_string(self.data.join("postmaster.pid")).unwrap();
        let postmaster: u32 = pid_file.lines().next().unwrap().trim().parse().unwrap();
        let mut pids = vec![postmaster];
        pids.extend(children_of(postmaster));
        if signal == "CONT" {
            pids.reverse();
        }
        let mut kill = Command::new("kill");
        kill.arg(format!("-{signal}"));
        kill.args(pids.iter().map(u32::to_string));
        checked(&mut kill, "kill the cluster's processes");
    }
}

/// The processes whose parent is `parent` (from `/proc/<pid>/stat`).
fn children_of(parent: u32) -> Vec<u32> {
    let mut children = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid …": the name may hold spaces, so read after its last ')'.
        let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        if after_name.split_whitespace().nth(1) == Some(&parent.to_string()) {
            children.push(pid);
        }
    }
    children
}

/// The database standing in for the SQLite file `path`: created on first use, the same one
/// for every later use of the path (a migrate, then a serve). Databases whose path's folder is
/// gone (the test ended) are dropped on the way.
pub fn database_for(path: &Path) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let cluster = cluster();
    let mut databases = cluster.databases.lock().unwrap();
    if let Some(name) = databases.get(path) {
        return url(name);
    }
    let gone: Vec<PathBuf> = databases.keys().filter(|p| abandoned(p)).cloned().collect();
    for key in gone {
        let name = databases.remove(&key).unwrap();
        admin(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    }
    let name = format!(
        "t{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    admin(&format!("CREATE DATABASE {name}"));
    databases.insert(path.to_path_buf(), name.clone());
    url(&name)
}

/// Whether the test that used `path` has ended: no folder between it and the temp folder
/// exists any more (its temp dir was removed; subfolders may not have been created yet).
fn abandoned(path: &Path) -> bool {
    let temp = std::env::temp_dir();
    match path.strip_prefix(&temp) {
        Ok(_) => !path
            .ancestors()
            .skip(1)
            .take_while(|a| *a != temp)
            .any(Path::exists),
        Err(_) => false,
    }
}

/// Runs SQL on the maintenance database.
pub fn admin(sql: &str) {
    let sql = sql.to_string();
    run(&url("postgres"), move |client| async move {
        client.batch_execute(&sql).await
    })
    .unwrap_or_else(|e| panic!("admin SQL failed: {e}"));
}

/// Runs `work` with a fresh connection to `url`, on a runtime of its own on another thread: so
/// sync and async tests alike can look into the database.
pub fn run<T, W, F>(url: &str, work: W) -> Result<T, tokio_postgres::Error>
where
    T: Send + 'static,
    W: FnOnce(tokio_postgres::Client) -> F + Send + 'static,
    F: Future<Output = Result<T, tokio_postgres::Error>>,
{
    let url = url.to_string();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
            tokio::spawn(connection);
            work(client).await
        })
    })
    .join()
    .unwrap()
}

/// The folder with `initdb`, `pg_ctl` and `postgres`: `TODO_CONNECT_PG_BINDIR`, else the
/// folder of the `initdb` on `PATH`, else (last resort) the newest
/// `/usr/lib/postgresql/<version>/bin`, Debian's layout, which is not on `PATH` there.
pub fn bindir() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("TODO_CONNECT_PG_BINDIR") {
        let dir = PathBuf::from(dir);
        return if dir.join("initdb").is_file() && dir.join("pg_ctl").is_file() {
            Ok(dir)
        } else {
            Err(format!(
                "TODO_CONNECT_PG_BINDIR={} has no initdb and pg_ctl",
                dir.display()
            ))
        };
    }
    let on_path = crate::tools::on_path("initdb").and_then(|i| i.parent().map(Path::to_path_buf));
    if let Some(dir) = on_path.filter(|dir| dir.join("pg_ctl").is_file()) {
        return Ok(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).ok_or_else(|| {
        "PostgreSQL's initdb not found (set TODO_CONNECT_PG_BINDIR, put it on PATH, or run \
         scripts/setup.sh)"
            .to_string()
    })
}

/// The unprivileged user the cluster runs as when the tests run as root.
fn cluster_user() -> (u32, u32) {
    let out = Command::new("id").args(["-u", "postgres"]).output();
    let uid = out
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok());
    let gid = Command::new("id")
        .args(["-g", "postgres"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok());
    match (uid, gid) {
        (Some(uid), Some(gid)) => (uid, gid),
        _ => (NOBODY, NOBODY),
    }
}

/// A command run as the cluster's user.
fn as_cluster_user(program: &Path) -> Command {
    if running_as_root() {
        let (uid, gid) = cluster_user();
        let mut cmd = Command::new("setpriv");
        cmd.arg(format!("--reuid={uid}"))
            .arg(format!("--regid={gid}"))
            .arg("--clear-groups")
            .arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

fn checked(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn start() -> Cluster {
    let root = tempfile::Builder::new()
        .prefix("todo-connect-pg-")
        .tempdir()
        .unwrap()
        .keep();
    let bin = bindir().unwrap_or_else(|reason| panic!("{reason}"));
    let data = root.join("data");
    let socket = root.join("socket");
    std::fs::create_dir_all(&socket).unwrap();
    let ca = make_certificates(&root);
    if running_as_root() {
        let (uid, gid) = cluster_user();
        checked(
            Command::new("chown")
                .args(["-R", &format!("{uid}:{gid}")])
                .arg(&root),
            "chown the cluster folder",
        );
        // The CA certificate stays readable for the tests.
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    checked(
        as_cluster_user(&bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ]),
        "initdb",
    );
    let port = free_port();
    let options = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=300 \
         -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
         -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
        socket.display(),
        root.join("tls/server.crt").display(),
        root.join("tls/server.key").display(),
    );
    checked(
        as_cluster_user(&bin.join("pg_ctl"))
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(root.join("postgres.log"))
            .args(["-w", "-t", "60", "-o", &options, "start"]),
        "pg_ctl start",
    );
    let reaper = reaper(&bin, &data, &root);
    Cluster {
        port,
        ca,
        data,
        databases: Mutex::new(HashMap::new()),
        _reaper: Mutex::new(reaper),
    }
}

/// A process that waits until this one ends (its stdin, a pipe only we hold, reaches its end),
/// then stops the cluster at once and removes its folder.
fn reaper(bin: &Path, data: &Path, root: &Path) -> ChildStdin {
    let pg_ctl = as_cluster_user(&bin.join("pg_ctl"));
    let mut stop: Vec<String> = vec![pg_ctl.get_program().to_string_lossy().into_owned()];
    stop.extend(pg_ctl.get_args().map(|a| a.to_string_lossy().into_owned()));
    stop.extend([
        "-D".into(),
        data.display().to_string(),
        "-m".into(),
        "immediate".into(),
    ]);
    stop.push("stop".into());
    let quoted: Vec<String> = stop.iter().map(|a| format!("'{a}'")).collect();
    let script = format!(
        "cat >/dev/null; {} >/dev/null 2>&1; rm -rf '{}'",
        quoted.join(" "),
        root.display()
    );
    let mut child = Command::new("sh");
    child
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    std::os::unix::process::CommandExt::process_group(&mut child, 0);
    // Never waited for: it must outlive this process, which is what it watches for.
    #[allow(clippy::zombie_processes)]
    let mut child = child.spawn().expect("the cluster reaper starts");
    let mut stdin = child.stdin.take().unwrap();
    let _ = stdin.flush();
    stdin
}

/// A CA and a server certificate for `localhost` / `127.0.0.1` it signed, with `openssl`
/// (which Debian's PostgreSQL packages bring). Returns the CA certificate's path.
fn make_certificates(root: &Path) -> PathBuf {
    let tls = root.join("tls");
    std::fs::create_dir_all(&tls).unwrap();
    let openssl = |args: &[&str]| {
        checked(
            Command::new("openssl").current_dir(&tls).args(args),
            "openssl",
        );
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=todo-connect test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    std::fs::write(
        tls.join("san.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "san.ext",
        "-out",
        "server.crt",
    ]);
    std::fs::set_permissions(
        tls.join("server.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    tls.join("ca.crt")
}
