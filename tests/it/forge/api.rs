//! `/forge/api/tasks…` keeps exactly the contract of `/api/tasks…` (one implementation serves
//! both): create 201 with `Location`, list with limit/before/done/q, read, patch, delete;
//! 422/413/404 with JSON bodies; `created_by` is the token's `principal`; nothing a bad request
//! sends changes a row.

use reqwest::Method;
use serde_json::{Value, json};

use super::{assert_json_error, forge_create, forge_ids, ids};
use crate::harness::*;

#[actix_web::test]
async fn a_task_is_created_listed_read_patched_and_deleted_through_forge() {
    let forge = spawn_forge_app().await;
    let app = &forge.app;
    let site = ForgeSite::new();

    let res = site
        .call(
            app,
            Method::POST,
            "/forge/api/tasks",
            Some(json!({"title": "  Ship Forge ", "page_id": "42"})),
        )
        .await;
    assert_eq!(res.status(), 201);
    let id = {
        let location = res.headers()["location"].to_str().unwrap().to_string();
        let task: Value = res.json().await.unwrap();
        assert_eq!(location, format!("/forge/api/tasks/{}", task["id"]));
        assert_eq!(task["title"], "Ship Forge");
        assert_eq!(task["page_id"], "42");
        assert_eq!(task["done"], false);
        assert_eq!(task["created_by"], "forge-account-1");
        // Only the account id: the view fills in the name as the viewing user.
        assert_eq!(task.get("created_by_name"), None, "{task}");
        task["id"].as_i64().unwrap()
    };
    let path = format!("/forge/api/tasks/{id}");

    let shown: Value = site
        .call(app, Method::GET, &path, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shown["id"], id);
    let res = site
        .call(
            app,
            Method::PATCH,
            &path,
            Some(json!({"done": true, "title": "Shipped"})),
        )
        .await;
    assert_eq!(res.status(), 200);
    let patched: Value = res.json().await.unwrap();
    assert_eq!(
        (patched["done"].clone(), patched["title"].clone()),
        (json!(true), json!("Shipped"))
    );
    assert_eq!(forge_ids(app, &site).await, vec![id]);

    let res = site.call(app, Method::DELETE, &path, None).await;
    assert_eq!(res.status(), 204);
    let res = site.call(app, Method::GET, &path, None).await;
    assert_eq!(res.status(), 404);
    assert_json_error(res, "deleted").await;
    assert_eq!(forge_ids(app, &site).await, Vec::<i64>::new());
}

#[actix_web::test]
async fn listing_through_forge_pages_filters_and_searches_like_the_connect_api() {
    let forge = spawn_forge_app().await;
    let app = &forge.app;
    let site = ForgeSite::new();
    let mut created = Vec::new();
    for i in 0..5 {
        let task = forge_create(app, &site, &format!("task {i} 100%")).await;
        created.push(task["id"].as_i64().unwrap());
    }
    let done_path = format!("/forge/api/tasks/{}", created[1]);
    site.call(app, Method::PATCH, &done_path, Some(json!({"done": true})))
        .await;

    let get = |query: &'static str| {
        let site = site.clone();
        async move {
            let res = site
                .call(app, Method::GET, &format!("/forge/api/tasks?{query}"), None)
                .await;
            assert_eq!(res.status(), 200, "{query}");
            res.json::<Value>().await.unwrap()
        }
    };
    let first = get("limit=2").await;
    assert_eq!(ids(&first), vec![created[4], created[3]]);
    assert_eq!(first["next_before"], created[3]);
    let next = site
        .call(
            app,
            Method::GET,
            &format!("/forge/api/tasks?limit=2&before={}", created[3]),
            None,
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(ids(&next), vec![created[2], created[1]]);
    assert_eq!(ids(&get("done=true").await), vec![created[1]]);
    assert_eq!(ids(&get("q=task%203").await), vec![created[3]]);
    assert_eq!(
        ids(&get("q=100%25&done=false&limit=1").await),
        vec![created[4]]
    );
}

#[actix_web::test]
async fn every_bad_forge_request_gets_its_exact_status_and_changes_nothing() {
    let forge = spawn_forge_app().await;
    let app = &forge.app;
    let site = ForgeSite::new();
    let other = ForgeSite::new();
    let id = forge_create(app, &site, "keep me").await["id"]
        .as_i64()
        .unwrap();
    let foreign = forge_create(app, &other, "not yours").await["id"]
        .as_i64()
        .unwrap();
    let before = dump(app).await;
    let token = site.token();
    let task = format!("/forge/api/tasks/{id}");
    let big = format!(r#"{{"title":"{}"}}"#, "x".repeat(17 * 1024));
    let json = "application/json";
    let cases: Vec<(Method, String, Vec<u8>, &str, u16)> = vec![
        (
            Method::POST,
            "/forge/api/tasks".into(),
            b"{not json".to_vec(),
            json,
            400,
        ),
        (
            Method::POST,
            "/forge/api/tasks".into(),
            br#"{"title":"x"}"#.to_vec(),
            "text/plain",
            400,
        ),
        (
            Method::POST,
            "/forge/api/tasks".into(),
            br#"{"title":"x","owner":"me"}"#.to_vec(),
            json,
            422,
        ),
        (
            Method::POST,
            "/forge/api/tasks".into(),
            br#"{"title":"   "}"#.to_vec(),
            json,
            422,
        ),
        (
            Method::POST,
            "/forge/api/tasks".into(),
            br#"{"title":"ok","page_id":"12 34"}"#.to_vec(),
            json,
            422,
        ),
        (
            Method::POST,
            "/forge/api/tasks".into(),
            big.into_bytes(),
            json,
            413,
        ),
        (Method::PATCH, task.clone(), br#"{}"#.to_vec(), json, 422),
        (
            Method::PATCH,
            task.clone(),
            br#"{"done":"yes"}"#.to_vec(),
            json,
            422,
        ),
        (
            Method::PATCH,
            "/forge/api/tasks/abc".into(),
            br#"{"done":true}"#.to_vec(),
            json,
            404,
        ),
        (
            Method::PATCH,
            format!("/forge/api/tasks/{foreign}"),
            br#"{"done":true}"#.to_vec(),
            json,
            404,
        ),
        (
            Method::DELETE,
            format!("/forge/api/tasks/{foreign}"),
            Vec::new(),
            json,
            404,
        ),
        (
            Method::GET,
            format!("/forge/api/tasks/{foreign}"),
            Vec::new(),
            json,
            404,
        ),
        (
            Method::GET,
            "/forge/api/tasks/99999999".into(),
            Vec::new(),
            json,
            404,
        ),
        (
            Method::GET,
            "/forge/api/tasks?limit=0".into(),
            Vec::new(),
            json,
            422,
        ),
        (
            Method::GET,
            "/forge/api/tasks?limit=201".into(),
            Vec::new(),
            json,
            422,
        ),
        (
            Method::GET,
            "/forge/api/tasks?done=maybe".into(),
            Vec::new(),
            json,
            422,
        ),
        (
            Method::GET,
            "/forge/api/tasks?before=-3".into(),
            Vec::new(),
            json,
            422,
        ),
    ];
    for (method, path, body, content_type, status) in cases {
        let res = app
            .client
            .request(method.clone(), format!("{}{path}", app.address))
            .header("Authorization", format!("Bearer {token}"))
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), status, "{method} {path}");
        assert_json_error(res, &path).await;
    }
    assert_eq!(dump(app).await, before, "no bad request changed anything");
}

#[actix_web::test]
async fn a_call_without_a_principal_creates_a_task_without_a_creator() {
    let forge = spawn_forge_app().await;
    let mut site = ForgeSite::new();
    site.principal = None;
    let task = forge_create(&forge.app, &site, "from a trigger").await;
    assert_eq!(task["created_by"], Value::Null);
}
