//! Making a cluster: finding PostgreSQL's programs, `initdb` as an unprivileged user, a CA and
//! a server certificate for TLS, `pg_ctl start` on a free port, and the reaper that stops the
//! cluster and removes its folder when the test process ends.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::Mutex;

use super::Cluster;
use crate::net::{NOBODY, free_port, running_as_root};

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

/// Runs `cmd`, failing with its output when it fails.
pub(super) fn checked(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Makes, starts and (through the reaper) guards a new cluster.
pub(super) fn start() -> Cluster {
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
