//! Atlassian's key set for Forge on loopback: `GET /.well-known/jwks.json` answers the public
//! JWKs published (or 503 while down), counting every fetch; it can hold answers back to play a
//! slow key server. On threads of its own, like the install-key server.

use std::io::Write;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use jsonwebtoken::{Algorithm, EncodingKey, jwk::Jwk};
use serde_json::{Value, json};

use super::{FORGE_KID, forge_key};
use crate::rsa::RsaKeys;

/// The public JWK of `keys` under `kid`; with `padded`, `n` and `e` carry `=` padding (as
/// some Atlassian key sets have).
pub fn public_jwk(keys: &RsaKeys, kid: &str, padded: bool) -> Value {
    let private = EncodingKey::from_rsa_pem(keys.private_pem.as_bytes()).unwrap();
    let jwk = Jwk::from_encoding_key(&private, Algorithm::RS256).unwrap();
    let mut value = serde_json::to_value(jwk).unwrap();
    value["kid"] = json!(kid);
    value["use"] = json!("sig");
    if padded {
        for part in ["n", "e"] {
            let text = value[part].as_str().unwrap().to_string();
            let pad = (4 - text.len() % 4) % 4;
            value[part] = json!(format!("{text}{}", "=".repeat(pad)));
        }
    }
    value
}

/// A JWKS server on loopback: `GET /.well-known/jwks.json` answers the published keys (or
/// 503 while [`JwksServer::set_down`]), and counts every fetch.
#[derive(Clone)]
pub struct JwksServer {
    pub port: u16,
    keys: Arc<Mutex<Vec<Value>>>,
    hits: Arc<AtomicUsize>,
    answered: Arc<AtomicUsize>,
    down: Arc<AtomicBool>,
    /// While true, a request is counted, then not answered until it turns false.
    held: Arc<(Mutex<bool>, std::sync::Condvar)>,
}

impl JwksServer {
    /// Starts, publishing [`forge_key`] under [`FORGE_KID`].
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let server = Self {
            port: listener.local_addr().unwrap().port(),
            keys: Arc::default(),
            hits: Arc::default(),
            answered: Arc::default(),
            down: Arc::default(),
            held: Arc::default(),
        };
        server.publish(public_jwk(forge_key(), FORGE_KID, false));
        let serving = server.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let head = crate::net::read_head(&mut stream);
                let answer = serving.answer(&head);
                let (held, released) = &*serving.held;
                let mut holding = held.lock().unwrap();
                while *holding {
                    holding = released.wait(holding).unwrap();
                }
                drop(holding);
                // Counted before the write: once the app has the answer (and a test has the
                // app's reply), the count already includes it.
                serving.answered.fetch_add(1, Ordering::SeqCst);
                let _ = stream.write_all(answer.as_bytes());
            }
        });
        server
    }

    fn answer(&self, head: &[u8]) -> String {
        let line = String::from_utf8_lossy(head);
        let found = line.starts_with("GET /.well-known/jwks.json ");
        self.hits.fetch_add(1, Ordering::SeqCst);
        let (status, body) = if self.down.load(Ordering::SeqCst) {
            ("503 Service Unavailable", "{}".to_string())
        } else if found {
            let keys = self.keys.lock().unwrap().clone();
            ("200 OK", json!({ "keys": keys }).to_string())
        } else {
            ("404 Not Found", "{}".to_string())
        };
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    }

    /// The key set URL (`FORGE_JWKS_URL`).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/.well-known/jwks.json", self.port)
    }

    /// Adds (or replaces, by `kid`) a public JWK.
    pub fn publish(&self, jwk: Value) {
        let mut keys = self.keys.lock().unwrap();
        keys.retain(|k| k["kid"] != jwk["kid"]);
        keys.push(jwk);
    }

    /// While down, every fetch answers 503.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// How many requests the server has received (answered or held).
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// How many answers the server has sent.
    pub fn answered(&self) -> usize {
        self.answered.load(Ordering::SeqCst)
    }

    /// While held, a fetch arrives (and counts) but gets no answer: a slow key server.
    pub fn hold(&self, hold: bool) {
        let (held, released) = &*self.held;
        *held.lock().unwrap() = hold;
        released.notify_all();
    }
}
