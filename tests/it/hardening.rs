//! Evidence for the hardening claims: acknowledged writes survive SIGKILL, lifecycle events in
//! any order end consistently, concurrent writers lose nothing, and size/time/connection limits
//! hold while the server stays healthy.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::raw_http::exchange;
use crate::harness::*;

fn dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

// ---- crash durability -------------------------------------------------------------------

/// Acknowledged creates the writers reach before the server is killed.
const ACKNOWLEDGED_BEFORE_KILL: usize = 200;

/// Tasks acknowledged with a 201: (id, title).
pub type Acknowledged = Arc<Mutex<Vec<(i64, String)>>>;

/// Eight writers creating tasks over fresh connections until the server goes away; every
/// 201 is recorded.
pub fn start_writers(
    port: u16,
    token: &str,
    acknowledged: &Acknowledged,
) -> Vec<std::thread::JoinHandle<()>> {
    let mut writers = Vec::new();
    for w in 0..8 {
        let (acknowledged, token) = (acknowledged.clone(), token.to_string());
        writers.push(std::thread::spawn(move || {
            for i in 0..400 {
                let title = format!("w{w}-t{i}");
                let body = format!(r#"{{"title":"{title}"}}"#);
                let request = format!(
                    "POST /api/tasks HTTP/1.1\r\nHost: x\r\nAuthorization: JWT {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else { return };
                stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                if stream.write_all(request.as_bytes()).is_err() {
                    return;
                }
                let mut response = String::new();
                if stream.read_to_string(&mut response).is_err() || !response.starts_with("HTTP/1.1 201") {
                    return;
                }
                let json = &response[response.find("\r\n\r\n").unwrap() + 4..];
                let task: Value = serde_json::from_str(json).unwrap();
                acknowledged.lock().unwrap().push((task["id"].as_i64().unwrap(), title));
            }
        }));
    }
    writers
}

/// Every acknowledged task is stored, with its title, and (SQLite) the file is intact.
pub fn assert_every_acknowledged_task_is_stored(
    db: &std::path::Path,
    acknowledged: &[(i64, String)],
) {
    let conn = TestDb::at(db);
    let stored: std::collections::HashMap<i64, String> = conn
        .rows("SELECT id, title FROM tasks", ())
        .unwrap()
        .iter()
        .map(|r| (r.get(0).unwrap(), r.get(1).unwrap()))
        .collect();
    for (id, title) in acknowledged {
        let found = stored.get(id);
        assert_eq!(found, Some(title), "acknowledged task {id} lost");
    }
    if !on_postgres() {
        let integrity: String = conn
            .query_row("PRAGMA integrity_check", (), |r| r.get(0))
            .unwrap();
        assert_eq!(integrity, "ok");
    }
}

#[test]
fn every_acknowledged_task_survives_sigkill() {
    let dir = dir();
    let db = dir.path().join("crash.sqlite3");
    let sys = actix_web::rt::System::new();
    let keys = sys.block_on(async { KeyServer::start() });
    // A warn-level log (no access line per write) does not print the port: choose it.
    let binary = Binary::test(dir.path(), &db)
        .env("CONNECT_KEYS_URL", &keys.url)
        .env("RUST_LOG", "warn");
    let mut server = binary.clone().on_free_port().serve();
    let site = Site::new("crash");
    sys.block_on(site.install_at(&server.address()));

    let acknowledged = Acknowledged::default();
    let token = site.context_token("writer");
    let writers = start_writers(server.port, &token, &acknowledged);
    // Let the writers get going, then kill the process without warning.
    poll(PATIENCE, || {
        (acknowledged.lock().unwrap().len() >= ACKNOWLEDGED_BEFORE_KILL).then_some(())
    });
    server.signal("KILL");
    server.wait();
    for w in writers {
        w.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= ACKNOWLEDGED_BEFORE_KILL,
        "only {} writes acknowledged",
        acknowledged.len()
    );

    // Restart on the same file: every acknowledged task is there and readable through the API.
    let server = binary.on_free_port().serve();
    assert_every_acknowledged_task_is_stored(&db, &acknowledged);
    let (id, title) = acknowledged.last().unwrap();
    let response = exchange(
        server.port,
        format!(
            "GET /api/tasks/{id} HTTP/1.1\r\nHost: x\r\nAuthorization: JWT {token}\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    );
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains(title.as_str()));
    drop(keys);
}

// ---- lifecycle races --------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq)]
enum Event {
    Installed,
    Enabled,
    Disabled,
    Uninstalled,
}

/// The state a sequence of events must end in: (installed, enabled). Enable/disable are
/// signed with the site's secret, so after an uninstall they are refused and change nothing.
fn model(events: &[Event]) -> (bool, bool) {
    let mut state = (false, false);
    for e in events {
        state = match (e, state.0) {
            (Event::Installed, _) => (true, true),
            (Event::Uninstalled, _) => (false, false),
            (Event::Enabled, true) => (true, true),
            (Event::Disabled, true) => (true, false),
            (_, false) => state,
        };
    }
    state
}

async fn fire(app: &TestApp, site: &Site, event: Event) -> u16 {
    match event {
        Event::Installed => site.post_lifecycle(app, "installed", &site.payload()).await,
        Event::Uninstalled => {
            site.post_lifecycle(app, "uninstalled", &site.payload())
                .await
        }
        Event::Enabled | Event::Disabled => {
            let name = if event == Event::Enabled {
                "enabled"
            } else {
                "disabled"
            };
            let path = format!("/confluence/{name}");
            app.client
                .post(format!("{}{path}", app.address))
                .header(
                    "Authorization",
                    format!("JWT {}", site.token("POST", &path)),
                )
                .json(&site.payload())
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    }
}

/// What the database says and what a request experiences must agree.
async fn observed(app: &TestApp, site: &Site) -> (bool, bool) {
    let (installed, enabled): (bool, bool) = db(app)
        .query_row(
            "SELECT installed, enabled FROM jwt_tokens WHERE client_key = ?1",
            [&site.client_key],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap_or((false, false));
    let status = site
        .api(app, Method::GET, "/api/tasks", None)
        .await
        .status()
        .as_u16();
    let expected = if installed && enabled { 200 } else { 401 };
    assert_eq!(
        status, expected,
        "cache and database disagree: installed={installed} enabled={enabled}"
    );
    (installed, enabled)
}

fn permutations(items: &[Event]) -> Vec<Vec<Event>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut out = Vec::new();
    for i in 0..items.len() {
        let mut rest = items.to_vec();
        let first = rest.remove(i);
        for mut p in permutations(&rest) {
            p.insert(0, first);
            out.push(p);
        }
    }
    out
}

#[actix_web::test]
async fn lifecycle_events_in_every_order_end_in_the_state_of_the_last_valid_event() {
    let app = spawn_app().await;
    let all = [
        Event::Installed,
        Event::Enabled,
        Event::Disabled,
        Event::Uninstalled,
    ];
    let orders = permutations(&all);
    assert_eq!(orders.len(), 24);
    for (n, order) in orders.iter().enumerate() {
        let site = Site::new(&format!("order{n}"));
        for event in order {
            let status = fire(&app, &site, *event).await;
            assert!(
                status == 204 || status == 401,
                "{order:?}: {event:?} gave {status}"
            );
        }
        assert_eq!(observed(&app, &site).await, model(order), "order {order:?}");
    }
}

#[actix_web::test]
async fn concurrent_lifecycle_storms_leave_database_and_cache_consistent() {
    let app = spawn_app().await;
    let site = Site::new("storm");
    site.install(&app).await;
    for round in 0..15 {
        let events = [
            Event::Disabled,
            Event::Enabled,
            Event::Installed,
            Event::Disabled,
            Event::Enabled,
        ];
        let statuses =
            futures_util::future::join_all(events.iter().map(|e| fire(&app, &site, *e))).await;
        for s in &statuses {
            assert!(*s == 204 || *s == 401, "round {round}: {statuses:?}");
        }
        // Whatever the interleaving, every request afterwards sees what the database holds.
        for _ in 0..3 {
            observed(&app, &site).await;
        }
        // A final, ordered event always wins.
        assert_eq!(fire(&app, &site, Event::Enabled).await, 204);
        assert_eq!(observed(&app, &site).await, (true, true));
    }
    // An uninstall racing with enable/disable always ends uninstalled.
    let storm = [
        Event::Enabled,
        Event::Uninstalled,
        Event::Disabled,
        Event::Enabled,
    ];
    futures_util::future::join_all(storm.iter().map(|e| fire(&app, &site, *e))).await;
    assert_eq!(observed(&app, &site).await, (false, false));
    assert_eq!(stored_secret(&app, &site.client_key), None);
}

// ---- concurrent writers -----------------------------------------------------------------

#[actix_web::test]
async fn concurrent_writers_on_one_site_get_no_5xx_and_lose_nothing() {
    let app = spawn_app().await;
    let site = Site::new("busy");
    site.install(&app).await;
    let creates = (0..120).map(|i| {
        site.api(
            &app,
            Method::POST,
            "/api/tasks",
            Some(json!({"title": format!("c{i}")})),
        )
    });
    let responses = futures_util::future::join_all(creates).await;
    let mut ids = Vec::new();
    for r in responses {
        assert_eq!(r.status(), 201);
        ids.push(r.json::<Value>().await.unwrap()["id"].as_i64().unwrap());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 120, "ids are unique");
    let count: i64 = db(&app)
        .query_row("SELECT count(*) FROM tasks", (), |r| r.get(0))
        .unwrap();
    assert_eq!(count, 120);

    // Concurrent patches of different fields of one task: both changes survive.
    let id = ids[0];
    let path = format!("/api/tasks/{id}");
    let patches = (0..40).map(|i| {
        let body = if i % 2 == 0 {
            json!({"title": format!("renamed {i}")})
        } else {
            json!({"done": true})
        };
        site.api(&app, Method::PATCH, &path, Some(body))
    });
    for r in futures_util::future::join_all(patches).await {
        assert_eq!(r.status(), 200);
    }
    let (title, done): (String, bool) = db(&app)
        .query_row("SELECT title, done FROM tasks WHERE id = ?1", [id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert!(title.starts_with("renamed "), "{title}");
    assert!(done, "the done flag was not lost to a concurrent rename");
}

// ---- limits -----------------------------------------------------------------------------

async fn healthy(app: &TestApp) {
    let res = app
        .client
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

/// What the size limits must leave alone: installations and tasks (recording who called, and
/// that the site was used, is allowed).
fn data(app: &TestApp) -> String {
    db(app)
        .dump_except(USE_COLUMNS)
        .lines()
        .filter(|l| !l.starts_with("jwt_users:"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// An app with one installed site.
async fn limits_fixture() -> (TestApp, Site) {
    let app = spawn_app().await;
    let site = Site::new("limits");
    site.install(&app).await;
    (app, site)
}

/// The first 200 characters of a response, for failure messages.
fn start(response: &str) -> &str {
    &response[..response.len().min(200)]
}

#[actix_web::test]
async fn oversized_lifecycle_and_api_bodies_get_a_413_and_change_nothing() {
    let (app, site) = limits_fixture().await;
    let before = data(&app);
    // A lifecycle body over 64 KiB.
    let mut payload = site.payload();
    payload["description"] = json!("x".repeat(70 * 1024));
    assert_eq!(site.post_lifecycle(&app, "installed", &payload).await, 413);
    // An API body over 16 KiB, with and without Content-Length.
    let res = site
        .api(
            &app,
            Method::POST,
            "/api/tasks",
            Some(json!({"title": "y".repeat(20 * 1024)})),
        )
        .await;
    assert_eq!(res.status(), 413);
    let token = site.context_token("a");
    let chunked = format!(
        "POST /api/tasks HTTP/1.1\r\nHost: x\r\nAuthorization: JWT {token}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n4000\r\n{}\r\n4000\r\n{}\r\n0\r\n\r\n",
        "z".repeat(0x4000),
        "z".repeat(0x4000)
    );
    let response = exchange(app.port, chunked.as_bytes());
    assert!(response.starts_with("HTTP/1.1 413"), "{}", start(&response));
    assert_eq!(data(&app), before, "nothing was written");
    healthy(&app).await;
}

#[actix_web::test]
async fn oversized_headers_get_a_431_and_change_nothing() {
    let (app, _) = limits_fixture().await;
    let before = data(&app);
    // Headers over the cap.
    let big_header = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "h".repeat(64 * 1024)
    );
    let response = exchange(app.port, big_header.as_bytes());
    assert!(response.starts_with("HTTP/1.1 431"), "{}", start(&response));
    // Past actix's own 128 KiB head buffer the connection is refused outright.
    let huge_header = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "h".repeat(256 * 1024)
    );
    let response = exchange(app.port, huge_header.as_bytes());
    assert!(
        response.starts_with("HTTP/1.1 431") || response.is_empty(),
        "{}",
        start(&response)
    );
    assert_eq!(data(&app), before, "nothing was written");
    healthy(&app).await;
}

#[actix_web::test]
async fn overlong_urls_get_a_414_or_a_400_and_change_nothing() {
    let (app, _) = limits_fixture().await;
    let before = data(&app);
    // A URL over our 8 KiB cap, and one over what the HTTP parser takes at all.
    for (size, expected) in [(10 * 1024, "HTTP/1.1 414"), (70 * 1024, "HTTP/1.1 400")] {
        let long_url = format!(
            "GET /confluence/get_task?id=1&pad={} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            "u".repeat(size)
        );
        let response = exchange(app.port, long_url.as_bytes());
        assert!(
            response.starts_with(expected),
            "{size}: {}",
            start(&response)
        );
    }
    assert_eq!(data(&app), before, "nothing was written");
    healthy(&app).await;
}

/// The pause between two bytes of the slow client: part of the scenario (a slowloris), not
/// synchronisation. It is also how long each read waits for an answer.
const SLOW_CLIENT_PAUSE: Duration = Duration::from_millis(900);

#[actix_web::test]
async fn a_client_sending_one_byte_a_second_is_cut_off() {
    let app = spawn_app().await;
    let port = app.port;
    let outcome = std::thread::spawn(move || {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.set_read_timeout(Some(SLOW_CLIENT_PAUSE)).unwrap();
        for byte in b"GET /healthz HTTP/1.1\r\nHost: slow.example\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
            if stream.write_all(&[*byte]).is_err() {
                return true;
            }
            let mut buf = [0u8; 256];
            match stream.read(&mut buf) {
                Ok(0) => return true,
                Ok(n) => {
                    let text = String::from_utf8_lossy(&buf[..n]).to_string();
                    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
                    return true;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => return true,
            }
        }
        false
    });
    let cut = actix_web::rt::task::spawn_blocking(move || outcome.join().unwrap())
        .await
        .unwrap();
    assert!(cut, "the slow client was never cut off");
    healthy(&app).await;
}

#[actix_web::test]
async fn idle_connections_beyond_the_cap_do_not_take_the_server_down() {
    let app = spawn_app_with(vec![("MAX_CONNECTIONS", "4".to_string())]).await;
    // Far more idle connections than the cap (2 workers × 4); they never send a request.
    let idle: Vec<TcpStream> = (0..20)
        .filter_map(|_| TcpStream::connect(("127.0.0.1", app.port)).ok())
        .collect();
    assert!(idle.len() >= 8);
    // The request timeout closes the idle ones; the server then answers again.
    let recovered = poll_async(Duration::from_secs(40), async || {
        let attempt = tokio::time::timeout(
            Duration::from_secs(2),
            app.client.get(format!("{}/healthz", app.address)).send(),
        )
        .await;
        attempt.ok()?.ok().map(|res| res.status())
    })
    .await;
    let status = recovered.expect("server did not recover from a connection flood");
    assert_eq!(status, 200);
    drop(idle);
    healthy(&app).await;
}
