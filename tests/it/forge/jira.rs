//! The Todo on Jira issues, through the real server on either backend: the issue routes take the
//! issue from the signed token only; a token without one is a 400 that stores nothing; a Jira
//! call of an installation reaches the same site and tasks as its Confluence calls (and a
//! Connect-first site that adopted Forge); the site's Confluence `apiBaseUrl` is never replaced
//! by Jira's; another site's issue tasks are never visible.

use reqwest::Method;
use serde_json::{Value, json};

use super::{assert_json_error, forge_create, forge_ids, ids, site_rows};
use crate::harness::*;

/// An issue: (id, key, project id).
pub type Issue<'a> = (&'a str, &'a str, &'a str);

/// The claims of a Jira issue panel's call on `site`: Jira's `apiBaseUrl`, the installation's
/// contexts for both products, the issue and its project in `context.extension`.
pub fn jira_claims(site: &ForgeSite, issue: Option<Issue>) -> Value {
    let mut claims = site.claims();
    let jira = site.api_base_url.replace("/ex/confluence/", "/ex/jira/");
    claims["app"]["apiBaseUrl"] = json!(jira);
    claims["app"]["module"] = json!({"type": "jira:issuePanel", "key": "todo-issue-panel"});
    claims["app"]["installation"] = json!({"contexts": [
        {"name": "confluence", "apiBaseUrl": site.api_base_url, "cloudId": site.cloud_id},
        {"name": "jira", "apiBaseUrl": jira, "cloudId": site.cloud_id},
    ]});
    claims["context"]["moduleKey"] = json!("todo-issue-panel");
    if let Some((id, key, project)) = issue {
        claims["context"]["extension"] = json!({
            "type": "jira:issuePanel",
            "issue": {"id": id, "key": key, "type": "Task", "typeId": "10001"},
            "project": {"id": project, "key": key.split('-').next().unwrap(), "type": "software"},
            "isNewToIssue": false,
        });
    }
    claims
}

/// A Jira call with `claims` (the app system token when given).
pub async fn jira_call(
    app: &TestApp,
    site: &ForgeSite,
    claims: &Value,
    system_token: Option<&str>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let token = sign_fit(claims, forge_key(), Some(FORGE_KID));
    site.call_with(app, &token, system_token, method, path, body)
        .await
}

/// Creates a task on `issue` from its panel (asserts 201).
pub async fn issue_create(app: &TestApp, site: &ForgeSite, issue: Issue<'_>, title: &str) -> Value {
    let claims = jira_claims(site, Some(issue));
    let body = Some(json!({"title": title}));
    let res = jira_call(
        app,
        site,
        &claims,
        None,
        Method::POST,
        "/forge/api/issue/tasks",
        body,
    )
    .await;
    assert_eq!(res.status(), 201, "creating {title:?} on {issue:?}");
    res.json().await.unwrap()
}

/// The issue panel's list (asserts 200).
pub async fn issue_list(app: &TestApp, site: &ForgeSite, issue: Issue<'_>) -> Value {
    let claims = jira_claims(site, Some(issue));
    let res = jira_call(
        app,
        site,
        &claims,
        None,
        Method::GET,
        "/forge/api/issue/tasks",
        None,
    )
    .await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

fn task_count(app: &TestApp) -> i64 {
    db(app)
        .query_row("SELECT count(*) FROM tasks", (), |r| r.get(0))
        .unwrap()
}

#[actix_web::test]
async fn an_issue_panel_creates_and_lists_its_issues_tasks_oldest_first() {
    let forge = spawn_forge_app().await;
    let app = &forge.app;
    let site = ForgeSite::new();
    let issue = ("10001", "TODO-7", "10000");

    let claims = jira_claims(&site, Some(issue));
    let res = jira_call(
        app,
        &site,
        &claims,
        None,
        Method::POST,
        "/forge/api/issue/tasks",
        Some(json!({"title": "  Write the tests "})),
    )
    .await;
    assert_eq!(res.status(), 201);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    let first: Value = res.json().await.unwrap();
    assert_eq!(location, format!("/forge/api/tasks/{}", first["id"]));
    assert_eq!(first["title"], "Write the tests");
    assert_eq!(first["issue"], json!({"id": "10001", "key": "TODO-7"}));
    assert_eq!(first["created_by"], "forge-account-1");
    let second = issue_create(app, &site, issue, "Ship it").await;
    issue_create(app, &site, ("10002", "TODO-8", "10000"), "elsewhere").await;

    let list = issue_list(app, &site, issue).await;
    assert_eq!(list["issue"], json!({"id": "10001", "key": "TODO-7"}));
    assert_eq!(
        ids(&list),
        vec![
            first["id"].as_i64().unwrap(),
            second["id"].as_i64().unwrap()
        ]
    );
    assert_eq!(list["tasks"][1]["issue"]["key"], "TODO-7");
    assert_eq!(list["more"], false);

    // Toggle, rename and delete go through the task API like any task.
    let path = format!("/forge/api/tasks/{}", second["id"]);
    let res = jira_call(
        app,
        &site,
        &claims,
        None,
        Method::PATCH,
        &path,
        Some(json!({"done": true})),
    )
    .await;
    assert_eq!(res.status(), 200);
    let toggled: Value = res.json().await.unwrap();
    assert_eq!(
        (toggled["done"].clone(), toggled["issue"]["id"].clone()),
        (json!(true), json!("10001"))
    );
    let res = jira_call(app, &site, &claims, None, Method::DELETE, &path, None).await;
    assert_eq!(res.status(), 204);
    assert_eq!(
        ids(&issue_list(app, &site, issue).await),
        vec![first["id"].as_i64().unwrap()]
    );
}

#[actix_web::test]
async fn a_moved_issue_shows_its_new_key_and_is_still_found_by_its_id() {
    let forge = spawn_forge_app().await;
    let app = &forge.app;
    let site = ForgeSite::new();
    let task = issue_create(app, &site, ("10001", "OLD-1", "10000"), "follows the issue").await;
    let list = issue_list(app, &site, ("10001", "NEW-4", "10500")).await;
    assert_eq!(ids(&list), vec![task["id"].as_i64().unwrap()]);
    assert_eq!(list["tasks"][0]["issue"]["key"], "NEW-4");
    let stored: String = db(app)
        .query_row("SELECT issue_key FROM tasks", (), |r| r.get(0))
        .unwrap();
    assert_eq!(stored, "NEW-4");
}

#[actix_web::test]
async fn a_token_without_an_issue_gets_a_400_and_stores_nothing() {
    let forge = spawn_forge_app().await;
    let app = &forge.app;
    let site = ForgeSite::new();
    for claims in [site.claims(), jira_claims(&site, None)] {
        for (method, body) in [
            (Method::GET, None),
            (Method::POST, Some(json!({"title": "x"}))),
        ] {
            let res = jira_call(
                app,
                &site,
                &claims,
                None,
                method.clone(),
                "/forge/api/issue/tasks",
                body,
            )
            .await;
            assert_eq!(res.status(), 400, "{method}");
            let text = res.text().await.unwrap();
            assert!(text.contains("no Jira issue"), "{text}");
        }
    }
    assert_eq!(task_count(app), 0);
    // The issue is read from the signed token only: a body naming one is refused (422).
    let claims = jira_claims(&site, Some(("1", "A-1", "2")));
    let res = jira_call(
        app,
        &site,
        &claims,
        None,
        Method::POST,
        "/forge/api/issue/tasks",
        Some(json!({"title": "x", "issue": {"id": "99"}})),
    )
    .await;
    assert_eq!(res.status(), 422);
    assert_json_error(res, "unknown field").await;
    // A malformed issue in the signed context is an authentication failure.
    let mut odd = jira_claims(&site, Some(("1", "A-1", "2")));
    odd["context"]["extension"]["issue"]["id"] = json!("1 or 1=1");
    let res = jira_call(
        app,
        &site,
        &odd,
        None,
        Method::GET,
        "/forge/api/issue/tasks",
        None,
    )
    .await;
    assert_eq!(res.status(), 401);
    assert_eq!(task_count(app), 0);
}

#[actix_web::test]
async fn jira_and_confluence_calls_of_one_installation_share_the_site_and_its_tasks() {
    let forge = spawn_forge_app().await;
    let app = &forge.app;
    let site = ForgeSite::new();
    // The Jira panel calls first: the site it creates keeps Confluence's apiBaseUrl.
    let on_issue = issue_create(app, &site, ("10001", "TODO-7", "10000"), "from Jira").await;
    let on_page = forge_create(app, &site, "from Confluence").await;
    let rows = site_rows(app);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        rows[0].3.as_deref(),
        Some(site.api_base_url.as_str()),
        "Confluence's URL"
    );
    let product: String = db(app)
        .query_row("SELECT product_type FROM jwt_tokens", (), |r| r.get(0))
        .unwrap();
    assert_eq!(
        product, "jira",
        "a Forge-first site records the product it came from"
    );
    // Another Jira call does not overwrite it either.
    issue_list(app, &site, ("10001", "TODO-7", "10000")).await;
    assert_eq!(
        site_rows(app)[0].3.as_deref(),
        Some(site.api_base_url.as_str())
    );

    let res = site.call(app, Method::GET, "/forge/api/tasks", None).await;
    assert_eq!(res.status(), 200);
    let list: Value = res.json().await.unwrap();
    assert_eq!(
        ids(&list),
        vec![
            on_page["id"].as_i64().unwrap(),
            on_issue["id"].as_i64().unwrap()
        ]
    );
    assert_eq!(
        list["tasks"][1]["issue"],
        json!({"id": "10001", "key": "TODO-7"})
    );
    assert!(
        list["tasks"][0].get("issue").is_none(),
        "a page task has no issue"
    );
}

#[actix_web::test]
async fn another_sites_issue_tasks_are_never_visible() {
    let forge = spawn_forge_app().await;
    let app = &forge.app;
    let (mine, theirs) = (ForgeSite::new(), ForgeSite::new());
    let issue = ("10001", "TODO-7", "10000");
    let secret = issue_create(app, &theirs, issue, "theirs").await;
    assert_eq!(issue_list(app, &mine, issue).await["tasks"], json!([]));
    assert_eq!(forge_ids(app, &mine).await, Vec::<i64>::new());
    let path = format!("/forge/api/tasks/{}", secret["id"]);
    let claims = jira_claims(&mine, Some(issue));
    for method in [Method::GET, Method::DELETE] {
        let res = jira_call(app, &mine, &claims, None, method.clone(), &path, None).await;
        assert_eq!(res.status(), 404, "{method}");
    }
    assert_eq!(
        ids(&issue_list(app, &theirs, issue).await),
        vec![secret["id"].as_i64().unwrap()]
    );
}

#[actix_web::test]
async fn a_connect_site_that_adopted_forge_gets_its_jira_tasks_on_the_same_row() {
    let forge = spawn_forge_app().await;
    let app = &forge.app;
    let connect = Site::new("connect-then-jira");
    connect.install(app).await;
    let old = connect.create_task(app, "from Connect").await["id"]
        .as_i64()
        .unwrap();
    let fsite = ForgeSite::new();
    let status = connect.adopt_forge(app, &fsite).await;
    assert_eq!(status, 204);
    let on_issue = issue_create(app, &fsite, ("10001", "TODO-7", "10000"), "from Jira").await;
    let rows = site_rows(app);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].0.as_deref(), Some(connect.client_key.as_str()));
    let res = connect.api(app, Method::GET, "/api/tasks", None).await;
    let list: Value = res.json().await.unwrap();
    assert_eq!(ids(&list), vec![on_issue["id"].as_i64().unwrap(), old]);
    assert_eq!(list["tasks"][0]["issue"]["key"], "TODO-7");
    // The Connect Todo page knows the site's origin, where an issue key links to.
    let res = connect.get(app, "/confluence/tasks").await;
    assert_eq!(res.status(), 200);
    // Tera escapes `/` in the attribute (`&#x2F;`), which the browser reads back as `/`.
    let html = res.text().await.unwrap().replace("&#x2F;", "/");
    let origin = connect.base_url.trim_end_matches("/wiki");
    assert!(html.contains(&format!("data-site=\"{origin}\"")), "{html}");
}
