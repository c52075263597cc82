//! A minimal W3C WebDriver client over reqwest, enough to drive headless Chromium through
//! chromedriver: sessions, navigation, elements, scripts, screenshots and Chrome's CDP passthrough.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};

use crate::harness::{free_port, poll_async, skip};
use testkit::tools::{self, Browser};

/// The W3C key under which an element reference travels.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How long `wait_*` helpers keep polling before failing the test.
pub const WAIT: Duration = Duration::from_secs(10);

/// Chromium and chromedriver (`CHROMIUM`, `CHROMEDRIVER`, else `PATH`), or `None` after
/// reporting the test skipped (failing instead under `CI=true`): what a browser test asks first.
pub fn require_browser() -> Option<Browser> {
    skip::require(tools::browser())
}

/// A child process killed (and reaped) when dropped, also when a test panics.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running chromedriver.
pub struct Driver {
    pub url: String,
    chromium: PathBuf,
    client: reqwest::Client,
    _child: KillOnDrop,
}

impl Driver {
    /// Starts chromedriver on a free port and waits until it reports ready.
    pub async fn start() -> Self {
        let browser = tools::browser().unwrap_or_else(|reason| panic!("{reason}"));
        let port = free_port();
        let child = Command::new(&browser.chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts (run scripts/setup.sh if it is missing)");
        let driver = Self {
            url: format!("http://127.0.0.1:{port}"),
            chromium: browser.chromium,
            client: reqwest::Client::new(),
            _child: KillOnDrop(child),
        };
        let ready = poll_async(WAIT, async || {
            let res = driver
                .client
                .get(format!("{}/status", driver.url))
                .send()
                .await
                .ok()?;
            let status = res.json::<Value>().await.ok()?;
            status["value"]["ready"].as_bool()?.then_some(())
        })
        .await;
        assert!(
            ready.is_some(),
            "chromedriver did not become ready on port {port}"
        );
        driver
    }

    /// Opens a headless Chromium session with `args` (besides the binary).
    pub async fn session(&self, args: &[String]) -> Session {
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": self.chromium, "args": args},
            "timeouts": {"pageLoad": 30000, "script": 10000, "implicit": 0},
        }}});
        let res = self
            .client
            .post(format!("{}/session", self.url))
            .json(&caps)
            .send()
            .await
            .expect("chromedriver answers POST /session");
        let body: Value = res.json().await.expect("session JSON");
        let id = body["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no browser session: {body}"))
            .to_string();
        Session {
            base: format!("{}/session/{id}", self.url),
            client: self.client.clone(),
            open: true,
        }
    }
}

/// One browser session; the browser is closed by [`Session::quit`] or, when a test panics, on
/// drop (killing chromedriver alone would leave Chromium running).
pub struct Session {
    base: String,
    client: reqwest::Client,
    open: bool,
}

impl Drop for Session {
    fn drop(&mut self) {
        if self.open {
            delete_blocking(&self.base);
        }
    }
}

/// `DELETE <url>` over a plain blocking socket (usable in `Drop`, outside any runtime).
fn delete_blocking(url: &str) {
    use std::io::{Read, Write};
    let Some(rest) = url.strip_prefix("http://") else {
        return;
    };
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let Ok(mut stream) = std::net::TcpStream::connect(host) else {
        return;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(20)));
    let request = format!("DELETE {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return;
    }
    // Wait for the whole answer (chromedriver replies once the browser is gone).
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n @ 1..) = stream.read(&mut buf) {
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got);
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if got.len() >= end + 4 + length {
                return;
            }
        }
    }
}

/// A reference to an element of the current page.
#[derive(Clone, Debug)]
pub struct Element(String);

impl Session {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self
            .client
            .request(method.clone(), format!("{}{path}", self.base));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("webdriver {method} {path}: {e}"));
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        assert!(
            status.is_success(),
            "webdriver {method} {path} failed with {status}: {body}"
        );
        body["value"].clone()
    }

    /// Same as `call`, but returns the error instead of failing (used while polling).
    async fn try_call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> Result<Value, String> {
        let res = self
            .client
            .request(method, format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = res.status();
        let body: Value = res.json().await.map_err(|e| e.to_string())?;
        if status.is_success() {
            Ok(body["value"].clone())
        } else {
            Err(format!("{status}: {body}"))
        }
    }

    /// Runs a Chrome DevTools Protocol command through chromedriver's passthrough.
    pub async fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.call(
            reqwest::Method::POST,
            "/goog/cdp/execute",
            Some(json!({"cmd": cmd, "params": params})),
        )
        .await
    }

    /// Navigates and waits for the page load.
    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    /// Runs a synchronous script (`return …`) in the page.
    pub async fn script(&self, script: &str, args: Value) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    /// Polls a script until it returns something truthy; fails with `what` after [`WAIT`].
    pub async fn wait_for(&self, what: &str, script: &str, args: Value) -> Value {
        let found = poll_async(WAIT, async || {
            let value = self.script(script, args.clone()).await;
            let truthy = match &value {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::String(s) => !s.is_empty(),
                Value::Number(n) => n.as_f64() != Some(0.0),
                _ => true,
            };
            truthy.then_some(value)
        })
        .await;
        match found {
            Some(value) => value,
            None => {
                let text = self.page_text().await;
                panic!("timed out waiting for {what}; page text: {text}");
            }
        }
    }

    /// The visible text of the page, for failure messages.
    async fn page_text(&self) -> Value {
        self.script(
            "return document.body ? document.body.innerText : ''",
            json!([]),
        )
        .await
    }

    /// Finds the first element matching a CSS selector, polling until it appears.
    pub async fn find(&self, css: &str) -> Element {
        let mut last = Err(String::new());
        let found = poll_async(WAIT, async || {
            last = self
                .try_call(
                    reqwest::Method::POST,
                    "/element",
                    json!({"using": "css selector", "value": css}),
                )
                .await;
            let id = last.as_ref().ok()?[ELEMENT_KEY].as_str()?;
            Some(Element(id.to_string()))
        })
        .await;
        match found {
            Some(element) => element,
            None => {
                let text = self.page_text().await;
                panic!("no element matches {css:?} ({last:?}); page text: {text}");
            }
        }
    }

    /// Clicks an element (scrolling it into view first, as a user would).
    pub async fn click(&self, el: &Element) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{}/click", el.0),
            Some(json!({})),
        )
        .await;
    }

    /// Empties a text input.
    pub async fn clear(&self, el: &Element) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{}/clear", el.0),
            Some(json!({})),
        )
        .await;
    }

    /// Types text into an element with real key events.
    pub async fn type_text(&self, el: &Element, text: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{}/value", el.0),
            Some(json!({"text": text})),
        )
        .await;
    }

    /// A PNG screenshot of the viewport.
    pub async fn screenshot(&self) -> Vec<u8> {
        let b64 = self.call(reqwest::Method::GET, "/screenshot", None).await;
        base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().expect("screenshot is base64 text"))
            .expect("screenshot decodes")
    }

    /// Ends the session (closes the browser).
    pub async fn quit(&mut self) {
        self.open = false;
        let _ = self.client.delete(&self.base).send().await;
    }
}
