//! Loopback ports, the user the tests run as, and reading a request's head: what the key
//! servers, the PostgreSQL cluster and the child-process server all ask.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

/// The unprivileged user and group of an unprivileged run (`nobody`).
pub const NOBODY: u32 = 65534;

/// Picks a free TCP port on 127.0.0.1 (bind to port 0, read it, release it).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("a bound address").port()
}

/// Whether this process runs as root (then servers and clusters drop to [`NOBODY`] or
/// `postgres`, which refuse root).
pub fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").map(|m| m.uid()).ok() == Some(0)
}

/// Reads a request's head from `stream`, up to and with its blank line, a byte at a time so
/// that none of the body is taken; what arrived when the peer stops, or sends nothing for five
/// seconds. What the hand-written stand-ins (a key set, a Jira) read before they answer.
pub fn read_head(stream: &mut TcpStream) -> Vec<u8> {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
        head.push(byte[0]);
    }
    head
}
