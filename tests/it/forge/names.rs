//! Creators' display names are not the server's on a Forge site: even with an app system token
//! in hand, the task API answers with the account id (`created_by`) and asks Confluence nothing
//! (the views ask as the viewing user, forge/src/shared/names.js).

use reqwest::Method;
use serde_json::{Value, json};

use crate::calls_back::publish::system_token;
use crate::calls_back::stand_in::StandIn;
use crate::harness::*;

#[actix_web::test]
async fn the_task_api_carries_the_account_id_and_asks_the_site_for_no_name() {
    let s = StandIn::start("forge-names");
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
        assert!(!text.contains("created_by_name"), "{text}");
    }
    let seen = s.host.seen();
    assert!(seen.is_empty(), "nothing asked of the site: {seen:?}");
}
