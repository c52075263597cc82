//! "Publish to Confluence" on the server: `POST /api/publish` (Connect) and
//! `POST /forge/api/publish` (Forge) render the page — title, space, the storage body of the
//! site's open tasks, every title escaped, at most 500 — and call nobody: the page creates it
//! through the host as the user (tests/it/browser.rs, tests/it/forge_ui/). Each test keeps a
//! stand-in Confluence behind the site (and, for Forge, an app system token it would accept)
//! to show that nothing is ever sent to it.

use jsonwebtoken::Algorithm;
use reqwest::Method;
use serde_json::{Value, json};

use super::stand_in::{StandIn, create_task};
use crate::harness::*;

/// An app system token as Atlassian issues them: a JWT with a few hours to live.
pub fn system_token() -> String {
    let claims = json!({"sub": "app", "iat": now(), "exp": now() + 3 * 3600, "jti": now()});
    hs256_with(&claims, "atlassian-side-secret", Algorithm::HS256)
}

/// A Forge call carrying the app system token, as Forge sends it to an endpoint with
/// `appSystemToken` enabled.
async fn forge_call(
    app: &TestApp,
    site: &ForgeSite,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    site.call_with(app, &site.token(), Some(token), method, path, body)
        .await
}

fn storage(page: &Value) -> &str {
    page["body"]["storage"]["value"].as_str().unwrap()
}

/// Asserts `res` is the rendered page: 200, not cached, `{page, tasks}`. Answers both.
async fn rendered(res: reqwest::Response) -> (Value, Value) {
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let answer: Value = res.json().await.unwrap();
    let mut keys: Vec<&String> = answer.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["page", "tasks"], "{answer}");
    (answer["page"].clone(), answer["tasks"].clone())
}

/// The page as Confluence's content API takes it, titled `title`, listing the one open task.
fn assert_is_the_page(page: &Value, title: &str) {
    let mut keys: Vec<&String> = page.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["body", "space", "title", "type"], "{page}");
    assert_eq!(page["type"], "page");
    assert_eq!(page["title"], title);
    assert_eq!(page["space"], json!({"key": "DOCS"}));
    assert_eq!(page["body"]["storage"]["representation"], "storage");
    let storage = storage(page);
    assert!(
        storage.starts_with(
            "<p>Open tasks from the Todo app:</p><ul><li>Ship &lt;v2&gt; &amp; \
             &quot;celebrate&quot; (#"
        ),
        "{storage}"
    );
    assert!(
        !storage.contains("<v2>") && !storage.contains("Already done"),
        "{storage}"
    );
    assert_eq!(storage.matches("<li>").count(), 1, "{storage}");
}

#[actix_web::test]
async fn connect_publish_renders_the_page_and_calls_nobody() {
    let s = StandIn::start("publish");
    let app = s.app().await;
    create_task(&app, &s.site, "Ship <v2> & \"celebrate\"").await;
    let done = create_task(&app, &s.site, "Already done").await;
    let path = format!("/api/tasks/{}", done["id"]);
    let res = s
        .site
        .api(&app, Method::PATCH, &path, Some(json!({"done": true})))
        .await;
    assert_eq!(res.status(), 200);
    // Creating tasks looked their creator's name up (the task API's own call); publishing
    // adds nothing to what Confluence saw.
    let seen = s.host.seen().len();

    let body = json!({"space_key": " DOCS ", "title": "<Our> \"open\" tasks & more"});
    let res = s
        .site
        .api_as(&app, "account-1", Method::POST, "/api/publish", Some(body))
        .await;
    let (page, tasks) = rendered(res).await;
    assert_eq!(tasks, 1);
    // The title is JSON text the host posts as it is; Confluence escapes it where it shows it.
    assert_is_the_page(&page, "<Our> \"open\" tasks & more");
    assert_eq!(s.host.seen().len(), seen, "Confluence was not called");
    assert!(s.seen_at("/wiki/rest/api/content").is_empty());
}

#[actix_web::test]
async fn forge_publish_renders_the_same_page_without_a_system_token_and_calls_nobody() {
    let s = StandIn::start("forge-publish");
    let forge = spawn_forge_app().await;
    let app = &forge.app;
    let token = system_token();
    let site = s.forge_site(&token);
    let tasks = "/forge/api/tasks";
    for title in ["Ship <v2> & \"celebrate\"", "Already done"] {
        let body = Some(json!({"title": title}));
        let res = site.call(app, Method::POST, tasks, body).await;
        assert_eq!(res.status(), 201);
        if title == "Already done" {
            let id = res.json::<Value>().await.unwrap()["id"].clone();
            let path = format!("{tasks}/{id}");
            let res = site
                .call(app, Method::PATCH, &path, Some(json!({"done": true})))
                .await;
            assert_eq!(res.status(), 200);
        }
    }
    // No x-forge-oauth-system: the server needs no token of the app to render the page.
    let body = json!({"space_key": "DOCS", "title": "Our open tasks"});
    let res = site
        .call(app, Method::POST, "/forge/api/publish", Some(body))
        .await;
    let (page, count) = rendered(res).await;
    assert_eq!(count, 1);
    assert_is_the_page(&page, "Our open tasks");
    // With the token Forge may send, the answer is the same and still nothing goes out.
    let body = json!({"space_key": "DOCS", "title": "Our open tasks"});
    let res = forge_call(
        app,
        &site,
        &token,
        Method::POST,
        "/forge/api/publish",
        Some(body),
    )
    .await;
    assert_eq!(rendered(res).await, (page, count));
    assert!(s.host.seen().is_empty(), "Confluence was never called");
}

#[actix_web::test]
async fn a_missing_title_is_dated() {
    let s = StandIn::start("dated");
    let app = s.app().await;
    for title in [None, Some("   ")] {
        let mut body = json!({"space_key": "~557058:abc-1"});
        if let Some(title) = title {
            body["title"] = json!(title);
        }
        let res = s
            .site
            .api(&app, Method::POST, "/api/publish", Some(body))
            .await;
        let (page, tasks) = rendered(res).await;
        assert_eq!(tasks, 0);
        let title = page["title"].as_str().unwrap();
        assert!(title.starts_with("Open tasks (") && title.ends_with(" UTC)"));
        assert_eq!(page["space"]["key"], "~557058:abc-1");
        assert_eq!(storage(&page), "<p>No open tasks.</p>");
    }
    assert!(s.host.seen().is_empty(), "Confluence was never called");
}

/// Bodies the render refuses with 422, on both ways in.
fn bad_bodies() -> [Value; 6] {
    [
        json!({"space_key": "no spaces"}),
        json!({"space_key": ""}),
        json!({"space_key": "A/B"}),
        json!({"space_key": "DOCS", "title": "a\u{0}b"}),
        json!({"space_key": "DOCS", "title": "t".repeat(256)}),
        json!({"space": "DOCS"}),
    ]
}

#[actix_web::test]
async fn a_bad_connect_publish_request_is_refused_with_nothing_changed_or_sent() {
    let s = StandIn::start("badpublish");
    let app = s.app().await;
    create_task(&app, &s.site, "Stays as it is").await;
    let before = dump(&app).await;
    let seen = s.host.seen().len();
    for body in bad_bodies() {
        let res = s
            .site
            .api(&app, Method::POST, "/api/publish", Some(body.clone()))
            .await;
        assert_eq!(res.status(), 422, "{body}");
        let answer: Value = res.json().await.unwrap();
        assert!(answer["error"].is_string(), "{answer}");
    }
    let res = app
        .client
        .post(format!("{}/api/publish", app.address))
        .json(&json!({"space_key": "DOCS"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(dump(&app).await, before, "nothing changed");
    assert_eq!(s.host.seen().len(), seen, "Confluence was not called");
}

#[actix_web::test]
async fn a_bad_forge_publish_request_is_refused_with_nothing_changed_or_sent() {
    let s = StandIn::start("forge-bad");
    let forge = spawn_forge_app().await;
    let app = &forge.app;
    let site = s.forge_site(&system_token());
    let publish = "/forge/api/publish";
    let body = Some(json!({"title": "Stays as it is"}));
    let res = site.call(app, Method::POST, "/forge/api/tasks", body).await;
    assert_eq!(res.status(), 201);
    let before = dump(app).await;
    for bad in bad_bodies() {
        let res = site
            .call(app, Method::POST, publish, Some(bad.clone()))
            .await;
        assert_eq!(res.status(), 422, "{bad}");
    }
    let mut anonymous = site.clone();
    anonymous.principal = None;
    let body = Some(json!({"space_key": "DOCS"}));
    let res = anonymous.call(app, Method::POST, publish, body).await;
    assert_eq!(res.status(), 403, "no signed-in user");
    let answer: Value = res.json().await.unwrap();
    assert_eq!(answer["error"], "Sign in to Confluence to publish.");
    let res = app
        .client
        .post(format!("{}{publish}", app.address))
        .json(&json!({"space_key": "DOCS"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(dump(app).await, before, "nothing changed");
    assert!(s.host.seen().is_empty(), "Confluence was never called");
}

/// Stores `n` done tasks for the site straight into the database, newer than every task it has.
fn fill_done_tasks(app: &TestApp, site: i64, n: i64) {
    let db = db(app);
    db.fill_tasks(site, n, "done-");
    let done = db
        .execute(
            "UPDATE tasks SET done = TRUE WHERE site_id = ?1 AND title LIKE 'done-%'",
            [site],
        )
        .unwrap();
    assert_eq!(done, n as u64);
}

fn site_by(app: &TestApp, column: &str, value: &str) -> i64 {
    db(app)
        .query_row(
            &format!("SELECT id FROM jwt_tokens WHERE {column} = ?1"),
            [value],
            |r| r.get(0),
        )
        .unwrap()
}

/// More done tasks than one listing scan examines, all newer than the open one.
const NEWER_DONE: i64 = 5_100;

#[actix_web::test]
async fn connect_publish_lists_an_open_task_behind_more_done_tasks_than_one_scan() {
    let s = StandIn::start("deep-connect");
    let app = s.app().await;
    let open = create_task(&app, &s.site, "Old but open").await;
    fill_done_tasks(
        &app,
        site_by(&app, "client_key", &s.site.client_key),
        NEWER_DONE,
    );
    let body = Some(json!({"space_key": "DOCS"}));
    let res = s
        .site
        .api_as(&app, "account-1", Method::POST, "/api/publish", body)
        .await;
    let (page, tasks) = rendered(res).await;
    assert_eq!(tasks, 1);
    let storage = storage(&page);
    assert!(
        storage.contains(&format!("Old but open (#{})", open["id"])),
        "{storage}"
    );
    assert!(
        !storage.contains("No open tasks") && !storage.contains("done-"),
        "{storage}"
    );
}

#[actix_web::test]
async fn forge_publish_lists_an_open_task_behind_more_done_tasks_than_one_scan() {
    let s = StandIn::start("deep-forge");
    let forge = spawn_forge_app().await;
    let app = &forge.app;
    let site = s.forge_site(&system_token());
    let body = Some(json!({"title": "Old but open"}));
    let res = site.call(app, Method::POST, "/forge/api/tasks", body).await;
    assert_eq!(res.status(), 201);
    let open: Value = res.json().await.unwrap();
    fill_done_tasks(
        app,
        site_by(app, "installation_id", &site.installation_id),
        NEWER_DONE,
    );
    let body = Some(json!({"space_key": "DOCS"}));
    let res = site
        .call(app, Method::POST, "/forge/api/publish", body)
        .await;
    let (page, tasks) = rendered(res).await;
    assert_eq!(tasks, 1);
    let storage = storage(&page);
    assert!(
        storage.contains(&format!("Old but open (#{})", open["id"])),
        "{storage}"
    );
    assert!(!storage.contains("done-"), "{storage}");
}

#[actix_web::test]
async fn a_page_lists_at_most_500_open_tasks_and_says_so_only_when_there_are_more() {
    let s = StandIn::start("capped");
    let app = s.app().await;
    let site = site_by(&app, "client_key", &s.site.client_key);
    db(&app).fill_tasks(site, 500, "open-");
    let publish = || async {
        let body = Some(json!({"space_key": "DOCS"}));
        let res = s
            .site
            .api_as(&app, "account-1", Method::POST, "/api/publish", body)
            .await;
        let (page, tasks) = rendered(res).await;
        (storage(&page).to_string(), tasks)
    };
    let (all, tasks) = publish().await;
    assert_eq!(tasks, 500);
    db(&app).fill_tasks(site, 1, "newest-");
    let (capped, tasks) = publish().await;
    assert_eq!(tasks, 500);
    let note = "Only the newest 500 open tasks are listed.";
    assert!(!all.contains(note), "exactly 500: all listed");
    assert!(all.contains(">open-0 (#") && all.contains(">open-499 (#"));
    assert!(capped.contains(note), "501: the note");
    assert!(capped.contains(">newest-0 (#") && !capped.contains(">open-0 (#"));
    assert_eq!(capped.matches("<li>").count(), 500);
    assert!(s.host.seen().is_empty(), "Confluence was never called");
}
