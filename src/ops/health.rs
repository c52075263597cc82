//! `todo-connect healthcheck`: asks the local server's `/healthz`, for a container HEALTHCHECK.
//! Plain `std::net` with short timeouts: no runtime to start, nothing to hang on.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::OpsError;

/// How long connecting, sending and answering may each take.
const TIMEOUT: Duration = Duration::from_secs(3);

/// The address to ask: the listen address, with a wildcard replaced by loopback.
fn probe_host(listen_host: &str) -> &str {
    match listen_host.trim_matches(|c| c == '[' || c == ']') {
        "0.0.0.0" | "" => "127.0.0.1",
        "::" => "::1",
        host => host,
    }
}

/// Ok when `GET /healthz` on `host:port` answers 200 within [`TIMEOUT`].
pub(crate) fn check(listen_host: &str, port: u16) -> Result<(), OpsError> {
    let host = probe_host(listen_host);
    let unhealthy = |why: String| OpsError::Unhealthy(format!("healthcheck {host}:{port}: {why}"));
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| unhealthy(e.to_string()))?
        .collect();
    let mut last = String::from("no address");
    for addr in addrs {
        match ask(addr) {
            Ok(200) => return Ok(()),
            Ok(status) => return Err(unhealthy(format!("/healthz answered {status}"))),
            Err(e) => last = e.to_string(),
        }
    }
    Err(unhealthy(last))
}

/// Sends one request and returns the response status.
fn ask(addr: SocketAddr) -> std::io::Result<u16> {
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    stream.write_all(
        b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nUser-Agent: todo-connect-healthcheck\r\n\
          Connection: close\r\n\r\n",
    )?;
    let mut head = Vec::with_capacity(64);
    let mut buf = [0u8; 64];
    while !head.contains(&b'\n') && head.len() < 1024 {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    let mut parts = line.split_whitespace();
    match (parts.next(), parts.next().and_then(|s| s.parse().ok())) {
        (Some(version), Some(status)) if version.starts_with("HTTP/") => Ok(status),
        _ => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "not an HTTP response",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wildcard_listen_address_is_probed_on_loopback() {
        assert_eq!(probe_host("0.0.0.0"), "127.0.0.1");
        assert_eq!(probe_host("::"), "::1");
        assert_eq!(probe_host("[::]"), "::1");
        assert_eq!(probe_host("127.0.0.1"), "127.0.0.1");
        assert_eq!(probe_host("app.internal"), "app.internal");
    }
}
