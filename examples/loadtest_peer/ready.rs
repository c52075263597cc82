//! How long the server takes from start to answering `/healthz`, with an existing database.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::Result;

/// Whether `GET path` on `addr` answers 200 right now.
fn answers_200(addr: &str, path: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200")
}

/// Starts `command` `times` times, each time until `url` answers 200; prints the times.
pub fn ready(url: &str, times: usize, command: &[String]) -> Result<()> {
    let rest = url
        .strip_prefix("http://")
        .ok_or("--url must be http://host:port/path")?;
    let (addr, path) = rest.split_once('/').ok_or("--url needs a path")?;
    let path = format!("/{path}");
    let (program, args) = command.split_first().ok_or("no server command")?;
    if times == 0 {
        return Err("--times must be at least 1".into());
    }
    let mut all = Vec::with_capacity(times);
    for _ in 0..times {
        if answers_200(addr, &path) {
            return Err(format!("something already answers on {addr}"));
        }
        let started = Instant::now();
        let mut child = Command::new(program)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("{program}: {e}"))?;
        let mut took = None;
        while started.elapsed() < Duration::from_secs(10) {
            if answers_200(addr, &path) {
                took = Some(started.elapsed());
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("server exited early: {status}"));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        // SIGTERM for a clean shutdown; the server has no connections left to drain.
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let _ = child.wait();
        let took = took.ok_or("server not ready within 10 s")?;
        all.push(took.as_secs_f64() * 1000.0);
    }
    let mut sorted = all.clone();
    sorted.sort_by(f64::total_cmp);
    let each: Vec<String> = all.iter().map(|ms| format!("{ms:.1}")).collect();
    println!(
        "READY_MS median={:.1} min={:.1} max={:.1} runs=[{}]",
        sorted[sorted.len() / 2],
        sorted[0],
        sorted[sorted.len() - 1],
        each.join(" ")
    );
    Ok(())
}
