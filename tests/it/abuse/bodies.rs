//! Issue 12, failure 1, the body half: a request body could trickle in forever (the 5 s limit
//! covered only the head), and lifecycle bodies were read before any token check. Now a
//! lifecycle call without Atlassian's signature is refused before its body is read, and any
//! body not complete within the body deadline gets a 408 and a closed connection.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::harness::*;

/// The pause between two bytes of a slow body: part of the scenario, and how long each read
/// waits for an answer in between.
const TRICKLE_PAUSE: Duration = Duration::from_millis(500);

/// Sends `head` at once, then `body` one byte per [`TRICKLE_PAUSE`], watching for an answer;
/// returns what the server sent (empty if it said nothing until the body was complete and
/// the connection closed).
fn trickle(port: u16, head: String, body: String) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(TRICKLE_PAUSE)).unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let mut bytes = body.into_bytes().into_iter();
    let mut sent_all = false;
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                if !answer.is_empty() || sent_all {
                    break;
                }
                match bytes.next() {
                    Some(b) if stream.write_all(&[b]).is_ok() => {}
                    Some(_) => break,
                    // Everything sent: wait once more for the answer (hang guard: PATIENCE).
                    None => {
                        sent_all = true;
                        stream.set_read_timeout(Some(PATIENCE)).unwrap();
                    }
                }
            }
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// A request head; `auth` is the whole `Authorization` value (`JWT …`, `Bearer …`).
fn head(method_path: &str, auth: Option<&str>, content_type: &str, length: usize) -> String {
    let auth = auth.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    format!(
        "{method_path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: {content_type}\r\n\
         Content-Length: {length}\r\n\r\n"
    )
}

fn status_line(response: &str) -> &str {
    response.lines().next().unwrap_or("")
}

/// The answer to a body that did not arrive in time: a 408 saying so.
fn assert_timed_out(answer: &str) {
    assert_eq!(
        status_line(answer),
        "HTTP/1.1 408 Request Timeout",
        "{answer}"
    );
    assert!(answer.contains("did not arrive in time"), "{answer}");
}

#[actix_web::test]
async fn a_lifecycle_call_without_a_valid_token_is_refused_before_its_body_is_read() {
    let app = spawn_app().await;
    let site = Site::new("victim");
    site.install(&app).await;
    let before = dump(&app).await;
    // A token signed with a key that is not Atlassian's, for a kid the key server knows.
    let forger = new_rsa_keys().unwrap();
    let claims = site.install_claims("/confluence/installed");
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(INSTALL_KID.to_string());
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(forger.private_pem.as_bytes()).unwrap();
    let forged = jsonwebtoken::encode(&header, &claims, &key).unwrap();
    let port = app.port;
    let answers = actix_web::rt::task::spawn_blocking(move || {
        [None, Some(format!("JWT {forged}"))].map(|auth| {
            // A 60 KB body is announced and never sent.
            let head = head(
                "POST /confluence/installed",
                auth.as_deref(),
                "application/json",
                60_000,
            );
            trickle(port, head, String::new())
        })
    })
    .await
    .unwrap();
    for answer in answers {
        assert_eq!(
            status_line(&answer),
            "HTTP/1.1 401 Unauthorized",
            "{answer}"
        );
    }
    assert_eq!(dump(&app).await, before, "nothing stored changed");
}

#[actix_web::test]
async fn a_body_still_trickling_in_at_the_deadline_gets_a_408_and_changes_nothing() {
    let app = spawn_app().await;
    let site = Site::new("slow");
    site.install(&app).await;
    site.create_task(&app, "first").await;
    let before = dump(&app).await;
    let port = app.port;
    let json = r#"{"title": "a title sent one byte at a time"}"#.to_string();
    let api = head(
        "POST /api/tasks",
        Some(&format!("JWT {}", site.context_token("account-1"))),
        "application/json",
        json.len(),
    );
    // A form body carries its token, so it is read before anything is verified.
    let form = format!("jwt={}&title=x", site.token("POST", "/api/tasks"));
    let form_head = head(
        "POST /api/tasks",
        None,
        "application/x-www-form-urlencoded",
        form.len(),
    );
    // A replayed, valid install token with a slow body.
    let install = Site::rs256(
        &site.install_claims("/confluence/installed"),
        Some(INSTALL_KID),
    );
    let lifecycle = site.payload().to_string();
    let lifecycle_head = head(
        "POST /confluence/installed",
        Some(&format!("JWT {install}")),
        "application/json",
        lifecycle.len(),
    );
    let slow = [(api, json), (form_head, form), (lifecycle_head, lifecycle)]
        .map(|(h, b)| std::thread::spawn(move || trickle(port, h, b)));
    for client in slow {
        let answer = actix_web::rt::task::spawn_blocking(move || client.join().unwrap())
            .await
            .unwrap();
        assert_timed_out(&answer);
    }
    assert_eq!(dump(&app).await, before, "nothing stored changed");
}

#[actix_web::test]
async fn a_forge_call_whose_body_trickles_in_gets_a_408_and_changes_nothing() {
    let forge = spawn_forge_app().await;
    let site = ForgeSite::new();
    let created = site
        .call(
            &forge.app,
            reqwest::Method::POST,
            "/forge/api/tasks",
            Some(serde_json::json!({"title": "first"})),
        )
        .await;
    assert_eq!(created.status(), 201);
    let before = dump(&forge.app).await;
    let json = r#"{"title": "a title sent one byte at a time"}"#.to_string();
    let bearer = format!("Bearer {}", site.token());
    let head = head(
        "POST /forge/api/tasks",
        Some(&bearer),
        "application/json",
        json.len(),
    );
    let port = forge.app.port;
    let answer = actix_web::rt::task::spawn_blocking(move || trickle(port, head, json))
        .await
        .unwrap();
    assert_timed_out(&answer);
    assert_eq!(dump(&forge.app).await, before, "nothing stored changed");
}
