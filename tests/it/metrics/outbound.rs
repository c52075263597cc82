//! Outbound calls in the metrics (install keys, Forge key sets, Jira), against the real binary
//! and local servers that answer, refuse or stall: after each step the counters by kind and
//! outcome, and the latency histogram's count, moved by exactly the calls the server saw, and
//! no other outbound series moved. A call the app does not make (a cached key, a remembered
//! miss, a refetch inside its cooldown) counts nothing.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;

use super::{Deployment, Sample, parser_python};
use crate::forge::jira::jira_claims;
use crate::harness::raw_http::{Response, connect, read_response};
use crate::harness::*;

const CALLS: &str = "outbound_requests_total";
const TIMED: &str = "outbound_request_duration_seconds_count";

/// The outbound series (calls by kind and outcome, timed calls by kind) that moved between two
/// scrapes, and by how much.
fn moved(before: &[Sample], after: &[Sample]) -> BTreeMap<String, f64> {
    let of = |samples: &[Sample]| -> BTreeMap<String, f64> {
        samples
            .iter()
            .filter(|s| s.name == CALLS || s.name == TIMED)
            .map(|s| (format!("{}{:?}", s.name, s.labels), s.value))
            .collect()
    };
    let (before, after) = (of(before), of(after));
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>(),
        "the outbound series are the same in every scrape"
    );
    after
        .into_iter()
        .map(|(series, value)| (value - before[&series], series))
        .filter(|(delta, _)| *delta != 0.0)
        .map(|(delta, series)| (series, delta))
        .collect()
}

/// What [`moved`] shows after `calls` calls for `kind` ending with `outcome`.
fn calls(kind: &str, outcome: &str, calls: usize) -> BTreeMap<String, f64> {
    let labels = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let calls = calls as f64;
    BTreeMap::from([
        (
            format!(
                "{CALLS}{:?}",
                labels(&[("kind", kind), ("outcome", outcome)])
            ),
            calls,
        ),
        (format!("{TIMED}{:?}", labels(&[("kind", kind)])), calls),
    ])
}

/// Scrapes `deployment` until the outbound series moved from `before` as `want` says (a call
/// is counted once its answer is read, just after the server wrote it; the counter and the
/// histogram are two updates), and asserts they did; the last scrape.
fn assert_moved(
    deployment: &Deployment,
    python: &Path,
    before: &[Sample],
    want: BTreeMap<String, f64>,
) -> Vec<Sample> {
    let mut last = Vec::new();
    testkit::wait::poll(testkit::wait::PATIENCE, || {
        last = deployment.scrape(python);
        (moved(before, &last) == want).then_some(())
    });
    assert_eq!(moved(before, &last), want);
    last
}

/// Posts `installed` for `site` signed under `kid`; the status.
fn install_with_kid(deployment: &Deployment, site: &Site, kid: &str) -> u16 {
    let address = deployment.server.address();
    let client = reqwest::Client::new();
    let body = site.payload();
    deployment
        .sys
        .block_on(site.post_lifecycle_signed(&client, &address, "installed", &body, kid))
}

#[test]
fn install_key_calls_count_by_outcome_exactly_as_the_key_server_saw_them() {
    let Some(python) = parser_python() else {
        return;
    };
    let deployment = Deployment::start(&[]);
    let keys = &deployment._keys;
    let served = || keys.hit_count();

    // Two installs: the key is fetched once, then served from the cache.
    let (start, before) = (served(), deployment.scrape(&python));
    for name in ["outbound-a", "outbound-b"] {
        assert_eq!(
            install_with_kid(&deployment, &Site::new(name), INSTALL_KID),
            204
        );
    }
    assert_eq!(served() - start, 1);
    let after = assert_moved(&deployment, &python, &before, calls("install_key", "ok", 1));

    // Two unpublished kids answer 404; asking again for one is answered from memory.
    let (start, before) = (served(), after);
    let site = Site::new("outbound-c");
    for kid in [
        "outbound-missing-1",
        "outbound-missing-2",
        "outbound-missing-1",
    ] {
        assert_eq!(install_with_kid(&deployment, &site, kid), 401);
    }
    assert_eq!(served() - start, 2);
    let after = assert_moved(
        &deployment,
        &python,
        &before,
        calls("install_key", "refused", 2),
    );

    // A key server that does not answer within the 5 s bound.
    let (start, before) = (served(), after);
    *keys.delay.lock().unwrap() = Duration::from_secs(7);
    let status = install_with_kid(&deployment, &site, "outbound-stalled");
    *keys.delay.lock().unwrap() = Duration::ZERO;
    assert_eq!(status, 401);
    assert_eq!(served() - start, 1);
    assert_moved(
        &deployment,
        &python,
        &before,
        calls("install_key", "timeout", 1),
    );
}

/// One request to the Forge routes with `fit` (and the app system token, when given).
fn forge_call(
    deployment: &Deployment,
    method: &str,
    path: &str,
    fit: &str,
    system: Option<&str>,
    body: &str,
) -> Response {
    let mut stream = connect(deployment.port());
    let system = system
        .map(|t| format!("x-forge-oauth-system: {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {fit}\r\n{system}\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    read_response(&mut stream)
}

/// The binary with Connect and Forge on, Forge trusting `jwks`.
fn with_forge(jwks: &JwksServer) -> Deployment {
    let env = forge_env(jwks);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Deployment::start(&env)
}

#[test]
fn forge_key_set_calls_count_by_outcome_exactly_as_the_key_server_saw_them() {
    let Some(python) = parser_python() else {
        return;
    };
    let jwks = JwksServer::start();
    let deployment = with_forge(&jwks);
    let site = ForgeSite::new();

    // The first call fetches the set; the next is verified from it.
    let before = deployment.scrape(&python);
    let event = site.installed_event().to_string();
    let res = forge_call(
        &deployment,
        "POST",
        "/forge/events",
        &site.token(),
        None,
        &event,
    );
    assert_eq!(res.status, 200, "{}", res.text());
    let res = forge_call(
        &deployment,
        "GET",
        "/forge/api/tasks",
        &site.token(),
        None,
        "",
    );
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(jwks.hits(), 1);
    let after = assert_moved(&deployment, &python, &before, calls("forge_keys", "ok", 1));

    // Down (503): a token under an unknown kid refetches once and is refused; a second one
    // inside the refetch cooldown asks nothing. Tokens under the known kid still pass.
    let before = after;
    jwks.set_down(true);
    let rotated = sign_fit(&site.claims(), rotated_key(), Some("outbound-rotated"));
    for _ in 0..2 {
        let res = forge_call(&deployment, "GET", "/forge/api/tasks", &rotated, None, "");
        assert_eq!(res.status, 401, "{}", res.text());
    }
    let res = forge_call(
        &deployment,
        "GET",
        "/forge/api/tasks",
        &site.token(),
        None,
        "",
    );
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(jwks.hits(), 2);
    assert_moved(
        &deployment,
        &python,
        &before,
        calls("forge_keys", "refused", 1),
    );
}

/// A stand-in Jira answering every request with `status`, counting them.
fn stand_in_jira(status: u16) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(AtomicUsize::new(0));
    let counting = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let head = testkit::net::read_head(&mut stream);
            let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; length];
            let _ = stream.read_exact(&mut body);
            // Counted before the write: once the app has the answer, the count includes it.
            counting.fetch_add(1, Ordering::SeqCst);
            let answer =
                format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    (port, seen)
}

#[test]
fn jira_calls_count_by_outcome_exactly_as_jira_saw_them() {
    let Some(python) = parser_python() else {
        return;
    };
    let jwks = JwksServer::start();
    let deployment = with_forge(&jwks);
    let system = hs256_with(
        &json!({"sub": "jira-app", "iat": now(), "exp": now() + 3600}),
        "atlassian-side-secret",
        jsonwebtoken::Algorithm::HS256,
    );
    // The key set is fetched by a first call, before anything here is measured.
    let warm = ForgeSite::new();
    let event = warm.installed_event().to_string();
    let res = forge_call(
        &deployment,
        "POST",
        "/forge/events",
        &warm.token(),
        None,
        &event,
    );
    assert_eq!(res.status, 200, "{}", res.text());
    // A task created on an issue writes the progress to Jira, in the background: once
    // to a Jira that accepts it, once to one that refuses it (403, not retried).
    for (status, outcome) in [(204, "ok"), (403, "refused")] {
        let (port, seen) = stand_in_jira(status);
        let mut site = ForgeSite::new();
        site.api_base_url = format!("http://127.0.0.1:{port}/ex/confluence/{}", site.cloud_id);
        let claims = jira_claims(&site, Some(("10001", "TODO-7", "10000")));
        let fit = sign_fit(&claims, forge_key(), Some(FORGE_KID));
        let before = deployment.scrape(&python);
        let body = json!({"title": "outbound"}).to_string();
        let path = "/forge/api/issue/tasks";
        let res = forge_call(&deployment, "POST", path, &fit, Some(&system), &body);
        assert_eq!(res.status, 201, "{}", res.text());
        wait_until("the progress write to reach Jira", || {
            seen.load(Ordering::SeqCst) == 1
        });
        assert_moved(&deployment, &python, &before, calls("jira", outcome, 1));
        assert_eq!(seen.load(Ordering::SeqCst), 1);
    }
    assert_eq!(jwks.hits(), 1);
}
