//! A throwaway PostgreSQL cluster for the whole test run, when the suite runs against
//! PostgreSQL (`TODO_CONNECT_TEST_BACKEND=postgres`): `initdb` into a temp folder as an
//! unprivileged user (the `postgres` system user the package creates, or `nobody`; `initdb`
//! and `postgres` refuse root), a free loopback port, its unix socket in the temp folder, TLS
//! on with a certificate from a CA made here. Started on first use; a reaper process stops it
//! and removes the folder when this test process ends, however it ends (it waits for the end
//! of a pipe only this process holds). Each test gets a fresh database, named after the file
//! path the test would have given SQLite, and dropped once that path's folder is gone.

mod start;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

pub use start::bindir;
use start::{checked, start};

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

/// True when this run is against PostgreSQL: what a test with a backend-specific arm checks
/// (a SQLite-only one then reports its skip and returns; both runs list every test).
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
