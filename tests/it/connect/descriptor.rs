//! The descriptor Confluence installs the app from.

use serde_json::json;

use crate::harness::*;

#[actix_web::test]
async fn the_descriptor_is_pinned_and_served_identically_on_both_paths() {
    let app = spawn_app().await;
    let mut bodies = Vec::new();
    for path in ["/atlassian-connect.json", "/confluence/descriptor"] {
        let res = app
            .client
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(res.headers()["content-type"], "application/json", "{path}");
        bodies.push(res.bytes().await.unwrap());
    }
    assert_eq!(bodies[0], bodies[1], "both paths serve the same bytes");
    let text = String::from_utf8(bodies[0].to_vec()).unwrap();
    insta::assert_snapshot!("descriptor", text);
}

#[actix_web::test]
async fn the_descriptor_names_the_app_its_authentication_lifecycle_and_scopes() {
    let app = spawn_app().await;
    let d = app.descriptor().await;
    assert_eq!(d["key"], ADDON_KEY);
    assert_eq!(d["name"], "Todo");
    assert_eq!(d["baseUrl"], SITE_URL);
    assert_eq!(d["authentication"], json!({"type": "jwt"}));
    assert_eq!(d["apiVersion"], 1);
    assert_eq!(
        d["lifecycle"],
        json!({
            "installed": "/confluence/installed",
            "uninstalled": "/confluence/uninstalled",
            "enabled": "/confluence/enabled",
            "disabled": "/confluence/disabled",
        })
    );
    assert_eq!(
        d["apiMigrations"],
        json!({"signed-install": true, "context-qsh": true, "gdpr": true})
    );
    // No ACT_AS_USER: the app never acts as a user; the page publishes through AP.request.
    assert_eq!(d["scopes"], json!(["READ", "WRITE"]));
}

#[actix_web::test]
async fn the_descriptor_declares_the_macro_its_editor_and_the_todo_page() {
    let app = spawn_app().await;
    let d = app.descriptor().await;
    let mac = &d["modules"]["dynamicContentMacros"][0];
    assert_eq!(mac["key"], "dynamic-task-macro");
    assert_eq!(mac["name"]["value"], "TODO");
    assert!(
        mac["url"]
            .as_str()
            .unwrap()
            .starts_with("/confluence/get_task?id={id}"),
        "{}",
        mac["url"]
    );
    assert_eq!(
        mac["icon"],
        json!({"width": 80, "height": 80, "url": "/images/confluence/logo_300x300.png"})
    );
    assert_eq!(mac["featured"], true);
    let params = mac["parameters"].as_array().unwrap();
    assert_eq!(params.len(), 1);
    assert_eq!(params[0]["identifier"], "id");
    assert_eq!(params[0]["name"]["value"], "Task ID");
    assert_eq!(params[0]["description"]["value"], "The task ID from TODO");
    assert_eq!(params[0]["type"], "string");
    assert_eq!(params[0]["required"], true);
    // The macro editor gets the page the macro is on; the Todo page is a general page.
    assert_eq!(
        mac["editor"]["url"],
        "/confluence/macro_editor?page_id={page.id}"
    );
    let page = &d["modules"]["generalPages"][0];
    assert_eq!(
        (
            page["key"].as_str(),
            page["name"]["value"].as_str(),
            page["url"].as_str()
        ),
        (Some("todo-page"), Some("Todo"), Some("/confluence/tasks"))
    );
}

#[actix_web::test]
async fn the_descriptor_base_url_drops_a_trailing_slash() {
    let app = spawn_app_with(vec![("SITE_URL", format!("{SITE_URL}/"))]).await;
    let d = app.descriptor().await;
    assert_eq!(d["baseUrl"], SITE_URL);
}
