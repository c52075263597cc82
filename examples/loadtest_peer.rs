//! The Confluence side of `scripts/loadtest.sh`.
//!
//! `install`: plays Atlassian and the Confluence site on 127.0.0.1:<peer-port>: serves a fresh
//! RSA public key for a `kid` (the app's `CONNECT_KEYS_URL` is `http://127.0.0.1:<peer-port>`)
//! and the site's user API (`baseUrl` `http://127.0.0.1:<peer-port>/wiki`, which the macro asks
//! for the task creator's display name). It performs a real signed install against the running
//! app, creates a task through the JSON API, checks the macro renders, prints `HEALTHZ_URL=…`
//! and `MACRO_URL=…` (a realistic iframe URL with a valid token), then keeps serving until it
//! is killed, so that restarted servers can look the name up again.
//!
//! `ready`: starts the given server command several times and prints how long each start took
//! until `/healthz` answered 200.
//!
//! ```sh
//! cargo run --release --example loadtest_peer -- install --app http://127.0.0.1:8080 --peer-port 8081 &
//! cargo run --release --example loadtest_peer -- ready --url http://127.0.0.1:8080/healthz -- target/release/todo-connect serve
//! ```

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::{Parser, Subcommand};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use todo_connect::connect::qsh;

const KID: &str = "loadtest-kid-1";
const CLIENT_KEY: &str = "4c2a1b7e-9d3f-4e8a-b1c6-7f0d2e5a9c31";
const ACCOUNT_ID: &str = "557058:f1b2c3d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d";
const MACRO_PATH: &str = "/confluence/get_task";

#[derive(Parser)]
#[command(about = "The Confluence side of scripts/loadtest.sh")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve an install key, install a site, create a task, print the URLs to load.
    Install {
        /// The running app, e.g. http://127.0.0.1:8080
        #[arg(long)]
        app: String,
        /// Port of this peer on 127.0.0.1: key server and Confluence site.
        #[arg(long)]
        peer_port: u16,
        /// The app's SITE_URL: the `aud` of the install token.
        #[arg(long, default_value = "https://todo-loadtest.example")]
        site_url: String,
        /// The app's ADDON_KEY.
        #[arg(long, default_value = "todo-connect-loadtest")]
        addon_key: String,
        /// Lifetime of the macro token in seconds (the whole load test must fit in it).
        #[arg(long, default_value_t = 3600)]
        ttl: i64,
    },
    /// Start a server command `times` times; print the milliseconds until /healthz answered.
    Ready {
        /// The healthz URL the started server answers on.
        #[arg(long)]
        url: String,
        #[arg(long, default_value_t = 5)]
        times: usize,
        /// The server command and its arguments.
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Cmd::Install {
            app,
            peer_port,
            site_url,
            addon_key,
            ttl,
        } => install(&app, peer_port, &site_url, &addon_key, ttl),
        Cmd::Ready {
            url,
            times,
            command,
        } => ready(&url, times, &command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("loadtest_peer: {err}");
            ExitCode::FAILURE
        }
    }
}

type Result<T> = std::result::Result<T, String>;

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[path = "../tests/it/harness/rsa.rs"]
mod rsa;

/// A fresh RSA-2048 key pair as (private PKCS#8 PEM, public SPKI PEM).
fn rsa_keys() -> Result<(String, String)> {
    let keys = rsa::new_rsa_keys()?;
    Ok((keys.private_pem, keys.public_pem))
}

/// Answers `GET /<KID>` with the PEM, `GET /wiki/rest/api/user?…` with a user and anything
/// else with 404, until the process exits.
fn serve_peer(port: u16, public_pem: String) -> Result<()> {
    let listener =
        TcpListener::bind(("127.0.0.1", port)).map_err(|e| format!("peer :{port}: {e}"))?;
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = answer(stream, &public_pem);
        }
    });
    Ok(())
}

fn answer(mut stream: TcpStream, public_pem: &str) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16 * 1024 {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        request.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&request);
    let path = line.split_whitespace().nth(1).unwrap_or("");
    let user = json!({"accountId": ACCOUNT_ID, "displayName": "Ada Lovelace", "publicName": "ada"});
    let (status, content_type, body) = if path == format!("/{KID}") {
        ("200 OK", "application/x-pem-file", public_pem.to_string())
    } else if path.starts_with("/wiki/rest/api/user?") {
        ("200 OK", "application/json", user.to_string())
    } else {
        ("404 Not Found", "text/plain", String::new())
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes())
}

fn sign(header: &Header, claims: &Value, key: &EncodingKey) -> Result<String> {
    jsonwebtoken::encode(header, claims, key).map_err(|e| format!("signing: {e}"))
}

/// The query Confluence puts on a macro iframe (without `jwt`).
fn macro_query(task_id: i64, addon_key: &str) -> String {
    format!(
        "id={task_id}&pageId=98306&pageVersion=7&macroId=5f3e1a2b-7c4d-4e9f-a1b2-c3d4e5f6a7b8\
         &outputType=display&xdm_e=https%3A%2F%2Fexample.atlassian.net\
         &xdm_c=channel-{addon_key}__dynamic-task-macro6843219873124\
         &cp=%2Fwiki&xdm_deprecated_addon_key_do_not_use={addon_key}&lic=active\
         &cv=1001.0.0-SNAPSHOT&user_id=557058%3Af1b2c3d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d\
         &user_key=ff80808167a1b2c3016a1b2c3d4e0001&tz=Europe%2FBerlin&loc=en-GB"
    )
}

fn install(app: &str, peer_port: u16, site_url: &str, addon_key: &str, ttl: i64) -> Result<()> {
    let app = app.trim_end_matches('/');
    let (private_pem, public_pem) = rsa_keys()?;
    serve_peer(peer_port, public_pem)?;
    let site = format!("http://127.0.0.1:{peer_port}/wiki");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let base_path = todo_connect::util::url::BaseUrl::parse(site_url, false)
        .map_err(|e| format!("SITE_URL: {e}"))?
        .path()
        .to_string();
    let secret = format!("loadtest-secret-{}-{}", now(), std::process::id());
    let macro_url = runtime.block_on(async {
        let http = reqwest::Client::new();

        // The signed install, exactly as Confluence sends it.
        let installed = "/confluence/installed";
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(KID.to_string());
        let rsa = EncodingKey::from_rsa_pem(private_pem.as_bytes()).map_err(|e| e.to_string())?;
        let install_token = sign(
            &header,
            &json!({
                "iss": CLIENT_KEY, "aud": site_url, "iat": now(), "exp": now() + 180,
                "qsh": qsh::qsh("POST", installed, "", &base_path),
            }),
            &rsa,
        )?;
        let res = http
            .post(format!("{app}{installed}"))
            .header("Authorization", format!("JWT {install_token}"))
            .json(&json!({
                "key": addon_key, "clientKey": CLIENT_KEY, "sharedSecret": secret,
                "baseUrl": site, "displayUrl": site,
                "productType": "confluence", "eventType": "installed",
                "description": "Atlassian Confluence at https://example.atlassian.net",
                "serverVersion": "6452", "pluginsVersion": "1001.0.0",
            }))
            .send()
            .await
            .map_err(|e| format!("install: {e}"))?;
        if res.status().as_u16() != 204 {
            return Err(format!("install answered {}", res.status()));
        }

        // One task, created through the JSON API with a browser context token.
        let hmac = EncodingKey::from_secret(secret.as_bytes()).map_err(|e| e.to_string())?;
        let hs256 = Header::new(Algorithm::HS256);
        let context_token = sign(
            &hs256,
            &json!({
                "iss": CLIENT_KEY, "sub": ACCOUNT_ID, "iat": now(), "exp": now() + 900,
                "qsh": qsh::CONTEXT_QSH, "context": {"user": {"accountId": ACCOUNT_ID}},
            }),
            &hmac,
        )?;
        let res = http
            .post(format!("{app}/api/tasks"))
            .header("Authorization", format!("JWT {context_token}"))
            .json(&json!({"title": "Load-test the TODO macro"}))
            .send()
            .await
            .map_err(|e| format!("create task: {e}"))?;
        if res.status().as_u16() != 201 {
            return Err(format!("create task answered {}", res.status()));
        }
        let task: Value = res.json().await.map_err(|e| format!("task JSON: {e}"))?;
        let id = task["id"].as_i64().ok_or("task without id")?;

        // The iframe URL Confluence would load for a page view, with a long-lived token.
        let query = macro_query(id, addon_key);
        let macro_token = sign(
            &hs256,
            &json!({
                "sub": ACCOUNT_ID, "iss": CLIENT_KEY, "iat": now(), "exp": now() + ttl,
                "qsh": qsh::qsh("GET", MACRO_PATH, &query, &base_path),
                "context": {
                    "license": {"active": true},
                    "confluence": {"editor": {"version": "v2"}},
                    "user": {"accountId": ACCOUNT_ID}
                },
            }),
            &hmac,
        )?;
        let macro_url = format!("{app}{MACRO_PATH}?{query}&jwt={macro_token}");
        let res = http
            .get(&macro_url)
            .send()
            .await
            .map_err(|e| format!("macro: {e}"))?;
        if res.status().as_u16() != 200 {
            return Err(format!("macro answered {}", res.status()));
        }
        Ok(macro_url)
    })?;
    println!("HEALTHZ_URL={app}/healthz");
    println!("MACRO_URL={macro_url}");
    std::io::stdout()
        .flush()
        .map_err(|e| format!("stdout: {e}"))?;
    // Keep serving the key and the site for servers started later in the run.
    loop {
        std::thread::park();
    }
}

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

fn ready(url: &str, times: usize, command: &[String]) -> Result<()> {
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
