//! Display names of task creators on a Forge site, asked of a stand-in Confluence with the app
//! system token Forge sent (`x-forge-oauth-system`, kept in memory only): the call goes to
//! `{apiBaseUrl}/wiki/rest/api/user` with `Authorization: Bearer`, and nowhere else.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use jsonwebtoken::Algorithm;
use reqwest::Method;
use serde_json::{Value, json};

use super::forge_create;
use crate::harness::*;

/// What the stand-in saw: path, query and the Authorization header.
type Seen = Arc<Mutex<Vec<(String, String, String)>>>;

/// A stand-in Confluence behind Forge's API gateway: answers the user endpoint for requests
/// bearing `token`, 401 for anything else; records every request.
fn stand_in(token: String) -> (u16, Seen) {
    let seen: Seen = Arc::default();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let record = seen.clone();
    let server = HttpServer::new(move || {
        let (record, token) = (record.clone(), token.clone());
        App::new().default_service(web::to(move |req: HttpRequest| {
            let (record, token) = (record.clone(), token.clone());
            async move {
                let auth = req
                    .headers()
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                let query = req.query_string().to_string();
                record
                    .lock()
                    .unwrap()
                    .push((req.path().to_string(), query.clone(), auth.clone()));
                if auth != format!("Bearer {token}") {
                    return HttpResponse::Unauthorized().finish();
                }
                let account = query.strip_prefix("accountId=").unwrap_or("").to_string();
                if !req.path().ends_with("/wiki/rest/api/user") || account.is_empty() {
                    return HttpResponse::NotFound().finish();
                }
                HttpResponse::Ok()
                    .json(json!({"accountId": account, "displayName": format!("Ada ({account})")}))
            }
        }))
    })
    .workers(1)
    .listen(listener)
    .unwrap();
    actix_web::rt::spawn(server.run());
    (port, seen)
}

/// An app system token as Atlassian issues them: a JWT with a few hours to live.
fn system_token() -> String {
    let claims = json!({"sub": "app", "iat": now(), "exp": now() + 3 * 3600});
    hs256_with(&claims, "atlassian-side-secret", Algorithm::HS256)
}

/// A Forge site whose `apiBaseUrl` is the stand-in.
fn site_at(port: u16) -> ForgeSite {
    let mut site = ForgeSite::new();
    site.api_base_url = format!("http://127.0.0.1:{port}/ex/confluence/{}", site.cloud_id);
    site
}

#[actix_web::test]
async fn names_come_from_the_site_with_the_system_token_a_ui_call_carried() {
    let forge = spawn_forge_app().await;
    let app = &forge.app;
    let token = system_token();
    let (port, seen) = stand_in(token.clone());
    let site = site_at(port);

    let res = site
        .call_with(
            app,
            &site.token(),
            Some(&token),
            Method::POST,
            "/forge/api/tasks",
            Some(json!({"title": "named"})),
        )
        .await;
    assert_eq!(res.status(), 201);
    let task: Value = res.json().await.unwrap();
    assert_eq!(task["created_by_name"], "Ada (forge-account-1)");

    let seen = seen.lock().unwrap().clone();
    let want = (
        format!("/ex/confluence/{}/wiki/rest/api/user", site.cloud_id),
        "accountId=forge-account-1".to_string(),
        format!("Bearer {token}"),
    );
    assert_eq!(
        seen,
        vec![want],
        "one lookup, on the site's API base URL, as the app"
    );

    // The name is kept in memory: listing asks nothing more.
    let list: Value = site
        .call(app, Method::GET, "/forge/api/tasks", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["tasks"][0]["created_by_name"], "Ada (forge-account-1)");
}

#[actix_web::test]
async fn the_system_token_of_an_installed_event_serves_later_ui_calls() {
    let forge = spawn_forge_app().await;
    let app = &forge.app;
    let token = system_token();
    let (port, seen) = stand_in(token.clone());
    let site = site_at(port);
    let res = site
        .call_with(
            app,
            &site.token(),
            Some(&token),
            Method::POST,
            "/forge/events",
            Some(site.installed_event()),
        )
        .await;
    assert_eq!(res.status(), 200);
    let task = forge_create(app, &site, "after install").await;
    assert_eq!(task["created_by_name"], "Ada (forge-account-1)");
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[actix_web::test]
async fn without_a_system_token_names_fall_back_to_the_account_id_and_nothing_is_asked() {
    let forge = spawn_forge_app().await;
    let (port, seen) = stand_in(system_token());
    let site = site_at(port);
    let task = forge_create(&forge.app, &site, "unnamed").await;
    assert_eq!(task["created_by_name"], "forge-account-1");
    assert!(seen.lock().unwrap().is_empty(), "no call without a token");
}

#[actix_web::test]
async fn an_expired_system_token_is_not_used() {
    let forge = spawn_forge_app().await;
    let expired = hs256_with(
        &json!({"sub": "app", "exp": now() - 10}),
        "atlassian-side-secret",
        Algorithm::HS256,
    );
    let (port, seen) = stand_in(expired.clone());
    let site = site_at(port);
    let res = site
        .call_with(
            &forge.app,
            &site.token(),
            Some(&expired),
            Method::POST,
            "/forge/api/tasks",
            Some(json!({"title": "x"})),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(
        res.json::<Value>().await.unwrap()["created_by_name"],
        "forge-account-1"
    );
    assert!(seen.lock().unwrap().is_empty());
}
