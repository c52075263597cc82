//! Jira's deletion events through `POST /forge/events` on either backend: an issue's deletion
//! takes its tasks, a project's the tasks of all its issues, only on the token's site; both
//! repeat harmlessly; a body naming another installation or an unsigned call is a 401 and
//! deletes nothing; the real binary logs what each deletion took (and no token).

use reqwest::Method;
use serde_json::{Value, json};

use super::jira::{issue_create, jira_claims};
use super::{forge_create, forge_ids};
use crate::harness::raw_http::exchange;
use crate::harness::*;

/// A Jira trigger's call: a Jira token without a user or an issue.
async fn post_jira_event(app: &TestApp, site: &ForgeSite, body: Value) -> reqwest::Response {
    let mut claims = jira_claims(site, None);
    claims.as_object_mut().unwrap().remove("principal");
    let token = sign_fit(&claims, forge_key(), Some(FORGE_KID));
    site.call_with(app, &token, None, Method::POST, "/forge/events", Some(body))
        .await
}

fn titles(app: &TestApp) -> Vec<String> {
    db(app)
        .rows("SELECT title FROM tasks ORDER BY id", ())
        .unwrap()
        .iter()
        .map(|r| r.get(0).unwrap())
        .collect()
}

fn issue_deleted(id: &str) -> Value {
    json!({"eventType": "avi:jira:deleted:issue", "timestamp": "2026-12-03T08:00:00Z",
           "atlassianId": "admin-1", "issue": {"id": id, "key": "P-1", "fields": {"summary": "s"}}})
}

#[actix_web::test]
async fn a_deleted_issue_takes_its_tasks_on_its_site_only_and_a_repeat_does_nothing() {
    let forge = spawn_forge_app().await;
    let app = &forge.app;
    let (site, other) = (ForgeSite::new(), ForgeSite::new());
    issue_create(app, &site, ("10001", "P-1", "100"), "a1").await;
    issue_create(app, &site, ("10001", "P-1", "100"), "a2").await;
    issue_create(app, &site, ("10002", "P-2", "100"), "a3").await;
    issue_create(app, &other, ("10001", "P-1", "100"), "b1").await;
    forge_create(app, &site, "page task").await;

    let res = post_jira_event(app, &site, issue_deleted("10001")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"status": "deleted"})
    );
    assert_eq!(titles(app), ["a3", "b1", "page task"]);
    // Forge retries and may deliver late: the same event again (under `payload`) deletes nothing.
    let again = json!({"payload": issue_deleted("10001")});
    assert_eq!(post_jira_event(app, &site, again).await.status(), 200);
    assert_eq!(titles(app), ["a3", "b1", "page task"]);
    assert_eq!(forge_ids(app, &other).await.len(), 1);
}

#[actix_web::test]
async fn a_deleted_issue_takes_its_tasks_out_of_the_connect_macro_too() {
    let forge = spawn_forge_app().await;
    let app = &forge.app;
    let (connect, fsite) = (Site::new("macro-of-an-issue"), ForgeSite::new());
    connect.install(app).await;
    assert_eq!(connect.adopt_forge(app, &fsite).await, 204);
    let task = issue_create(app, &fsite, ("10001", "P-1", "100"), "on the issue").await;
    let path = format!("/confluence/get_task?id={}", task["id"]);
    for _ in 0..2 {
        let page = connect.get(app, &path).await;
        assert_eq!(page.status(), 200);
        assert!(page.text().await.unwrap().contains("on the issue"));
    }
    let res = post_jira_event(app, &fsite, issue_deleted("10001")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(connect.get(app, &path).await.status(), 404);
}

#[actix_web::test]
async fn a_deleted_project_takes_the_tasks_of_every_issue_of_it() {
    let forge = spawn_forge_app().await;
    let app = &forge.app;
    let (site, other) = (ForgeSite::new(), ForgeSite::new());
    issue_create(app, &site, ("1", "P-1", "100"), "p1").await;
    issue_create(app, &site, ("2", "P-2", "100"), "p2").await;
    issue_create(app, &site, ("3", "Q-1", "200"), "q1").await;
    issue_create(app, &other, ("1", "P-1", "100"), "other site").await;
    let body = json!({"eventType": "avi:jira:deleted:project", "project": {"id": 100, "key": "P"}});
    for _ in 0..2 {
        let res = post_jira_event(app, &site, body.clone()).await;
        assert_eq!(res.status(), 200);
        assert_eq!(titles(app), ["q1", "other site"]);
    }
}

#[actix_web::test]
async fn a_deletion_for_another_installation_or_unsigned_is_401_and_deletes_nothing() {
    let forge = spawn_forge_app().await;
    let app = &forge.app;
    let (site, other) = (ForgeSite::new(), ForgeSite::new());
    issue_create(app, &site, ("10001", "P-1", "100"), "mine").await;
    let mut foreign = issue_deleted("10001");
    foreign["id"] = json!(other.installation_id);
    let res = post_jira_event(app, &site, foreign).await;
    assert_eq!(res.status(), 401);
    let mut claims = jira_claims(&site, None);
    claims.as_object_mut().unwrap().remove("principal");
    let unsigned = sign_fit(&claims, rotated_key(), Some("unknown-kid"));
    let res = site
        .call_with(
            app,
            &unsigned,
            None,
            Method::POST,
            "/forge/events",
            Some(issue_deleted("10001")),
        )
        .await;
    assert_eq!(res.status(), 401);
    // The other installation's own token reaches its own site, where the issue has no tasks.
    assert_eq!(
        post_jira_event(app, &other, issue_deleted("10001"))
            .await
            .status(),
        200
    );
    let res = post_jira_event(app, &site, json!({"eventType": "avi:jira:deleted:issue"})).await;
    assert_eq!(res.status(), 400);
    assert_eq!(titles(app), ["mine"]);
}

/// A raw request to the real binary with a Forge token and a JSON body.
fn raw(method: &str, path: &str, fit: &str, body: &str) -> String {
    format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {fit}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn the_real_binary_deletes_an_issues_and_a_projects_tasks_and_logs_the_counts() {
    let dir = tempfile::tempdir().unwrap();
    let jwks = JwksServer::start();
    let mut binary = Binary::test(dir.path(), &dir.path().join("jira.sqlite3"));
    for (key, value) in forge_env(&jwks) {
        binary = binary.env(key, value);
    }
    let server = binary.serve();
    let site = ForgeSite::new();
    let panel = |issue| {
        sign_fit(
            &jira_claims(&site, Some(issue)),
            forge_key(),
            Some(FORGE_KID),
        )
    };
    for (issue, title) in [
        (("10001", "P-1", "100"), "one"),
        (("10001", "P-1", "100"), "two"),
        (("10002", "P-2", "100"), "three"),
    ] {
        let body = json!({"title": title}).to_string();
        let response = exchange(
            server.port,
            raw("POST", "/forge/api/issue/tasks", &panel(issue), &body).as_bytes(),
        );
        assert!(response.starts_with("HTTP/1.1 201"), "{response}");
    }
    let mut trigger = jira_claims(&site, None);
    trigger.as_object_mut().unwrap().remove("principal");
    let fit = sign_fit(&trigger, forge_key(), Some(FORGE_KID));
    let issue = issue_deleted("10001").to_string();
    let project = json!({"eventType": "avi:jira:deleted:project", "project": {"id": "100"}});
    for body in [&issue, &issue, &project.to_string()] {
        let response = exchange(
            server.port,
            raw("POST", "/forge/events", &fit, body).as_bytes(),
        );
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    }
    wait_until("the deletions and their counts in the log", || {
        let log = server.log();
        log.contains("Jira issue 10001 of site 1 deleted: 2 tasks deleted")
            && log.contains("Jira issue 10001 of site 1 deleted: 0 tasks deleted")
            && log.contains("Jira project 100 of site 1 deleted: 1 tasks deleted")
    });
    let log = server.log();
    assert!(
        !log.contains(fit.split('.').nth(1).unwrap()),
        "no token in the log:\n{log}"
    );
}
