//! Calling Confluence back as the app, against a stand-in Confluence on loopback that verifies
//! every request itself: the app's JWT (HS256 with the site's secret, `iss`, `exp`, and a qsh
//! recomputed here, independently of the app's code). Nothing is called as a user (publishing
//! is done by the page, `publish`).

pub mod publish;
pub mod stand_in;

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::api::HostError;
use crate::harness::*;
use stand_in::{Caller, StandIn, create_task, expected_qsh, hung_host, installation};

#[test]
fn the_stand_in_recomputes_the_qsh_of_every_published_vector() {
    let text = std::fs::read_to_string(QSH_VECTORS).unwrap();
    let file: Value = serde_json::from_str(&text).unwrap();
    for v in file["vectors"].as_array().unwrap() {
        let base = reqwest::Url::parse(v["base_url"].as_str().unwrap()).unwrap();
        let uri = v["request_uri"].as_str().unwrap();
        let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
        let base_path = base.path().trim_end_matches('/');
        let method = v["method"].as_str().unwrap();
        assert_eq!(
            expected_qsh(method, path, query, base_path),
            v["qsh"].as_str().unwrap(),
            "{}",
            v["name"]
        );
    }
}

// ---------------------------------------------------------------------------------------------
// As the app.

#[actix_web::test]
async fn signed_gets_with_query_strings_and_posts_with_bodies_verify() {
    let s = StandIn::start("signed", &[]);
    let app = s.app().await;
    let clients = s.clients();
    let host = clients.for_site(installation(&app, &s.site));

    for target in [
        "/echo?limit=10&expand=body.storage,version",
        "/echo?b=2&a=1&a=0&title=two+words%20here&colon=%3A&amp=%26&empty",
        "/echo/?x=%E2%9C%93",
        "/echo",
    ] {
        let res = host.as_app(Method::GET, target, None).await.unwrap();
        assert_eq!(res.status, 200, "{target}");
    }
    let absolute = format!("{}/echo?q=absolute", s.site.base_url);
    host.as_app(Method::GET, &absolute, None).await.unwrap();

    let body = json!({"title": "Ünïcödé & <markup>", "n": 1});
    let res = host
        .as_app(Method::POST, "/echo?draft=true", Some(&body))
        .await
        .unwrap();
    let echoed: Value = res.json().unwrap();
    assert_eq!(echoed["method"], "POST");
    assert_eq!(
        serde_json::from_str::<Value>(echoed["body"].as_str().unwrap()).unwrap(),
        body
    );
    host.as_app(Method::PUT, "/echo", Some(&body))
        .await
        .unwrap();
    host.as_app(Method::DELETE, "/echo?id=7", None)
        .await
        .unwrap();

    s.host.assert_all_verified();
    let seen = s.host.seen();
    assert_eq!(seen.len(), 8);
    let methods: Vec<&str> = seen.iter().map(|r| r.method.as_str()).collect();
    assert_eq!(
        methods,
        ["GET", "GET", "GET", "GET", "GET", "POST", "PUT", "DELETE"]
    );
    assert!(seen.iter().all(|r| r.caller == Caller::App));
    assert!(seen.iter().all(|r| !r.query.contains("jwt")));
}

#[actix_web::test]
async fn a_url_on_another_origin_is_refused_without_a_request() {
    let s = StandIn::start("origin", &[]);
    let elsewhere = StandIn::start("elsewhere", &[]);
    let app = s.app().await;
    let clients = s.clients();
    let host = clients.for_site(installation(&app, &s.site));
    let port = s
        .site
        .base_url
        .split(':')
        .nth(2)
        .unwrap()
        .trim_end_matches("/wiki");

    for target in [
        format!("{}/echo", elsewhere.site.base_url),
        format!("https://127.0.0.1:{port}/wiki/echo"),
        format!("http://localhost:{port}/wiki/echo"),
        format!("http://127.0.0.1:{port}/echo"),
        format!("http://127.0.0.1:{port}/wikipedia/echo"),
        format!("http://127.0.0.1:{port}/wiki/../echo"),
        format!("http://admin@127.0.0.1:{port}/wiki/echo"),
        format!("//127.0.0.1:{port}/wiki/echo"),
        "rest/api/user".to_string(),
        "file:///etc/passwd".to_string(),
    ] {
        let err = host.as_app(Method::GET, &target, None).await.unwrap_err();
        assert!(
            matches!(err, HostError::ForeignUrl { .. }),
            "{target}: {err}"
        );
    }

    assert!(s.host.seen().is_empty());
    assert!(elsewhere.host.seen().is_empty());
    s.host.assert_all_verified();
    elsewhere.host.assert_all_verified();
}

#[actix_web::test]
async fn redirects_are_not_followed_and_large_or_refused_answers_are_errors() {
    let s = StandIn::start("limits", &[]);
    let app = s.app().await;
    let clients = s.clients();
    let host = clients.for_site(installation(&app, &s.site));

    let err = host
        .as_app(Method::GET, "/redirect", None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, HostError::Redirect { status: 302, .. }),
        "{err}"
    );
    let err = host.as_app(Method::GET, "/big", None).await.unwrap_err();
    assert!(matches!(err, HostError::TooLarge { .. }), "{err}");

    let err = host
        .as_app(Method::GET, "/forbidden?secret=q", None)
        .await
        .unwrap_err();
    let message = err.to_string();
    assert_eq!(err.status(), Some(403));
    assert!(message.contains(&s.site.base_url), "{message}");
    assert!(message.contains("GET /wiki/forbidden"), "{message}");
    assert!(!message.contains("secret=q"), "{message}");
    assert!(
        !message.contains("JWT") && !message.contains("eyJ"),
        "{message}"
    );
    assert!(!format!("{err:?}").contains("eyJ"));
    s.host.assert_all_verified();
}

#[actix_web::test]
async fn a_hung_host_times_out() {
    let s = StandIn::start("hung-direct", &[]);
    let mut site = s.site.clone();
    site.base_url = format!("http://127.0.0.1:{}/wiki", hung_host());
    let app = spawn_app().await;
    site.install(&app).await;
    let clients = s.clients().with_timeout(Duration::from_millis(300));
    let host = clients.for_site(installation(&app, &site));

    let err = host
        .as_app(Method::GET, "/rest/api/user?accountId=a", None)
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert!(err.to_string().contains("GET /wiki/rest/api/user"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Display names are the page's (asked by script as the viewing user), never the server's.

#[actix_web::test]
async fn the_api_and_the_macro_carry_the_account_id_and_ask_the_site_for_no_name() {
    let s = StandIn::start("names", &[("account-1", "Ada <Lovelace>")]);
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
    assert!(!html.contains("Lovelace"), "{html}");

    // Nothing was asked of the site, so nothing about its users is kept anywhere.
    let seen = s.host.seen();
    assert!(seen.is_empty(), "nothing asked of the site: {seen:?}");
    assert!(!dump(&app).await.contains("Lovelace"));
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
