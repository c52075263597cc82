//! The server never calls a site back: what needs the site (creators' display names,
//! publishing a page) the page asks the host for as the viewing user. Each test keeps a
//! stand-in Confluence on loopback behind the site, which records anything sent to it, and a
//! hung one shows a site that does not answer holds nothing up.

pub mod publish;
pub mod stand_in;

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::*;
use stand_in::{StandIn, create_task, hung_host};

// ---------------------------------------------------------------------------------------------
// Display names are the page's (asked by script as the viewing user), never the server's.

#[actix_web::test]
async fn the_api_and_the_macro_carry_the_account_id_and_ask_the_site_for_no_name() {
    let s = StandIn::start("names");
    let app = s.app().await;
    let task = create_task(&app, &s.site, "Name me").await;
    assert_eq!(task["created_by"], "account-1");
    assert_eq!(task.get("created_by_name"), None, "{task}");

    let list: Value = s
        .site
        .api(&app, Method::GET, "/api/tasks", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["tasks"][0]["created_by"], "account-1");
    assert_eq!(list["tasks"][0].get("created_by_name"), None, "{list}");

    let page = s
        .site
        .get(&app, &format!("/confluence/get_task?id={}", task["id"]))
        .await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains(r#"by <span class="person" data-account-id="account-1"></span>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<script src="/js/names-connect.js?v="#),
        "{html}"
    );
    // The host is asked through the one shared script, without the task API.
    assert!(html.contains(r#"<script src="/js/host.js?v="#), "{html}");
    assert!(!html.contains("/js/api.js"), "{html}");

    let seen = s.host.seen();
    assert!(seen.is_empty(), "nothing asked of the site: {seen:?}");
}

#[actix_web::test]
async fn an_account_id_that_is_markup_is_escaped_in_the_macro() {
    let app = spawn_app().await;
    let site = Site::new("markupid");
    site.install(&app).await;
    let account = r#"x"><script>alert(1)</script>"#;
    let res = site
        .api_as(
            &app,
            account,
            Method::POST,
            "/api/tasks",
            Some(json!({"title": "escaped"})),
        )
        .await;
    assert_eq!(res.status(), 201);
    let task: Value = res.json().await.unwrap();
    assert_eq!(task["created_by"], account);
    let html = site
        .get(&app, &format!("/confluence/get_task?id={}", task["id"]))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(r#"data-account-id="x&quot;&gt;&lt;script&gt;alert(1)&lt;&#x2F;script&gt;""#),
        "{html}"
    );
    assert!(!html.contains("<script>alert"), "{html}");
}

#[actix_web::test]
async fn a_hung_host_does_not_hold_the_list_or_the_macro() {
    let mut site = Site::new("hung");
    site.base_url = format!("http://127.0.0.1:{}/wiki", hung_host());
    let app = spawn_app().await;
    site.install(&app).await;
    let task = create_task(&app, &site, "Still here").await;

    let res = site.api(&app, Method::GET, "/api/tasks", None).await;
    assert_eq!(res.status(), 200);
    let list: Value = res.json().await.unwrap();
    assert_eq!(list["tasks"][0]["title"], "Still here");
    assert_eq!(list["tasks"][0]["created_by"], "account-1");

    let page = site
        .get(&app, &format!("/confluence/get_task?id={}", task["id"]))
        .await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Still here"), "{html}");
    assert!(html.contains(r#"data-account-id="account-1""#), "{html}");
}

#[actix_web::test]
async fn the_publish_form_is_on_the_todo_page_and_the_descriptor_asks_for_its_scopes() {
    let app = spawn_app().await;
    let site = Site::new("publishui");
    site.install(&app).await;
    let page = site.get(&app, "/confluence/tasks").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"id="publish-form""#), "{html}");
    assert!(html.contains(r#"<script src="/js/publish.js?v="#), "{html}");
    let script = app
        .client
        .get(format!("{}/js/publish.js", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), 200);
    let descriptor = app.descriptor().await;
    // AP.request creates the page with the app's WRITE scope and the user's permissions.
    assert_eq!(descriptor["scopes"], json!(["READ", "WRITE"]));
}
