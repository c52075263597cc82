//! The attacker's side of `scripts/abuse.sh`: the issue 12 attacks at full size against a real
//! `todo-connect` binary, with the figures for docs/security.md.
//!
//! It plays Atlassian's key server on a loopback port (counting its requests), starts the
//! binary given with `--bin` on a fresh database for each scenario, and prints one Markdown
//! table row per figure:
//!
//! - `slow`: 4,200 connections from one address each announce a 64 KB `installed` body and
//!   send a byte every 1.5 s for `--seconds`; `/healthz` is asked every 250 ms from another
//!   address (2 s patience); the server's RSS before, at its peak and after.
//! - `keys`: 64 clients send installs naming random `kid`s for `--seconds`; requests the key
//!   server got, per second, and at most at once (it answers 404 after 200 ms).
//! - `wal`: 3,000 tasks created through the API (8 at a time); WAL and main file sizes, and
//!   each create's p50/p99 (on PostgreSQL only the latter: its log is the server's business).
//! - `tenants`: one site with 22,000 tasks floods `q=` searches from 32 connections while
//!   another site lists its tasks 500 times; that site's p50/p99, alone and during the flood.
//! - `purge`: the move from Connect to Forge (issue 24): Connect install, Forge `installed`,
//!   tasks through Forge, Connect `uninstalled`, `purge --uninstalled-for 0`; how many of the
//!   site's tasks Forge lists after the purge (`abuse/purge.rs`).
//! - `flap`: two installation ids of one cloud alternating for `--seconds` beside another
//!   site listing its tasks; flaps accepted, the other site's p50/p99 (`abuse/flap.rs`).
//!
//! With `--postgres <url>` (a throwaway PostgreSQL server it may create databases on) every
//! scenario runs on a fresh PostgreSQL database of that server instead of a SQLite file.
//!
//! ```sh
//! cargo run --release --example abuse_peer -- --bin target/release/todo-connect --seconds 60
//! ```

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use testkit::keys::{INSTALL_KID, KeyServer, install_keys};
use testkit::now;
use testkit::tokens::{context_claims, install_claims, install_payload, sign_hmac, sign_rs256};

#[path = "abuse/flap.rs"]
mod flap;
#[path = "abuse/purge.rs"]
mod purge;

const SITE_URL: &str = "https://todo-abuse.example";
const ADDON_KEY: &str = "todo-connect-abuse";

#[derive(Parser)]
#[command(about = "The attacks of issue 12, at full size, against a todo-connect binary")]
struct Cli {
    /// The todo-connect binary to attack.
    #[arg(long)]
    bin: PathBuf,
    /// How long the slow-client and key floods last.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Scenarios to run (slow, keys, wal, tenants, purge, flap); all by default.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "slow,keys,wal,tenants,purge"
    )]
    only: Vec<String>,
    /// Run on PostgreSQL: a server URL (`postgres://user@host:port/postgres`) on which each
    /// scenario creates a fresh database (left there: use a throwaway server).
    #[arg(long)]
    postgres: Option<String>,
}

/// A fresh database on the PostgreSQL server at `base`; its URL.
async fn fresh_database(base: &str) -> Result<String> {
    static NEXT: AtomicUsize = AtomicUsize::new(1);
    let name = format!(
        "abuse_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    );
    let admin = pg_connect(base).await?;
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .map_err(|e| e.to_string())?;
    let mut url = url::Url::parse(base).map_err(|e| e.to_string())?;
    url.set_path(&format!("/{name}"));
    Ok(url.to_string())
}

/// A plain connection (loopback, no TLS) driven on the runtime.
async fn pg_connect(url: &str) -> Result<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    Ok(client)
}

type Result<T> = std::result::Result<T, String>;

/// The install-key server with a real CDN's pause on a miss (a made-up kid answers 404 after
/// 200 ms), counting its requests and the most at once.
fn key_server() -> KeyServer {
    let keys = KeyServer::start();
    *keys.miss_delay.lock().unwrap_or_else(|e| e.into_inner()) = Duration::from_millis(200);
    keys
}

/// A server started for one scenario, on a fresh database; killed when dropped.
struct Server {
    child: Child,
    port: u16,
    db: PathBuf,
    /// The PostgreSQL database in use instead of `db`, if any.
    database_url: Option<String>,
    _dir: tempfile::TempDir,
}

impl Server {
    async fn start(cli: &Cli, keys: &KeyServer, env: &[(&str, &str)]) -> Result<Self> {
        let bin = cli.bin.as_path();
        let database_url = match &cli.postgres {
            Some(base) => Some(fresh_database(base).await?),
            None => None,
        };
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let db = dir.path().join("abuse.sqlite3");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let command = |args: &[&str]| {
            let mut cmd = Command::new(bin);
            cmd.args(args)
                .env_clear()
                .env("APP_ENV", "test")
                .env("SITE_URL", SITE_URL)
                .env("ADDON_KEY", ADDON_KEY)
                .env("HOST", "127.0.0.1")
                .env("PORT", port.to_string())
                .env("DATABASE_PATH", &db)
                .env("CONNECT_KEYS_URL", &keys.url)
                .env("RUST_LOG", "error")
                .envs(database_url.iter().map(|url| ("DATABASE_URL", url)))
                .envs(env.iter().copied())
                .current_dir(dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            cmd
        };
        let migrated = command(&["migrate"]).status().map_err(|e| e.to_string())?;
        if !migrated.success() {
            return Err("migrate failed".into());
        }
        let child = command(&["serve"]).spawn().map_err(|e| e.to_string())?;
        let server = Self {
            child,
            port,
            db,
            database_url,
            _dir: dir,
        };
        let started = Instant::now();
        while get_healthz(port, Ipv4Addr::LOCALHOST).is_none() {
            if started.elapsed() > Duration::from_secs(30) {
                return Err("the server did not start".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(server)
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Resident memory in MB, from /proc.
    fn rss_mb(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET /healthz` from `from`; its latency when it answered 200 within 2 s.
fn get_healthz(port: u16, from: Ipv4Addr) -> Option<Duration> {
    let started = Instant::now();
    let mut stream = connect_from(from, port, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut answer = [0u8; 12];
    stream.read_exact(&mut answer).ok()?;
    (&answer == b"HTTP/1.1 200").then(|| started.elapsed())
}

fn connect_from(from: Ipv4Addr, port: u16, patience: Duration) -> Option<TcpStream> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).ok()?;
    socket.bind(&SocketAddr::from((from, 0)).into()).ok()?;
    let to = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    socket.connect_timeout(&to.into(), patience).ok()?;
    Some(socket.into())
}

/// A signed install token for `POST <path>` (`installed` or `uninstalled`) of `client_key`.
fn install_token(client_key: &str, path: &str) -> Result<String> {
    let claims = install_claims(client_key, SITE_URL, path, "");
    sign_rs256(&claims, &install_keys().private_pem, Some(INSTALL_KID))
}

/// The `installed` body of a site whose base URL nothing listens on.
fn payload(client_key: &str, secret: &str) -> Value {
    install_payload(ADDON_KEY, client_key, secret, "http://127.0.0.1:9/wiki")
}

/// Installs a site with a real signed install; returns its API token (context-qsh).
async fn install(server: &Server, name: &str) -> Result<String> {
    let (client_key, secret) = (format!("client-{name}"), format!("secret-of-{name}"));
    let token = install_token(&client_key, "/confluence/installed")?;
    let status = reqwest::Client::new()
        .post(format!("{}/confluence/installed", server.url()))
        .header("Authorization", format!("JWT {token}"))
        .json(&payload(&client_key, &secret))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .status();
    if status != 204 {
        return Err(format!("install of {name}: {status}"));
    }
    let claims = context_claims(&client_key, "account-1", 3600);
    sign_hmac(&claims, &secret, Algorithm::HS256)
}

fn percentile(samples: &mut [Duration], p: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    samples.sort();
    let at = ((samples.len() as f64 * p).ceil() as usize).clamp(1, samples.len()) - 1;
    samples[at].as_secs_f64() * 1000.0
}

/// Slow `installed` bodies from one address while `/healthz` is probed from another.
async fn slow(cli: &Cli, keys: &KeyServer) -> Result<()> {
    let server = Server::start(cli, keys, &[]).await?;
    install(&server, "slow").await?;
    let rss_before = server.rss_mb();
    let stop = Arc::new(AtomicBool::new(false));
    let attacker = Ipv4Addr::new(127, 0, 0, 2);
    let port = server.port;
    let flood = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let head = b"POST /confluence/installed HTTP/1.1\r\nHost: x\r\n\
                Content-Type: application/json\r\nContent-Length: 65536\r\n\r\n{";
            let mut open: Vec<TcpStream> = Vec::new();
            let mut most = 0;
            while !stop.load(Ordering::SeqCst) {
                // Top up to 4,200 connections, then one byte on each, every 1.5 s.
                while open.len() < 4200 && !stop.load(Ordering::SeqCst) {
                    let Some(mut s) = connect_from(attacker, port, Duration::from_millis(200))
                    else {
                        break;
                    };
                    if s.write_all(head).is_err() {
                        break;
                    }
                    let _ = s.set_nonblocking(true);
                    open.push(s);
                }
                // A connection the server answered or closed is dropped (and replaced next
                // round); the ones left after 1.5 s are those the server is still holding.
                open.retain_mut(|s| {
                    let mut sink = [0u8; 512];
                    let answered = !matches!(s.read(&mut sink), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
                    !answered && s.write(b" ").is_ok_and(|n| n == 1)
                });
                most = most.max(open.len());
                std::thread::sleep(Duration::from_millis(1500));
            }
            most
        })
    };
    let started = Instant::now();
    let (mut answered, mut failed, mut peak) = (Vec::new(), 0, rss_before);
    while started.elapsed() < Duration::from_secs(cli.seconds) {
        let probe = tokio::task::spawn_blocking(move || get_healthz(port, Ipv4Addr::LOCALHOST));
        match probe.await.ok().flatten() {
            Some(latency) => answered.push(latency),
            None => failed += 1,
        }
        peak = peak.max(server.rss_mb());
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    stop.store(true, Ordering::SeqCst);
    let most = flood.join().map_err(|_| "flood thread")?;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let total = answered.len() + failed;
    println!(
        "| slow bodies | 4,200 connections kept up from one address, a byte every 1.5 s; the server held at most {most} of them | /healthz answered {}/{total} (p99 {:.1} ms) | RSS {rss_before:.0} MB → peak {peak:.0} MB → {:.0} MB 5 s after |",
        answered.len(),
        percentile(&mut answered, 0.99),
        server.rss_mb()
    );
    Ok(())
}

/// A token naming `kid` with a signature that is not one: the key is fetched before any
/// signature is checked, so this is all an attacker needs.
fn unsigned_token(kid: &str) -> String {
    use base64::Engine;
    let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": kid});
    let claims = json!({"iss": "client-x", "aud": SITE_URL, "exp": now() + 600});
    format!("{}.{}.c2lnbmF0dXJl", b64(header), b64(claims))
}

/// Installs naming fresh random kids, from 64 clients at once.
async fn key_flood(cli: &Cli, keys: &KeyServer) -> Result<()> {
    let server = Server::start(cli, keys, &[("MAX_CONNECTIONS_PER_IP", "0")]).await?;
    let before = keys.hit_count();
    keys.max_in_flight.store(0, Ordering::SeqCst);
    let sent = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(cli.seconds);
    let http = reqwest::Client::new();
    let clients: Vec<_> = (0..64)
        .map(|c| {
            let (sent, url, http) = (sent.clone(), server.url(), http.clone());
            tokio::spawn(async move {
                let body = payload("client-x", "s");
                let mut i = 0u64;
                while Instant::now() < deadline {
                    let token = unsigned_token(&format!("random-{c}-{i}"));
                    let _ = http
                        .post(format!("{url}/confluence/installed"))
                        .header("Authorization", format!("JWT {token}"))
                        .json(&body)
                        .send()
                        .await;
                    sent.fetch_add(1, Ordering::SeqCst);
                    i += 1;
                }
            })
        })
        .collect();
    for c in clients {
        let _ = c.await;
    }
    let hits = keys.hit_count() - before;
    println!(
        "| key flood | {} installs naming made-up kids in {} s | key server: {hits} requests ({:.1}/s), {} at once at most |",
        sent.load(Ordering::SeqCst),
        cli.seconds,
        hits as f64 / cli.seconds as f64,
        keys.max_in_flight.load(Ordering::SeqCst)
    );
    Ok(())
}

/// 3,000 creates through the API, 8 at a time; file sizes after.
async fn wal(cli: &Cli, keys: &KeyServer) -> Result<()> {
    let server = Server::start(cli, keys, &[]).await?;
    let token = install(&server, "writer").await?;
    let wal = PathBuf::from(format!("{}-wal", server.db.display()));
    let peak = Arc::new(Mutex::new(0u64));
    let http = reqwest::Client::new();
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let (url, token, wal, peak) = (server.url(), token.clone(), wal.clone(), peak.clone());
            let http = http.clone();
            tokio::spawn(async move {
                let mut took = Vec::new();
                for i in 0..375 {
                    let started = Instant::now();
                    let created = http
                        .post(format!("{url}/api/tasks"))
                        .header("Authorization", format!("JWT {token}"))
                        .json(&json!({"title": format!("task {w}-{i}")}))
                        .send()
                        .await
                        .is_ok_and(|r| r.status() == 201);
                    if created {
                        took.push(started.elapsed());
                    }
                    let size = std::fs::metadata(&wal).map_or(0, |m| m.len());
                    let mut peak = peak.lock().unwrap_or_else(|e| e.into_inner());
                    *peak = (*peak).max(size);
                }
                took
            })
        })
        .collect();
    let mut took = Vec::new();
    for w in writers {
        took.extend(w.await.unwrap_or_default());
    }
    let created = took.len();
    let (p50, p99) = (percentile(&mut took, 0.5), percentile(&mut took, 0.99));
    if server.database_url.is_some() {
        println!(
            "| creates (PostgreSQL) | 3,000 tasks created, 8 at a time | {created} created, p50 {p50:.1} ms, p99 {p99:.1} ms | - |"
        );
        return Ok(());
    }
    let mb = |b: u64| b as f64 / (1024.0 * 1024.0);
    let main = std::fs::metadata(&server.db).map_or(0, |m| m.len());
    let now = std::fs::metadata(&wal).map_or(0, |m| m.len());
    println!(
        "| WAL | 3,000 tasks created | WAL peak {:.1} MB, {:.1} MB after; {created} created, p50 {p50:.1} ms, p99 {p99:.1} ms | main file {:.2} MB |",
        mb(*peak.lock().unwrap_or_else(|e| e.into_inner())),
        mb(now),
        mb(main)
    );
    Ok(())
}

/// 22,000 tasks for the noisy site and 50 for the quiet one, straight into the database.
async fn fill(server: &Server) -> Result<()> {
    if let Some(url) = &server.database_url {
        let client = pg_connect(url).await?;
        return client
            .batch_execute(
                "INSERT INTO tasks (site_id, title, created_at, updated_at)
                 SELECT (SELECT id FROM jwt_tokens WHERE client_key = 'client-noisy'),
                        'noisy task number ' || i || ' with a longer title to scan', now(), now()
                 FROM generate_series(1, 22000) AS i;
                 INSERT INTO tasks (site_id, title, created_at, updated_at)
                 SELECT (SELECT id FROM jwt_tokens WHERE client_key = 'client-quiet'),
                        'quiet task ' || i, now(), now()
                 FROM generate_series(1, 50) AS i;
                 ANALYZE tasks;",
            )
            .await
            .map_err(|e| e.to_string());
    }
    let conn = rusqlite::Connection::open(&server.db).map_err(|e| e.to_string())?;
    conn.busy_timeout(Duration::from_secs(10))
        .map_err(|e| e.to_string())?;
    conn.execute_batch(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 22000)
         INSERT INTO tasks (site_id, title, created_at, updated_at)
         SELECT (SELECT id FROM jwt_tokens WHERE client_key = 'client-noisy'),
                'noisy task number ' || i || ' with a longer title to scan', 't', 't' FROM n;
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50)
         INSERT INTO tasks (site_id, title, created_at, updated_at)
         SELECT (SELECT id FROM jwt_tokens WHERE client_key = 'client-quiet'),
                'quiet task ' || i, 't', 't' FROM n;",
    )
    .map_err(|e| e.to_string())
}

/// Another site's list latency, alone and while one site floods searches.
async fn tenants(cli: &Cli, keys: &KeyServer) -> Result<()> {
    let env = [
        ("MAX_TASKS_PER_SITE", "30000"),
        ("MAX_CONNECTIONS_PER_IP", "0"),
    ];
    let server = Server::start(cli, keys, &env).await?;
    let noisy = install(&server, "noisy").await?;
    let quiet = install(&server, "quiet").await?;
    fill(&server).await?;
    let http = reqwest::Client::new();
    let measure = async |label: &str| -> Result<(f64, f64)> {
        let mut samples = Vec::new();
        for _ in 0..500 {
            let started = Instant::now();
            let status = http
                .get(format!("{}/api/tasks", server.url()))
                .header("Authorization", format!("JWT {quiet}"))
                .send()
                .await
                .map_err(|e| e.to_string())?
                .status();
            if status != 200 {
                return Err(format!("{label}: the quiet site got {status}"));
            }
            samples.push(started.elapsed());
        }
        Ok((
            percentile(&mut samples, 0.5),
            percentile(&mut samples, 0.99),
        ))
    };
    let alone = measure("alone").await?;
    let stop = Arc::new(AtomicBool::new(false));
    let statuses = Arc::new(Mutex::new(std::collections::BTreeMap::<u16, usize>::new()));
    let flood: Vec<_> = (0..32)
        .map(|_| {
            let (stop, statuses, url, token) =
                (stop.clone(), statuses.clone(), server.url(), noisy.clone());
            let http = reqwest::Client::new();
            tokio::spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    let status = http
                        .get(format!("{url}/api/tasks?q=no-such-title"))
                        .header("Authorization", format!("JWT {token}"))
                        .send()
                        .await
                        .map_or(0, |r| r.status().as_u16());
                    *statuses
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .entry(status)
                        .or_default() += 1;
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let flooded = measure("flooded").await?;
    stop.store(true, Ordering::SeqCst);
    for f in flood {
        let _ = f.await;
    }
    println!(
        "| tenants | another site's list, alone: p50 {:.1} ms, p99 {:.1} ms | while one site (22,000 tasks) floods q= searches from 32 connections: p50 {:.1} ms, p99 {:.1} ms | flooder's statuses {:?} |",
        alone.0,
        alone.1,
        flooded.0,
        flooded.1,
        statuses.lock().unwrap_or_else(|e| e.into_inner())
    );
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let mut cli = Cli::parse();
    // The server runs in its own folder: a relative path must not change meaning there.
    if let Ok(absolute) = std::path::absolute(&cli.bin) {
        cli.bin = absolute;
    }
    let run = async || -> Result<()> {
        let keys = key_server();
        for scenario in &cli.only {
            match scenario.as_str() {
                "slow" => slow(&cli, &keys).await?,
                "keys" => key_flood(&cli, &keys).await?,
                "wal" => wal(&cli, &keys).await?,
                "tenants" => tenants(&cli, &keys).await?,
                "purge" => purge::purge_order(&cli, &keys).await?,
                "flap" => flap::flap(&cli, &keys).await?,
                other => return Err(format!("unknown scenario {other}")),
            }
        }
        Ok(())
    };
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("abuse_peer: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
