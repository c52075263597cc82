//! No Forge Invocation Token and no app system token reaches the log, at debug level, through
//! the real binary: accepted calls, refused ones, events, and a failing display-name lookup.

use jsonwebtoken::Algorithm;
use serde_json::json;

use crate::harness::raw_http::exchange;
use crate::harness::*;

/// A raw HTTP/1.1 request with the Forge headers.
fn request(
    method: &str,
    path: &str,
    fit: &str,
    system: Option<&str>,
    body: Option<&str>,
) -> String {
    let system = system
        .map(|t| format!("x-forge-oauth-system: {t}\r\n"))
        .unwrap_or_default();
    let body = body.unwrap_or("");
    format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {fit}\r\n{system}\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn no_forge_token_or_system_token_reaches_the_log_at_debug_level() {
    let dir = tempfile::tempdir().unwrap();
    let jwks = JwksServer::start();
    let mut binary =
        Binary::test(dir.path(), &dir.path().join("log.sqlite3")).env("RUST_LOG", "debug");
    for (key, value) in forge_env(&jwks) {
        binary = binary.env(key, value);
    }
    let server = binary.serve();

    let site = ForgeSite::new();
    let fit = site.token();
    let system = hs256_with(
        &json!({"sub": "app", "exp": now() + 3600}),
        "atlassian-side-secret",
        Algorithm::HS256,
    );
    let expired = {
        let mut claims = site.claims();
        claims["exp"] = json!(now() - 600);
        sign_fit(&claims, forge_key(), Some(FORGE_KID))
    };
    let unknown_kid = sign_fit(&site.claims(), rotated_key(), Some("unpublished"));
    let event = site.installed_event().to_string();
    let create = r#"{"title":"logged?"}"#;
    let calls = [
        (
            request("POST", "/forge/events", &fit, Some(&system), Some(&event)),
            "HTTP/1.1 200",
        ),
        (
            request(
                "POST",
                "/forge/api/tasks",
                &fit,
                Some(&system),
                Some(create),
            ),
            "HTTP/1.1 201",
        ),
        (
            request(
                "GET",
                "/forge/api/tasks?q=private",
                &fit,
                Some(&system),
                None,
            ),
            "HTTP/1.1 200",
        ),
        (
            request("GET", "/forge/api/tasks", &expired, Some(&system), None),
            "HTTP/1.1 401",
        ),
        (
            request("GET", "/forge/api/tasks", &unknown_kid, None, None),
            "HTTP/1.1 401",
        ),
    ];
    for (raw, status) in &calls {
        let response = exchange(server.port, raw.as_bytes());
        assert!(response.starts_with(status), "{response}");
    }
    wait_until("the access lines and a refusal reason in the log", || {
        let log = server.log();
        log.contains("POST /forge/events 200")
            && log.contains("POST /forge/api/tasks 201")
            && log.matches("GET /forge/api/tasks 401").count() == 2
            && log.contains("refused GET /forge/api/tasks")
    });
    let log = server.log();
    let secrets = [&fit, &expired, &unknown_kid, &system];
    for token in secrets {
        for (i, part) in token.split('.').enumerate().skip(1) {
            assert!(!log.contains(part), "log leaks part {i} of a token:\n{log}");
        }
    }
    assert!(!log.contains("Bearer"), "{log}");
    assert!(!log.contains("q=private"), "{log}");
}
