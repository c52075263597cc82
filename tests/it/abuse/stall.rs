//! A stalled PostgreSQL (every server process stopped with SIGSTOP): requests already inside
//! the app, holding or waiting for a pooled connection, are answered 503 with `Retry-After`
//! while the database is still stopped — not held for the whole stall — and after SIGCONT
//! everything works and no acknowledged write is lost. On a cluster of the test's own: the
//! shared one serves every other test at the same time.

use std::time::Instant;

use crate::harness::postgres::{Cluster, own_cluster};
use crate::harness::raw_http::{Response, request};
use crate::harness::*;

/// Continues the cluster when dropped, so a failing test never leaves it stopped.
struct Stopped<'a>(&'a Cluster);

impl<'a> Stopped<'a> {
    fn stop(cluster: &'a Cluster) -> Self {
        cluster.signal_all("STOP");
        Self(cluster)
    }
}

impl Drop for Stopped<'_> {
    fn drop(&mut self) {
        self.0.signal_all("CONT");
    }
}

fn create(port: u16, token: &str, title: &str) -> Response {
    let body = format!(r#"{{"title":"{title}"}}"#);
    request(port, "POST", "/api/tasks", Some(token), &body)
}

#[test]
fn requests_during_a_database_stall_get_503_with_retry_after_before_it_ends() {
    if skip::postgres_only_because("SQLite has no database server to stall") {
        return;
    }
    let cluster = own_cluster();
    let url = cluster.create_database("stall");
    let dir = tempfile::tempdir().unwrap();
    let sys = actix_web::rt::System::new();
    let keys = sys.block_on(async { KeyServer::start() });
    let server = Binary::test(dir.path(), &dir.path().join("stall.sqlite3"))
        .env("DATABASE_URL", &url)
        .env("DATABASE_TIMEOUT", "1")
        .env("CONNECT_KEYS_URL", &keys.url)
        .serve();
    let site = Site::new("stall");
    sys.block_on(site.install_at(&server.address()));
    let token = site.context_token("writer");
    let port = server.port;

    // Acknowledged writes before the stall; the pool now holds idle connections.
    let mut acknowledged = Vec::new();
    for i in 0..5 {
        let created = create(port, &token, &format!("before-{i}"));
        assert_eq!(created.status, 201, "{}", created.text());
        acknowledged.push(created.json()["id"].as_i64().unwrap());
    }

    // One site per request during the stall, so the site's budget turns none of them away.
    let others: Vec<String> = (0..4)
        .map(|i| {
            let other = Site::new(&format!("stall-{i}"));
            sys.block_on(other.install_at(&server.address()));
            other.context_token("writer")
        })
        .collect();

    let stopped = Stopped::stop(&cluster);
    let started = Instant::now();
    let during: Vec<_> = others
        .into_iter()
        .enumerate()
        .map(|(i, token)| {
            std::thread::spawn(move || {
                if i % 2 == 0 {
                    create(port, &token, &format!("during-{i}"))
                } else {
                    request(port, "GET", "/api/tasks", Some(&token), "")
                }
            })
        })
        .collect();
    let answers: Vec<Response> = during.into_iter().map(|t| t.join().unwrap()).collect();
    let held = started.elapsed();
    // Every answer arrived while the database was still stopped: it is continued only now.
    for answer in &answers {
        assert_eq!(answer.status, 503, "{}", answer.text());
        assert!(
            answer.head.to_ascii_lowercase().contains("retry-after: 1"),
            "{}",
            answer.head
        );
    }
    assert_eq!(request(port, "GET", "/readyz", None, "").status, 503);
    // Each stalled connection was closed, not handed back to the pool.
    let log = server.log();
    assert!(log.contains("connection closed"), "{log}");
    eprintln!("requests during the stall were answered 503 after {held:?}");
    drop(stopped);

    // Back to normal: writes succeed, and every acknowledged task is there.
    let after = poll(PATIENCE, || {
        let created = create(port, &token, "after");
        (created.status == 201).then_some(created)
    })
    .expect("writes succeed again after the stall");
    acknowledged.push(after.json()["id"].as_i64().unwrap());
    let listed = request(port, "GET", "/api/tasks?limit=100", Some(&token), "");
    assert_eq!(listed.status, 200, "{}", listed.text());
    let listed = listed.json();
    let ids: Vec<i64> = listed["tasks"]
        .as_array()
        .unwrap_or_else(|| panic!("{listed}"))
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    for id in &acknowledged {
        assert!(ids.contains(id), "acknowledged task {id} lost: {ids:?}");
    }
    assert!(!server.log().contains("panicked"), "{}", server.log());
}
