//! The outbound rules against a canned HTTP server on loopback (a thread answering by path):
//! redirects and refusals are errors naming the endpoint but not the query or the token,
//! oversized answers are abandoned, a host that never answers times out, and a URL off the
//! base URL is refused before anything is sent; and how the metrics classify each such answer.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Method;
use reqwest::header::AUTHORIZATION;

use super::{HostError, SiteApi};
use crate::util::http::{exchange, outcome};
use crate::util::telemetry::{Outbound, Outcome};
use crate::util::url::BaseUrl;

/// Starts the canned server; returns its base URL (`…/wiki`) and the request lines it read.
fn canned() -> (BaseUrl, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let seen = lines.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            let head = String::from_utf8_lossy(&head).into_owned();
            let line = head.lines().next().unwrap_or("").to_string();
            seen.lock().unwrap().push(line.clone());
            let path = line.split(' ').nth(1).unwrap_or("");
            let answer = match path.split('?').next().unwrap_or("") {
                "/wiki/ok" => "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}".to_string(),
                "/wiki/redirect" => {
                    "HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:9/\r\ncontent-length: 0\r\n\r\n"
                        .to_string()
                }
                "/wiki/big" => format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {n}\r\n\r\n{}",
                    "x".repeat(2 * 1024 * 1024),
                    n = 2 * 1024 * 1024
                ),
                "/wiki/hang" => {
                    held.push(stream);
                    continue;
                }
                "/wiki/stall-body" => {
                    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n{");
                    held.push(stream);
                    continue;
                }
                _ => "HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n".to_string(),
            };
            // Each connection answers once: said so, a client never reuses one already closed.
            let answer = answer.replacen("\r\n", "\r\nconnection: close\r\n", 1);
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    let base = BaseUrl::parse(&format!("http://127.0.0.1:{port}/wiki"), false).unwrap();
    (base, lines)
}

async fn call(api: &SiteApi, target: &str) -> Result<super::HostResponse, HostError> {
    let (url, endpoint) = api.resolve(&Method::GET, target)?;
    let request = api
        .request(Method::GET, url, None)
        .header(AUTHORIZATION, "Bearer eyJ-the-token");
    api.send(request, endpoint).await
}

#[actix_web::test]
async fn answers_are_bounded_and_errors_name_the_endpoint_but_no_query_or_token() {
    let (base, lines) = canned();
    let site = base.to_string();
    let api = SiteApi::new(
        crate::util::http::client().unwrap(),
        base,
        Duration::from_secs(5),
        Outbound::Jira,
    );

    assert_eq!(call(&api, "/ok?x=1").await.unwrap().as_u16(), 200);

    let err = call(&api, "/redirect").await.unwrap_err();
    assert!(
        matches!(err, HostError::Redirect { status: 302, .. }),
        "{err}"
    );
    let err = call(&api, "/big").await.unwrap_err();
    assert!(matches!(err, HostError::TooLarge { .. }), "{err}");

    let err = call(&api, "/forbidden?secret=q").await.unwrap_err();
    assert_eq!(err.status(), Some(403));
    let message = err.to_string();
    assert!(message.contains(&site), "{message}");
    assert!(message.contains("GET /wiki/forbidden"), "{message}");
    assert!(!message.contains("secret=q"), "{message}");
    assert!(!format!("{message}{err:?}").contains("eyJ"), "{err:?}");

    let err = call(&api, "http://127.0.0.1:9/wiki/ok").await.unwrap_err();
    assert!(matches!(err, HostError::ForeignUrl { .. }), "{err}");
    // Four requests reached the server; the redirect was not followed, the foreign URL not sent.
    assert_eq!(
        lines.lock().unwrap().len(),
        4,
        "{:?}",
        lines.lock().unwrap()
    );
}

#[actix_web::test]
async fn a_host_that_never_answers_times_out() {
    let (base, _) = canned();
    let api = SiteApi::new(
        crate::util::http::client().unwrap(),
        base,
        Duration::from_millis(300),
        Outbound::Jira,
    );
    let err = call(&api, "/hang?q=1").await.unwrap_err();
    assert!(matches!(err, HostError::Timeout { .. }), "{err}");
    assert!(err.to_string().contains("GET /wiki/hang"), "{err}");
}

#[actix_web::test]
async fn each_answer_gets_one_outcome_for_the_metrics() {
    let (base, _) = canned();
    let http = crate::util::http::client().unwrap();
    let classify = |target: &str, bound: Duration| {
        let url = base.resolve(target).unwrap();
        let request = http.get(url).timeout(bound);
        async move { outcome(&exchange(Outbound::Jira, request, 1024 * 1024, bound).await) }
    };
    let long = Duration::from_secs(5);
    let short = Duration::from_millis(300);
    assert_eq!(classify("/ok", long).await, Outcome::Ok);
    assert_eq!(classify("/forbidden", long).await, Outcome::Refused);
    assert_eq!(classify("/redirect", long).await, Outcome::Refused);
    assert_eq!(classify("/big", long).await, Outcome::Error);
    // No head in time (the client's timeout), or a head but no whole body (the body's deadline).
    assert_eq!(classify("/hang", short).await, Outcome::Timeout);
    let stalled = base.resolve("/stall-body").unwrap();
    let body_only = exchange(Outbound::Jira, http.get(stalled), 1024, short).await;
    assert_eq!(outcome(&body_only), Outcome::Timeout);
    // Nothing listens on port 9: no answer at all.
    let refused = http.get("http://127.0.0.1:9/");
    let nothing = exchange(Outbound::Jira, refused, 1024, long).await;
    assert_eq!(outcome(&nothing), Outcome::Error);
}
