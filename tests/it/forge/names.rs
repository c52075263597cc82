//! Creators' display names are not the server's on a Forge site: even with an app system token
//! in hand, the task API answers with the account id (`created_by`) and asks Confluence nothing
//! (the views ask as the viewing user, forge/src/shared/names.js). The system token an
//! installed event carried is still kept for what does use it: publishing.

use reqwest::Method;
use serde_json::{Value, json};

use super::forge_create;
use crate::harness::*;
use crate::host_client::publish::system_token;
use crate::host_client::stand_in::{Caller, StandIn};

#[actix_web::test]
async fn the_task_api_carries_the_account_id_and_asks_the_site_for_no_name() {
    let s = StandIn::start("forge-names", &[("forge-account-1", "Ada Lovelace")]);
    let forge = spawn_forge_app().await;
    let app = &forge.app;
    let token = system_token();
    let site = s.forge_site(&token);
    let call = async |method: Method, path: &str, body: Option<Value>| {
        site.call_with(app, &site.token(), Some(&token), method, path, body)
            .await
    };

    let res = call(
        Method::POST,
        "/forge/api/tasks",
        Some(json!({"title": "named"})),
    )
    .await;
    assert_eq!(res.status(), 201);
    let task: Value = res.json().await.unwrap();
    assert_eq!(task["created_by"], "forge-account-1");
    assert_eq!(task.get("created_by_name"), None, "{task}");

    let one = format!("/forge/api/tasks/{}", task["id"]);
    for path in ["/forge/api/tasks", one.as_str()] {
        let res = call(Method::GET, path, None).await;
        assert_eq!(res.status(), 200);
        let text = res.text().await.unwrap();
        assert!(
            text.contains("\"created_by\":\"forge-account-1\""),
            "{text}"
        );
        assert!(
            !text.contains("created_by_name") && !text.contains("Lovelace"),
            "{text}"
        );
    }
    let seen = s.host.seen();
    assert!(seen.is_empty(), "nothing asked of the site: {seen:?}");
}

#[actix_web::test]
async fn the_system_token_of_an_installed_event_serves_a_later_publish() {
    let s = StandIn::start("forge-installed-token", &[]);
    let forge = spawn_forge_app().await;
    let app = &forge.app;
    let token = system_token();
    let site = s.forge_site(&token);
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
    forge_create(app, &site, "after install").await;

    // This call carries no system token: the installed event's is used.
    let body = json!({"space_key": "DOCS"});
    let res = site
        .call(app, Method::POST, "/forge/api/publish", Some(body))
        .await;
    assert_eq!(res.status(), 201);
    let pages = s.seen_at("/wiki/rest/api/content");
    assert_eq!(pages.len(), 1, "one page created");
    assert_eq!(pages[0].caller, Caller::System { token });
    assert!(s.seen_at("/wiki/rest/api/user").is_empty());
}
