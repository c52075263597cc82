//! Loopback ports and the user the tests run as: what the key servers, the PostgreSQL cluster
//! and the child-process server all ask.

use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;

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
