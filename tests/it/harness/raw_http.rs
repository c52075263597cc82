//! HTTP by hand over a plain socket, for what a client library would hide: partial bodies,
//! `Expect: 100-continue`, oversized heads, exact status lines.

use std::io::{Read, Write};
use std::net::TcpStream;

use serde_json::Value;

use testkit::wait::PATIENCE;

/// A connection to the app on loopback; reads give up after [`PATIENCE`] (a hang guard).
pub fn connect(port: u16) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream
}

/// Sends raw bytes and reads until the server closes; what arrived, as text. A write the
/// server cut short is not an error here: its answer (or silence) is what the test checks.
pub fn exchange(port: u16, request: &[u8]) -> String {
    let mut stream = connect(port);
    let _ = stream.write_all(request);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    String::from_utf8_lossy(&response).into_owned()
}

/// One parsed response.
pub struct Response {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Reads one response (the server always sends `Content-Length` here).
pub fn read_response(stream: &mut TcpStream) -> Response {
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

/// One request on its own connection, with an optional `Authorization: JWT` token.
pub fn request(port: u16, method: &str, path: &str, auth: Option<&str>, body: &str) -> Response {
    let authorization = auth.map(|token| format!("JWT {token}"));
    request_authorized(port, method, path, authorization.as_deref(), body)
}

/// One request on its own connection, with `authorization` as the whole `Authorization`
/// header (`Bearer <FIT>`, a bare word, …) when given.
pub fn request_authorized(
    port: u16,
    method: &str,
    path: &str,
    authorization: Option<&str>,
    body: &str,
) -> Response {
    let mut stream = connect(port);
    let auth = authorization.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Content-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    read_response(&mut stream)
}

pub fn get(port: u16, path: &str) -> Response {
    request(port, "GET", path, None, "")
}
