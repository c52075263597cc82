//! The Todo domain through the real server: tenant isolation on every route, the API's
//! statuses for every bad input (with the database unchanged), escaping and security headers.

mod common;

use common::*;
use reqwest::Method;
use serde_json::{Value, json};

async fn two_sites() -> (TestApp, Site, Site) {
    let app = spawn_app().await;
    let (a, b) = (Site::new("alpha"), Site::new("beta"));
    a.install(&app).await;
    b.install(&app).await;
    (app, a, b)
}

async fn create(app: &TestApp, site: &Site, title: &str) -> Value {
    let res = site
        .api(
            app,
            Method::POST,
            "/api/tasks",
            Some(json!({"title": title})),
        )
        .await;
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

#[actix_web::test]
async fn a_created_task_is_listed_shown_and_rendered_in_the_macro() {
    let (app, a, _) = two_sites().await;
    let task = create(&app, &a, "  Write the launch post ").await;
    assert_eq!(task["title"], "Write the launch post");
    assert_eq!(task["done"], false);
    assert_eq!(task["created_by"], "account-1");
    let id = task["id"].as_i64().unwrap();

    let list: Value = a
        .api(&app, Method::GET, "/api/tasks", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["tasks"][0]["id"], id);
    assert_eq!(list["next_before"], Value::Null);

    let page = a.get(&app, &format!("/confluence/get_task?id={id}")).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Write the launch post"), "{html}");
    assert!(html.contains("<aui-badge"), "{html}");
    assert!(html.contains("https://connect-cdn.atl-paas.net/all.js"));
}
