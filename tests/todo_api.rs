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
    site.create_task(app, title).await
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

#[actix_web::test]
async fn each_site_sees_only_its_own_tasks_through_every_route() {
    let (app, a, b) = two_sites().await;
    let mine = create(&app, &a, "alpha secret plan").await;
    let id = mine["id"].as_i64().unwrap();
    // b's first request records its user; after that, nothing b does may change a row.
    assert_eq!(
        b.api(&app, Method::GET, "/api/tasks", None).await.status(),
        200
    );
    let before = dump(&app);

    // Macro and API reads: indistinguishable from a missing id.
    let macro_page = b.get(&app, &format!("/confluence/get_task?id={id}")).await;
    assert_eq!(macro_page.status(), 404);
    assert!(
        !macro_page
            .text()
            .await
            .unwrap()
            .contains("alpha secret plan")
    );
    let missing = b.get(&app, "/confluence/get_task?id=999999").await;
    assert_eq!(missing.status(), 404);
    let path = format!("/api/tasks/{id}");
    assert_eq!(b.api(&app, Method::GET, &path, None).await.status(), 404);
    assert_eq!(
        b.api(&app, Method::PATCH, &path, Some(json!({"done": true})))
            .await
            .status(),
        404
    );
    assert_eq!(b.api(&app, Method::DELETE, &path, None).await.status(), 404);
    let list: Value = b
        .api(&app, Method::GET, "/api/tasks?q=alpha", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["tasks"], json!([]));
    // The page and the editor render for b without a trace of a's task.
    for page in ["/confluence/tasks", "/confluence/macro_editor?page_id=42"] {
        let res = b.get(&app, page).await;
        assert_eq!(res.status(), 200, "{page}");
        assert!(!res.text().await.unwrap().contains("alpha secret plan"));
    }
    assert_eq!(dump(&app), before, "nothing changed");
    // And a still has it.
    assert_eq!(a.api(&app, Method::GET, &path, None).await.status(), 200);
}

#[actix_web::test]
async fn patch_and_delete_change_only_what_they_say() {
    let (app, a, _) = two_sites().await;
    let id = create(&app, &a, "draft").await["id"].as_i64().unwrap();
    let path = format!("/api/tasks/{id}");
    let renamed: Value = a
        .api(&app, Method::PATCH, &path, Some(json!({"title": "final"})))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (renamed["title"].as_str(), renamed["done"].as_bool()),
        (Some("final"), Some(false))
    );
    let done: Value = a
        .api(&app, Method::PATCH, &path, Some(json!({"done": true})))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (done["title"].as_str(), done["done"].as_bool()),
        (Some("final"), Some(true))
    );
    assert_eq!(a.api(&app, Method::DELETE, &path, None).await.status(), 204);
    assert_eq!(a.api(&app, Method::GET, &path, None).await.status(), 404);
    assert_eq!(a.api(&app, Method::DELETE, &path, None).await.status(), 404);
}

#[actix_web::test]
async fn listing_pages_filters_and_searches() {
    let (app, a, _) = two_sites().await;
    for i in 0..5 {
        let t = create(&app, &a, &format!("item {i}")).await;
        if i < 2 {
            a.api(
                &app,
                Method::PATCH,
                &format!("/api/tasks/{}", t["id"]),
                Some(json!({"done": true})),
            )
            .await;
        }
    }
    let page: Value = a
        .api(&app, Method::GET, "/api/tasks?limit=2", None)
        .await
        .json()
        .await
        .unwrap();
    let titles: Vec<&str> = page["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["item 4", "item 3"]);
    let next = page["next_before"].as_i64().unwrap();
    let rest: Value = a
        .api(
            &app,
            Method::GET,
            &format!("/api/tasks?limit=2&before={next}"),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rest["tasks"][0]["title"], "item 2");
    let done: Value = a
        .api(&app, Method::GET, "/api/tasks?done=true", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(done["tasks"].as_array().unwrap().len(), 2);
    let found: Value = a
        .api(&app, Method::GET, "/api/tasks?q=ITEM%203", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(found["tasks"].as_array().unwrap().len(), 1);
}

#[actix_web::test]
async fn every_bad_input_gets_its_exact_status_and_changes_nothing() {
    let (app, a, _) = two_sites().await;
    let id = create(&app, &a, "keep me").await["id"].as_i64().unwrap();
    let before = dump(&app);
    let raw = |method: Method, path: String, body: &'static [u8], content_type: &'static str| {
        let app = &app;
        let token = a.context_token("account-1");
        async move {
            app.client
                .request(method, format!("{}{path}", app.address))
                .header("Authorization", format!("JWT {token}"))
                .header("Content-Type", content_type)
                .body(body)
                .send()
                .await
                .unwrap()
        }
    };
    let json_ct = "application/json";
    let task = format!("/api/tasks/{id}");
    let cases: Vec<(Method, String, &'static [u8], &str, u16)> = vec![
        (
            Method::POST,
            "/api/tasks".into(),
            b"{not json",
            json_ct,
            400,
        ),
        (Method::POST, "/api/tasks".into(), b"", json_ct, 400),
        (
            Method::POST,
            "/api/tasks".into(),
            br#"{"title":"x"}"#,
            "text/plain",
            400,
        ),
        (
            Method::POST,
            "/api/tasks".into(),
            br#"{"title":"x","owner":"me"}"#,
            json_ct,
            422,
        ),
        (
            Method::POST,
            "/api/tasks".into(),
            br#"{"title":42}"#,
            json_ct,
            422,
        ),
        (Method::POST, "/api/tasks".into(), br#"{}"#, json_ct, 422),
        (
            Method::POST,
            "/api/tasks".into(),
            br#"{"title":"   "}"#,
            json_ct,
            422,
        ),
        (
            Method::POST,
            "/api/tasks".into(),
            br#"{"title":"a\u0007b"}"#,
            json_ct,
            422,
        ),
        (
            Method::POST,
            "/api/tasks".into(),
            br#"{"title":"ok","page_id":"12 34"}"#,
            json_ct,
            422,
        ),
        (Method::PATCH, task.clone(), br#"{}"#, json_ct, 422),
        (
            Method::PATCH,
            task.clone(),
            br#"{"done":"yes"}"#,
            json_ct,
            422,
        ),
        (
            Method::PATCH,
            task.clone(),
            br#"{"title":""}"#,
            json_ct,
            422,
        ),
        (Method::PATCH, task.clone(), b"[", json_ct, 400),
        (
            Method::PATCH,
            "/api/tasks/abc".into(),
            br#"{"done":true}"#,
            json_ct,
            404,
        ),
        (Method::GET, "/api/tasks?limit=0".into(), b"", json_ct, 422),
        (
            Method::GET,
            "/api/tasks?limit=201".into(),
            b"",
            json_ct,
            422,
        ),
        (
            Method::GET,
            "/api/tasks?done=maybe".into(),
            b"",
            json_ct,
            422,
        ),
        (
            Method::GET,
            "/api/tasks?before=-3".into(),
            b"",
            json_ct,
            422,
        ),
    ];
    for (method, path, body, ct, status) in cases {
        let res = raw(method.clone(), path.clone(), body, ct).await;
        assert_eq!(
            res.status().as_u16(),
            status,
            "{method} {path} {}",
            String::from_utf8_lossy(body)
        );
        let err: Value = res.json().await.unwrap();
        assert!(
            err["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{err}"
        );
    }
    // Over 16 KiB: 413.
    let big = format!(r#"{{"title":"{}"}}"#, "x".repeat(17 * 1024));
    let res = a
        .api(
            &app,
            Method::POST,
            "/api/tasks",
            Some(serde_json::from_str(&big).unwrap()),
        )
        .await;
    assert_eq!(res.status(), 413);
    // No token: 401 with the realm.
    let res = app
        .client
        .post(format!("{}/api/tasks", app.address))
        .json(&json!({"title": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.headers()["www-authenticate"],
        format!("JWT realm=\"{ADDON_KEY}\"")
    );
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"error": "authentication required"})
    );
    // Macro: not a positive integer is 400, checked after authentication.
    for bad in ["abc", "0", "-1", "1.5", ""] {
        assert_eq!(
            a.get(&app, &format!("/confluence/get_task?id={bad}"))
                .await
                .status(),
            400,
            "{bad:?}"
        );
    }
    assert_eq!(a.get(&app, "/confluence/get_task").await.status(), 400);
    assert_eq!(
        a.get(&app, &format!("/confluence/get_task?id={id}&id={id}"))
            .await
            .status(),
        400,
        "a repeated id is ambiguous"
    );
    assert_eq!(dump(&app), before, "no bad input changed anything");
}

#[actix_web::test]
async fn a_script_title_renders_as_text_and_xdm_e_leaves_no_trace() {
    let (app, a, _) = two_sites().await;
    let id = create(&app, &a, "<script>alert(1)</script>").await["id"]
        .as_i64()
        .unwrap();
    let url =
        format!("/confluence/get_task?id={id}&xdm_e=https%3A%2F%2Fevil.example&cp=%2Fevil&xdm_c=c");
    let res = a.get(&app, &url).await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;&#x2F;script&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script>alert(1)"), "{html}");
    assert!(!html.contains("evil"), "{html}");
    let scripts: Vec<&str> = html
        .match_indices("<script")
        .map(|(i, _)| &html[i..i + 80.min(html.len() - i)])
        .collect();
    assert!(
        scripts.iter().all(
            |s| s.contains("src=\"https://connect-cdn.atl-paas.net/all.js\"")
                || s.contains("src=\"/js/")
        ),
        "{scripts:?}"
    );
}

#[actix_web::test]
async fn every_html_response_carries_the_security_headers() {
    let (app, a, _) = two_sites().await;
    let id = create(&app, &a, "headers").await["id"].as_i64().unwrap();
    let authenticated = [
        format!("/confluence/get_task?id={id}"),
        "/confluence/get_task?id=424242".to_string(),
        "/confluence/get_task?id=bad".to_string(),
        "/confluence/tasks".to_string(),
        "/confluence/macro_editor?page_id=7".to_string(),
    ];
    let mut responses = Vec::new();
    for path in &authenticated {
        responses.push((path.clone(), a.get(&app, path).await, true));
    }
    for path in ["/", "/confluence/tasks?jwt=garbage"] {
        responses.push((
            path.to_string(),
            app.client
                .get(format!("{}{path}", app.address))
                .send()
                .await
                .unwrap(),
            path != "/",
        ));
    }
    for (path, res, no_store) in responses {
        let h = res.headers();
        assert!(
            h["content-type"].to_str().unwrap().starts_with("text/html"),
            "{path}"
        );
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("frame-ancestors https://*.atlassian.net https://*.jira.com"),
            "{path}: {csp}"
        );
        assert!(
            csp.contains("script-src 'self' https://connect-cdn.atl-paas.net;"),
            "{path}: {csp}"
        );
        assert!(
            csp.contains("style-src 'self' https://cdn.jsdelivr.net;"),
            "{path}: {csp}"
        );
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        if no_store {
            assert_eq!(h["cache-control"], "no-store", "{path}");
        }
        assert!(
            h.get("strict-transport-security").is_some(),
            "SITE_URL is https: {path}"
        );
    }
    // The installation's display URL may frame authenticated pages too.
    let res = a.get(&app, "/confluence/tasks").await;
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.ends_with("https://alpha.atlassian.net"), "{csp}");
}

#[actix_web::test]
async fn the_macro_makes_no_database_write() {
    let (app, a, _) = two_sites().await;
    let id = create(&app, &a, "read only").await["id"].as_i64().unwrap();
    // First request may record the user; after that, renders write nothing.
    a.get(&app, &format!("/confluence/get_task?id={id}")).await;
    let conn = db(&app);
    let version = |c: &rusqlite::Connection| {
        c.query_row("PRAGMA data_version", [], |r| r.get::<_, i64>(0))
            .unwrap()
    };
    let before = version(&conn);
    for _ in 0..5 {
        assert_eq!(
            a.get(&app, &format!("/confluence/get_task?id={id}"))
                .await
                .status(),
            200
        );
    }
    assert_eq!(
        version(&conn),
        before,
        "another connection committed a write"
    );
}
