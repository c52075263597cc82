//! Atlassian's install-key server on loopback: `GET /<kid>` answers the PEM published under
//! that kid, anything else 404. It runs on threads of its own (plain sockets, one thread a
//! connection), so it serves sync and async tests, a child-process server and the example
//! peers alike, and it records what was asked: every kid, and the most requests at once.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::rsa::{RsaKeys, new_rsa_keys};

/// The `kid` the install key is published under.
pub const INSTALL_KID: &str = "test-kid-1";

/// The install signing key shared by every test of a run (key generation is slow-ish).
pub fn install_keys() -> &'static RsaKeys {
    static KEYS: OnceLock<RsaKeys> = OnceLock::new();
    KEYS.get_or_init(|| new_rsa_keys().expect("RSA key pair"))
}

/// The key server. Its fields are shared with the serving threads: a test may publish, read
/// the hits or slow every answer down while it runs.
pub struct KeyServer {
    /// `http://127.0.0.1:<port>`, the app's `CONNECT_KEYS_URL`.
    pub url: String,
    pub port: u16,
    /// PEM by kid.
    pub keys: Arc<Mutex<HashMap<String, String>>>,
    /// Every kid asked for, in order.
    pub hits: Arc<Mutex<Vec<String>>>,
    /// A pause before every answer (zero unless a test sets it).
    pub delay: Arc<Mutex<Duration>>,
    /// A pause before a 404 only (a real CDN miss is not instant).
    pub miss_delay: Arc<Mutex<Duration>>,
    /// The most requests it was ever handling at the same time.
    pub max_in_flight: Arc<AtomicUsize>,
}

#[derive(Clone, Default)]
struct Shared {
    keys: Arc<Mutex<HashMap<String, String>>>,
    hits: Arc<Mutex<Vec<String>>>,
    delay: Arc<Mutex<Duration>>,
    miss_delay: Arc<Mutex<Duration>>,
    in_flight: Arc<AtomicUsize>,
    max_in_flight: Arc<AtomicUsize>,
}

impl KeyServer {
    /// Starts on a free loopback port, publishing [`install_keys`] under [`INSTALL_KID`].
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("a bound address").port();
        let shared = Shared::default();
        let serving = shared.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let serving = serving.clone();
                std::thread::spawn(move || serving.answer(stream));
            }
        });
        let server = Self {
            url: format!("http://127.0.0.1:{port}"),
            port,
            keys: shared.keys,
            hits: shared.hits,
            delay: shared.delay,
            miss_delay: shared.miss_delay,
            max_in_flight: shared.max_in_flight,
        };
        server.publish(INSTALL_KID, &install_keys().public_pem);
        server
    }

    /// How many requests asked for `kid`.
    pub fn hits_for(&self, kid: &str) -> usize {
        let hits = self.hits.lock().unwrap_or_else(|e| e.into_inner());
        hits.iter().filter(|k| *k == kid).count()
    }

    /// How many requests arrived in all.
    pub fn hit_count(&self) -> usize {
        self.hits.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Publishes (or replaces) the PEM under `kid`.
    pub fn publish(&self, kid: &str, pem: &str) {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        keys.insert(kid.to_string(), pem.to_string());
    }
}

impl Shared {
    fn answer(&self, mut stream: TcpStream) {
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let Some(path) = request_path(&mut stream) else {
            return;
        };
        let kid = path.trim_start_matches('/').to_string();
        self.hits
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(kid.clone());
        let current = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(current, Ordering::SeqCst);
        std::thread::sleep(*self.delay.lock().unwrap_or_else(|e| e.into_inner()));
        let pem = self
            .keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&kid)
            .cloned();
        if pem.is_none() {
            std::thread::sleep(*self.miss_delay.lock().unwrap_or_else(|e| e.into_inner()));
        }
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        let response = match pem {
            Some(pem) => format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/x-pem-file\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{pem}",
                pem.len()
            ),
            None => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                .to_string(),
        };
        let _ = stream.write_all(response.as_bytes());
    }
}

/// The path of the request on `stream` (its head read up to the blank line, at most 16 KiB).
pub(crate) fn request_path(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&head);
    let target = text.split_whitespace().nth(1)?;
    Some(target.split('?').next().unwrap_or(target).to_string())
}
