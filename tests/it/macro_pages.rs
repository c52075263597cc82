//! The macro's kept pages (`todo::hot`) through the real server, on either backend: after each
//! kind of write the next view shows the new state, a deleted task's macro is the 404 of a
//! task that never was, and another site asking for the same task id never gets the page kept
//! for its owner. (Writes through the other replica: `replicas.rs`; a Jira issue's deletion:
//! `forge/jira_events.rs`.)

use reqwest::Method;
use serde_json::json;

use crate::harness::*;

/// The macro of task `id` as `site` views it: status and HTML.
async fn view(app: &TestApp, site: &Site, id: i64) -> (u16, String) {
    let page = site
        .get(app, &format!("/confluence/get_task?id={id}"))
        .await;
    (page.status().as_u16(), page.text().await.unwrap())
}

async fn patch(app: &TestApp, site: &Site, id: i64, change: serde_json::Value) {
    let path = format!("/api/tasks/{id}");
    let res = site.api(app, Method::PATCH, &path, Some(change)).await;
    assert_eq!(res.status(), 200);
}

#[actix_web::test]
async fn after_each_write_the_next_macro_view_shows_the_new_state() {
    let app = spawn_app().await;
    let site = Site::new("alpha");
    site.install(&app).await;
    let id = site.create_task(&app, "First title").await["id"]
        .as_i64()
        .unwrap();
    let (status, first) = view(&app, &site, id).await;
    assert_eq!(status, 200);
    assert!(
        first.contains("First title") && first.contains("state open"),
        "{first}"
    );
    assert_eq!(
        view(&app, &site, id).await,
        (200, first),
        "the same page again"
    );

    patch(&app, &site, id, json!({"title": "Second title"})).await;
    let (_, renamed) = view(&app, &site, id).await;
    assert!(renamed.contains("Second title"), "{renamed}");
    assert!(!renamed.contains("First title"), "{renamed}");

    patch(&app, &site, id, json!({"done": true})).await;
    let (_, done) = view(&app, &site, id).await;
    assert!(done.contains("state done"), "{done}");
    patch(&app, &site, id, json!({"done": false})).await;
    let (_, reopened) = view(&app, &site, id).await;
    assert!(reopened.contains("state open"), "{reopened}");

    let path = format!("/api/tasks/{id}");
    let res = site.api(&app, Method::DELETE, &path, None).await;
    assert_eq!(res.status(), 204);
    let (status, gone) = view(&app, &site, id).await;
    assert_eq!(status, 404, "{gone}");
    assert!(!gone.contains("Second title"), "{gone}");
    assert_eq!(
        (status, gone),
        view(&app, &site, id + 1_000).await,
        "a deleted task's macro is a task that never was"
    );
}

#[actix_web::test]
async fn another_site_never_gets_the_page_kept_for_the_same_task_id() {
    let app = spawn_app().await;
    let (a, b) = (Site::new("alpha"), Site::new("beta"));
    a.install(&app).await;
    b.install(&app).await;
    let id = a.create_task(&app, "alpha's plan").await["id"]
        .as_i64()
        .unwrap();
    for _ in 0..2 {
        let (status, page) = view(&app, &a, id).await;
        assert_eq!(status, 200);
        assert!(page.contains("alpha's plan") || page.contains("alpha&#x27;s plan"));
        let (status, page) = view(&app, &b, id).await;
        assert_eq!(status, 404);
        assert!(!page.contains("plan"), "{page}");
    }
}
