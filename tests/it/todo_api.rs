//! The Todo domain through the real server: tenant isolation on every route, the API's
//! statuses for every bad input (with the database unchanged), escaping and security headers.

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::*;

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
    let before = dump(&app).await;

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
    assert_eq!(dump(&app).await, before, "nothing changed");
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

/// A site with one task ("keep me") that no bad input may change.
struct BadInput {
    app: TestApp,
    site: Site,
    id: i64,
    before: String,
}

/// One bad request: method, path, body, content type and the exact status it must get.
type BadCase = (Method, String, &'static [u8], &'static str, u16);

const JSON: &str = "application/json";

impl BadInput {
    async fn new() -> Self {
        let (app, site, _) = two_sites().await;
        let id = create(&app, &site, "keep me").await["id"].as_i64().unwrap();
        let before = dump(&app).await;
        Self {
            app,
            site,
            id,
            before,
        }
    }

    /// Sends each case with a valid context token; asserts its status and a JSON error.
    async fn assert_statuses(&self, cases: Vec<BadCase>) {
        let token = self.site.context_token("account-1");
        for (method, path, body, content_type, status) in cases {
            let res = self
                .app
                .client
                .request(method.clone(), format!("{}{path}", self.app.address))
                .header("Authorization", format!("JWT {token}"))
                .header("Content-Type", content_type)
                .body(body)
                .send()
                .await
                .unwrap();
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
    }

    async fn assert_nothing_changed(&self) {
        assert_eq!(
            dump(&self.app).await,
            self.before,
            "no bad input changed anything"
        );
    }
}

#[actix_web::test]
async fn every_bad_create_gets_its_exact_status_and_changes_nothing() {
    let t = BadInput::new().await;
    let create = |body: &'static [u8], content_type, status| {
        (
            Method::POST,
            "/api/tasks".to_string(),
            body,
            content_type,
            status,
        )
    };
    t.assert_statuses(vec![
        create(b"{not json", JSON, 400),
        create(b"", JSON, 400),
        create(br#"{"title":"x"}"#, "text/plain", 400),
        create(br#"{"title":"x","owner":"me"}"#, JSON, 422),
        create(br#"{"title":42}"#, JSON, 422),
        create(br#"{}"#, JSON, 422),
        create(br#"{"title":"   "}"#, JSON, 422),
        create(br#"{"title":"a\u0007b"}"#, JSON, 422),
        create(br#"{"title":"ok","page_id":"12 34"}"#, JSON, 422),
    ])
    .await;
    t.assert_nothing_changed().await;
}

#[actix_web::test]
async fn every_bad_patch_or_listing_gets_its_exact_status_and_changes_nothing() {
    let t = BadInput::new().await;
    let task = format!("/api/tasks/{}", t.id);
    let patch = |path: &str, body: &'static [u8], status| {
        (Method::PATCH, path.to_string(), body, JSON, status)
    };
    let list = |query: &str| {
        (
            Method::GET,
            format!("/api/tasks?{query}"),
            &b""[..],
            JSON,
            422,
        )
    };
    t.assert_statuses(vec![
        patch(&task, br#"{}"#, 422),
        patch(&task, br#"{"done":"yes"}"#, 422),
        patch(&task, br#"{"title":""}"#, 422),
        patch(&task, b"[", 400),
        patch("/api/tasks/abc", br#"{"done":true}"#, 404),
        list("limit=0"),
        list("limit=201"),
        list("done=maybe"),
        list("before=-3"),
    ])
    .await;
    t.assert_nothing_changed().await;
}

#[actix_web::test]
async fn an_oversized_or_unauthenticated_create_is_refused_and_changes_nothing() {
    let t = BadInput::new().await;
    let (app, a) = (&t.app, &t.site);
    // Over 16 KiB: 413.
    let big = format!(r#"{{"title":"{}"}}"#, "x".repeat(17 * 1024));
    let res = a
        .api(
            app,
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
    t.assert_nothing_changed().await;
}

#[actix_web::test]
async fn a_macro_id_that_is_not_one_positive_integer_gets_400_after_authentication() {
    let t = BadInput::new().await;
    let (app, a, id) = (&t.app, &t.site, t.id);
    for bad in ["abc", "0", "-1", "1.5", ""] {
        assert_eq!(
            a.get(app, &format!("/confluence/get_task?id={bad}"))
                .await
                .status(),
            400,
            "{bad:?}"
        );
    }
    assert_eq!(a.get(app, "/confluence/get_task").await.status(), 400);
    assert_eq!(
        a.get(app, &format!("/confluence/get_task?id={id}&id={id}"))
            .await
            .status(),
        400,
        "a repeated id is ambiguous"
    );
    t.assert_nothing_changed().await;
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
    app.settle().await;
    let conn = db(&app);
    let before = conn.change_marker();
    for _ in 0..5 {
        assert_eq!(
            a.get(&app, &format!("/confluence/get_task?id={id}"))
                .await
                .status(),
            200
        );
    }
    app.settle().await;
    assert_eq!(
        conn.change_marker(),
        before,
        "another connection committed a write"
    );
}
