//! Running the real binary as a child process: start it on a free port, collect its log,
//! talk raw HTTP to it. Included with `#[path]` by the tests that need it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::common::{ADDON_KEY, SITE_URL};

pub fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_todo-connect"))
}

pub fn base_env(cmd: &mut Command, dir: &Path, db: &Path) {
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("APP_ENV", "test")
        .env("SITE_URL", SITE_URL)
        .env("ADDON_KEY", ADDON_KEY)
        .env("HOST", "127.0.0.1")
        .env("DATABASE_PATH", db);
}

/// A server process whose stderr (the log) is collected.
pub struct Server {
    pub child: Child,
    pub port: u16,
    pub log: Arc<Mutex<String>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start_server(dir: &Path, db: &Path, extra: &[(&str, &str)]) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cmd = binary();
    base_env(&mut cmd, dir, db);
    cmd.env("PORT", port.to_string())
        .envs(extra.iter().copied())
        .stderr(Stdio::piped())
        .stdout(Stdio::null());
    let mut child = cmd.arg("serve").spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let log = Arc::new(Mutex::new(String::new()));
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let mut s = sink.lock().unwrap();
            s.push_str(&line);
            s.push('\n');
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "server did not start: {}",
            log.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Server { child, port, log }
}

pub fn http(port: u16, request: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}
