//! "Publish to Confluence" through Forge (`POST /forge/api/publish`, as the app with its system
//! token against the site's `apiBaseUrl`) and through Connect, against the stand-in Confluence:
//! the same page, the same answers, and on both every open task however many newer done tasks
//! sit in front of it.

use jsonwebtoken::Algorithm;
use reqwest::Method;
use serde_json::{Value, json};

use super::stand_in::{Caller, StandIn, create_task};
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

/// The storage body of the one page the stand-in was asked to create.
fn published_body(s: &StandIn) -> (Value, Caller) {
    let pages = s.seen_at("/wiki/rest/api/content");
    assert_eq!(pages.len(), 1, "one page created");
    let page: Value = serde_json::from_str(&pages[0].body).unwrap();
    (page, pages[0].caller.clone())
}

fn storage(page: &Value) -> &str {
    page["body"]["storage"]["value"].as_str().unwrap()
}

#[actix_web::test]
async fn publishing_through_forge_creates_the_page_as_the_app_with_its_system_token() {
    let s = StandIn::start("forge-publish", &[]);
    let forge = spawn_forge_app().await;
    let app = &forge.app;
    let token = system_token();
    let site = s.forge_site(&token);
    let tasks = "/forge/api/tasks";
    for title in ["Ship <v2> & \"celebrate\"", "Already done"] {
        let res = forge_call(
            app,
            &site,
            &token,
            Method::POST,
            tasks,
            Some(json!({"title": title})),
        )
        .await;
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
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    assert_eq!(created["id"], "4242");
    assert_eq!(created["title"], "Our open tasks");
    assert_eq!(created["tasks"], 1);
    // The page's address is the site's (the answer's `_links.base`), not the API gateway's.
    assert_eq!(
        created["url"],
        format!("{}/spaces/DOCS/pages/4242", s.site.base_url)
    );

    let (page, caller) = published_body(&s);
    assert_eq!(
        caller,
        Caller::System { token },
        "as the app, with its system token"
    );
    assert_eq!(page["type"], "page");
    assert_eq!(page["title"], "Our open tasks");
    assert_eq!(page["space"]["key"], "DOCS");
    assert_eq!(page["body"]["storage"]["representation"], "storage");
    let storage = storage(&page);
    assert!(
        storage.contains("Ship &lt;v2&gt; &amp; &quot;celebrate&quot;"),
        "{storage}"
    );
    assert!(
        !storage.contains("<v2>") && !storage.contains("Already done"),
        "{storage}"
    );
    assert_eq!(
        s.host.exchanges.load(std::sync::atomic::Ordering::SeqCst),
        0
    );
    s.host.assert_all_verified();
}

#[actix_web::test]
async fn forge_publish_without_a_system_token_or_with_a_bad_request_sends_nothing() {
    let s = StandIn::start("forge-no-token", &[]);
    let forge = spawn_forge_app().await;
    let app = &forge.app;
    let token = system_token();
    let site = s.forge_site(&token);
    let publish = "/forge/api/publish";
    let res = site
        .call(
            app,
            Method::POST,
            publish,
            Some(json!({"space_key": "DOCS"})),
        )
        .await;
    assert_eq!(res.status(), 503, "no system token in memory");
    let body: Value = res.json().await.unwrap();
    let message = body["error"].as_str().unwrap();
    assert!(message.contains("system token"), "{body}");
    for bad in [
        json!({"space_key": "no spaces"}),
        json!({"space_key": "DOCS", "title": "a\u{0}b"}),
        json!({"space": "DOCS"}),
    ] {
        let res = forge_call(app, &site, &token, Method::POST, publish, Some(bad.clone())).await;
        assert_eq!(res.status(), 422, "{bad}");
    }
    let mut anonymous = site.clone();
    anonymous.principal = None;
    let res = forge_call(
        app,
        &anonymous,
        &token,
        Method::POST,
        publish,
        Some(json!({"space_key": "DOCS"})),
    )
    .await;
    assert_eq!(res.status(), 403, "no signed-in user");
    let res = app
        .client
        .post(format!("{}{publish}", app.address))
        .json(&json!({"space_key": "DOCS"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(s.host.seen().is_empty(), "Confluence was never called");
    s.host.assert_all_verified();
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
    let s = StandIn::start("deep-connect", &[]);
    let app = s.app().await;
    let open = create_task(&app, &s.site, "Old but open").await;
    fill_done_tasks(
        &app,
        site_by(&app, "client_key", &s.site.client_key),
        NEWER_DONE,
    );
    let res = s
        .site
        .api_as(
            &app,
            "account-1",
            Method::POST,
            "/api/publish",
            Some(json!({"space_key": "DOCS"})),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.json::<Value>().await.unwrap()["tasks"], 1);
    let (page, _) = published_body(&s);
    let storage = storage(&page);
    assert!(
        storage.contains(&format!("Old but open (#{})", open["id"])),
        "{storage}"
    );
    assert!(
        !storage.contains("No open tasks") && !storage.contains("done-"),
        "{storage}"
    );
    s.host.assert_all_verified();
}

#[actix_web::test]
async fn forge_publish_lists_an_open_task_behind_more_done_tasks_than_one_scan() {
    let s = StandIn::start("deep-forge", &[]);
    let forge = spawn_forge_app().await;
    let app = &forge.app;
    let token = system_token();
    let site = s.forge_site(&token);
    let body = Some(json!({"title": "Old but open"}));
    let res = forge_call(app, &site, &token, Method::POST, "/forge/api/tasks", body).await;
    assert_eq!(res.status(), 201);
    let open: Value = res.json().await.unwrap();
    fill_done_tasks(
        app,
        site_by(app, "installation_id", &site.installation_id),
        NEWER_DONE,
    );
    let body = Some(json!({"space_key": "DOCS"}));
    let res = forge_call(app, &site, &token, Method::POST, "/forge/api/publish", body).await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.json::<Value>().await.unwrap()["tasks"], 1);
    let (page, _) = published_body(&s);
    let storage = storage(&page);
    assert!(
        storage.contains(&format!("Old but open (#{})", open["id"])),
        "{storage}"
    );
    assert!(!storage.contains("done-"), "{storage}");
    s.host.assert_all_verified();
}

#[actix_web::test]
async fn a_page_lists_at_most_500_open_tasks_and_says_so_only_when_there_are_more() {
    let s = StandIn::start("capped", &[]);
    let app = s.app().await;
    let site = site_by(&app, "client_key", &s.site.client_key);
    db(&app).fill_tasks(site, 500, "open-");
    let publish = || async {
        let body = Some(json!({"space_key": "DOCS"}));
        let res = s
            .site
            .api_as(&app, "account-1", Method::POST, "/api/publish", body)
            .await;
        assert_eq!(res.status(), 201);
        res.json::<Value>().await.unwrap()["tasks"].clone()
    };
    assert_eq!(publish().await, 500);
    db(&app).fill_tasks(site, 1, "newest-");
    assert_eq!(publish().await, 500);
    let pages = s.seen_at("/wiki/rest/api/content");
    let bodies: Vec<String> = pages
        .iter()
        .map(|p| {
            let page: Value = serde_json::from_str(&p.body).unwrap();
            storage(&page).to_string()
        })
        .collect();
    let note = "Only the newest 500 open tasks are listed.";
    assert!(!bodies[0].contains(note), "exactly 500: all listed");
    assert!(bodies[0].contains(">open-0 (#") && bodies[0].contains(">open-499 (#"));
    assert!(bodies[1].contains(note), "501: the note");
    assert!(bodies[1].contains(">newest-0 (#") && !bodies[1].contains(">open-0 (#"));
    assert_eq!(bodies[1].matches("<li>").count(), 500);
    s.host.assert_all_verified();
}
