//! Issue progress written to a stand-in Jira on either backend: after the issue's tasks change,
//! the server PUTs `{open, total}` to `{jiraApiBaseUrl}/rest/api/3/issue/{id}/properties/
//! todo-progress` as the app (the Jira system token a Jira call carried), in the background; a
//! failing Jira is retried. Nothing else is asked of Jira: creators' names are the panel's to
//! fill in, as the viewing user.

use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use jsonwebtoken::Algorithm;
use reqwest::Method;
use serde_json::{Value, json};

use super::jira::{jira_call, jira_claims};
use crate::harness::*;

/// What the stand-in Jira saw and answered: method, path, Authorization, JSON body, status.
type Entry = (String, String, String, Value, u16);
type Seen = Arc<Mutex<Vec<Entry>>>;

/// A stand-in Jira behind Forge's gateway: answers 204 to requests bearing `token`, 401 to
/// others; the first `failures` requests get a 503.
fn stand_in_jira(token: String, failures: usize) -> (u16, Seen) {
    let seen: Seen = Arc::default();
    let failed = Arc::new(AtomicUsize::new(0));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let record = seen.clone();
    let server = HttpServer::new(move || {
        let (record, token, failed) = (record.clone(), token.clone(), failed.clone());
        App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
            let (record, token, failed) = (record.clone(), token.clone(), failed.clone());
            async move {
                let auth = req
                    .headers()
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let (method, path) = (req.method().to_string(), req.path().to_string());
                let put = method == "PUT";
                let status = if put && failed.fetch_add(1, Ordering::SeqCst) < failures {
                    503
                } else if auth != format!("Bearer {token}") {
                    401
                } else if put {
                    204
                } else {
                    200
                };
                record
                    .lock()
                    .unwrap()
                    .push((method, path.clone(), auth, json, status));
                HttpResponse::build(StatusCode::from_u16(status).unwrap()).finish()
            }
        }))
    })
    .workers(1)
    .listen(listener)
    .unwrap();
    actix_web::rt::spawn(server.run());
    (port, seen)
}

fn system_token(sub: &str) -> String {
    let claims = json!({"sub": sub, "iat": now(), "exp": now() + 3 * 3600});
    hs256_with(&claims, "atlassian-side-secret", Algorithm::HS256)
}

/// Waits (polling, bounded) until the stand-in has accepted a PUT whose body is `want`; answers
/// the PUTs so far.
async fn wait_for_put(seen: &Seen, want: &Value) -> Vec<Entry> {
    for _ in 0..300 {
        let mut now = seen.lock().unwrap().clone();
        now.retain(|(m, _, _, _, _)| m == "PUT");
        if now
            .last()
            .is_some_and(|(m, _, _, b, s)| m == "PUT" && b == want && *s == 204)
        {
            return now;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!(
        "no PUT of {want} reached the stand-in: {:?}",
        seen.lock().unwrap()
    );
}

/// The issue every test here works on.
const ISSUE: (&str, &str, &str) = ("10001", "TODO-7", "10000");
const ISSUE_TASKS: &str = "/forge/api/issue/tasks";

/// A Forge site whose product APIs are the stand-in listening on `port`.
fn site_behind(port: u16) -> ForgeSite {
    let mut site = ForgeSite::new();
    site.api_base_url = format!("http://127.0.0.1:{port}/ex/confluence/{}", site.cloud_id);
    site
}

/// Creates a task titled `title` on [`ISSUE`], the call carrying the Jira system token.
async fn create_on_issue(
    app: &TestApp,
    site: &ForgeSite,
    claims: &Value,
    jira_token: &str,
    title: &str,
) -> reqwest::Response {
    let body = Some(json!({ "title": title }));
    jira_call(
        app,
        site,
        claims,
        Some(jira_token),
        Method::POST,
        ISSUE_TASKS,
        body,
    )
    .await
}

#[actix_web::test]
async fn after_changes_the_issue_property_holds_the_open_and_total_counts() {
    let forge = spawn_forge_app().await;
    let app = &forge.app;
    let jira_token = system_token("jira-app");
    let (port, seen) = stand_in_jira(jira_token.clone(), 0);
    let site = site_behind(port);
    let claims = jira_claims(&site, Some(ISSUE));
    let mut ids = Vec::new();
    for title in ["one", "two", "three"] {
        let res = create_on_issue(app, &site, &claims, &jira_token, title).await;
        assert_eq!(res.status(), 201);
        ids.push(res.json::<Value>().await.unwrap()["id"].as_i64().unwrap());
    }
    let all = wait_for_put(&seen, &json!({"open": 3, "total": 3})).await;
    let (_, put_path, auth, _, _) = all.last().unwrap().clone();
    assert_eq!(
        put_path,
        format!(
            "/ex/jira/{}/rest/api/3/issue/10001/properties/todo-progress",
            site.cloud_id
        )
    );
    assert_eq!(auth, format!("Bearer {jira_token}"));
    assert!(
        all.len() <= 3,
        "coalesced, never more writes than changes: {all:?}"
    );

    // A toggle and a delete through the task API move the counts too.
    let toggle = format!("/forge/api/tasks/{}", ids[0]);
    let res = jira_call(
        app,
        &site,
        &claims,
        None,
        Method::PATCH,
        &toggle,
        Some(json!({"done": true})),
    )
    .await;
    assert_eq!(res.status(), 200);
    wait_for_put(&seen, &json!({"open": 2, "total": 3})).await;
    let delete = format!("/forge/api/tasks/{}", ids[1]);
    let res = jira_call(app, &site, &claims, None, Method::DELETE, &delete, None).await;
    assert_eq!(res.status(), 204);
    let all = wait_for_put(&seen, &json!({"open": 1, "total": 2})).await;
    assert!(
        all.iter()
            .all(|(m, p, _, _, _)| m == "PUT" && p.contains("/ex/jira/")),
        "property writes on Jira's API: {all:?}"
    );
}

#[actix_web::test]
async fn a_jira_caller_gets_the_account_id_and_jira_is_asked_only_for_the_property() {
    let forge = spawn_forge_app().await;
    let app = &forge.app;
    let jira_token = system_token("jira-app");
    let (port, seen) = stand_in_jira(jira_token.clone(), 0);
    let site = site_behind(port);
    let claims = jira_claims(&site, Some(ISSUE));
    let res = create_on_issue(app, &site, &claims, &jira_token, "named").await;
    assert_eq!(res.status(), 201);
    let task: Value = res.json().await.unwrap();
    assert_eq!(task["created_by"], "forge-account-1");
    assert_eq!(task.get("created_by_name"), None, "{task}");
    let res = jira_call(app, &site, &claims, None, Method::GET, ISSUE_TASKS, None).await;
    assert_eq!(res.status(), 200);
    let list: Value = res.json().await.unwrap();
    assert_eq!(list["tasks"][0]["created_by"], "forge-account-1");
    assert_eq!(list["tasks"][0].get("created_by_name"), None, "{list}");

    wait_for_put(&seen, &json!({"open": 1, "total": 1})).await;
    let asked = seen.lock().unwrap().clone();
    assert!(
        asked
            .iter()
            .all(|(m, p, _, _, _)| m == "PUT" && p.ends_with("/todo-progress")),
        "only property writes: {asked:?}"
    );
}

#[actix_web::test]
async fn a_failing_jira_is_retried_until_the_write_lands() {
    let forge = spawn_forge_app().await;
    let app = &forge.app;
    let jira_token = system_token("jira-app");
    let (port, seen) = stand_in_jira(jira_token.clone(), 2);
    let site = site_behind(port);
    let claims = jira_claims(&site, Some(ISSUE));
    let res = create_on_issue(app, &site, &claims, &jira_token, "retried").await;
    assert_eq!(res.status(), 201, "the response did not wait for Jira");
    let all = wait_for_put(&seen, &json!({"open": 1, "total": 1})).await;
    assert_eq!(all.len(), 3, "two 503s, then the write: {all:?}");
    assert_eq!(all.iter().map(|e| e.4).collect::<Vec<_>>(), [503, 503, 204]);
}

/// A stand-in Jira that counts the requests arriving and answers none until `release` is set.
fn held_jira() -> (u16, Arc<AtomicUsize>, Arc<std::sync::atomic::AtomicBool>) {
    let arrived = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (count, gate) = (arrived.clone(), release.clone());
    let server = HttpServer::new(move || {
        let (count, gate) = (count.clone(), gate.clone());
        App::new().default_service(web::to(move || {
            let (count, gate) = (count.clone(), gate.clone());
            async move {
                count.fetch_add(1, Ordering::SeqCst);
                // A hang guard, not a timing assertion: the test releases it.
                for _ in 0..600 {
                    if gate.load(Ordering::SeqCst) {
                        break;
                    }
                    actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                HttpResponse::NoContent().finish()
            }
        }))
    })
    .workers(1)
    .listen(listener)
    .unwrap();
    actix_web::rt::spawn(server.run());
    (port, arrived, release)
}

#[actix_web::test]
async fn a_jira_that_does_not_answer_never_holds_up_a_response() {
    let forge = spawn_forge_app().await;
    let app = &forge.app;
    let jira_token = system_token("jira-app");
    let (port, arrived, release) = held_jira();
    let mut site = site_behind(port);
    // No display-name lookups in the way: the caller has no principal.
    site.principal = None;
    let claims = jira_claims(&site, Some(ISSUE));
    let res = create_on_issue(app, &site, &claims, &jira_token, "held").await;
    assert_eq!(res.status(), 201);
    let id = res.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    for _ in 0..300 {
        if arrived.load(Ordering::SeqCst) > 0 {
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        arrived.load(Ordering::SeqCst),
        1,
        "the property write is under way"
    );
    // While Jira holds that write, changes to the issue are answered at once.
    let path = format!("/forge/api/tasks/{id}");
    let res = jira_call(
        app,
        &site,
        &claims,
        None,
        Method::PATCH,
        &path,
        Some(json!({"done": true})),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        arrived.load(Ordering::SeqCst),
        1,
        "one writer per issue: the change waits for it"
    );
    release.store(true, Ordering::SeqCst);
}
