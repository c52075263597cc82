//! The one way to run the real binary as a child process. [`Binary`] says how (which file, in
//! which folder, as whom, with which environment); [`Binary::run`] runs a command to
//! completion and [`Binary::serve`] starts the server, collects its log, learns its port and
//! waits until `/healthz` answers. A [`Server`] is killed when dropped, also when a test fails.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use testkit::net::{NOBODY, free_port, running_as_root};
use testkit::postgres;
use testkit::wait::{PATIENCE, poll};
use testkit::{ADDON_KEY, SITE_URL};

/// The test build of the binary.
pub const TEST_BUILD: &str = env!("CARGO_BIN_EXE_todo-connect");

/// How to run the binary: which file, as whom, where, with which environment.
#[derive(Clone)]
pub struct Binary {
    program: PathBuf,
    cwd: PathBuf,
    env: BTreeMap<String, OsString>,
    unprivileged: bool,
}

impl Binary {
    /// `program`, run in `cwd` with nothing in its environment but a plain `PATH`.
    pub fn new(program: impl Into<PathBuf>, cwd: &Path) -> Self {
        Self {
            program: program.into(),
            cwd: cwd.to_path_buf(),
            env: BTreeMap::new(),
            unprivileged: false,
        }
    }

    /// The test build, in `dir`, with the test environment (`APP_ENV=test`, the test
    /// `SITE_URL` and `ADDON_KEY`, loopback, `PORT=0`, `RUST_LOG=info`) and `database` (on a
    /// PostgreSQL run, also the `DATABASE_URL` of the database standing in for that file).
    pub fn test(dir: &Path, database: &Path) -> Self {
        let binary = Self::new(TEST_BUILD, dir);
        let binary = if postgres::on_postgres() {
            binary.env("DATABASE_URL", postgres::database_for(database))
        } else {
            binary
        };
        binary
            .env("APP_ENV", "test")
            .env("SITE_URL", SITE_URL)
            .env("ADDON_KEY", ADDON_KEY)
            .env("HOST", "127.0.0.1")
            .env("PORT", "0")
            .env("RUST_LOG", "info")
            .env("DATABASE_PATH", database)
    }

    /// Sets (or replaces) one environment variable.
    pub fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> Self {
        self.env.insert(key.into(), value.as_ref().into());
        self
    }

    /// Leaves one environment variable unset.
    pub fn without(mut self, key: &str) -> Self {
        self.env.remove(key);
        self
    }

    /// Runs as `nobody` through `setpriv` (when the tests run as root; otherwise they already
    /// run unprivileged).
    pub fn unprivileged(mut self) -> Self {
        self.unprivileged = true;
        self
    }

    /// Serves on a port chosen now instead of `PORT=0` read back from the log: for log levels
    /// that do not print the listening address.
    pub fn on_free_port(self) -> Self {
        self.env("PORT", free_port().to_string())
    }

    /// The command line, ready for [`Command::output`] or [`Command::spawn`].
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = if self.unprivileged && running_as_root() {
            let mut cmd = Command::new("setpriv");
            cmd.arg(format!("--reuid={NOBODY}"))
                .arg(format!("--regid={NOBODY}"))
                .arg("--clear-groups")
                .arg(&self.program);
            cmd
        } else {
            Command::new(&self.program)
        };
        cmd.args(args)
            .current_dir(&self.cwd)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .envs(&self.env)
            .stdin(Stdio::null());
        cmd
    }

    /// Runs a command to completion.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("the binary runs")
    }

    /// Starts `serve`, collects its log (stderr), learns its port (from the log when
    /// `PORT=0`) and waits until `/healthz` answers 200.
    pub fn serve(&self) -> Server {
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
        let chosen = self.env.get("PORT").and_then(|p| p.to_str()?.parse().ok());
        server.port = match chosen {
            Some(port) if port != 0 => port,
            _ => {
                let line = server.wait_for_log("listening on http://");
                let after = line.split("listening on http://").nth(1).unwrap();
                let address = after.split_whitespace().next().unwrap();
                address.rsplit(':').next().unwrap().parse().unwrap()
            }
        };
        server.wait_healthy();
        server
    }
}

/// Whether `GET /healthz` on the port answers 200 right now.
fn healthz_answers(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    if stream.write_all(request).is_err() {
        return false;
    }
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    response.starts_with(b"HTTP/1.1 200")
}

/// A running `todo-connect serve` whose log (stderr) is collected; killed when dropped.
pub struct Server {
    child: Child,
    log: Arc<Mutex<String>>,
    pub port: u16,
}

impl Server {
    /// `http://127.0.0.1:<port>`.
    pub fn address(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits until a log line contains `needle` and returns it; fails if the server exits
    /// first.
    pub fn wait_for_log(&mut self, needle: &str) -> String {
        let found = poll(PATIENCE, || {
            if let Some(line) = self.log().lines().find(|l| l.contains(needle)) {
                return Some(line.to_string());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "server exited ({status}) before logging {needle:?}:\n{}",
                    self.log()
                );
            }
            None
        });
        found.unwrap_or_else(|| panic!("no {needle:?} in:\n{}", self.log()))
    }

    fn wait_healthy(&mut self) {
        let port = self.port;
        let answered = poll(PATIENCE, || {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("todo-connect exited with {status}:\n{}", self.log());
            }
            healthz_answers(port).then_some(())
        });
        if answered.is_none() {
            panic!("todo-connect did not answer /healthz:\n{}", self.log());
        }
    }

    /// Sends a signal (`TERM`, `KILL`) with `kill`.
    pub fn signal(&self, name: &str) {
        let sent = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -{name}");
    }

    pub fn sigterm(&self) {
        self.signal("TERM");
    }

    /// Waits for the process to exit.
    pub fn wait(&mut self) -> ExitStatus {
        self.child.wait().unwrap()
    }

    /// SIGTERM, then the exit status.
    pub fn stop(mut self) -> ExitStatus {
        self.sigterm();
        self.wait()
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

/// The text a finished command printed on stdout.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The text a finished command printed on stderr.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
