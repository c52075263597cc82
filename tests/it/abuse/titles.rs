//! Issue 12, failure 5: titles accepted invisible and direction-changing characters. Each class
//! now gets a 422 through the API, on create and on rename, and nothing stored changes.

use reqwest::Method;
use serde_json::json;

use crate::harness::raw_http::request;
use crate::harness::*;

/// One title per refused class, as the issue found them.
const REFUSED: &[(&str, &str)] = &[
    ("zero-width only", "\u{200B}\u{200B}"),
    ("BOM only", "\u{FEFF}"),
    ("right-to-left override", "invoice \u{202E}fdp.exe"),
    ("line separator", "one\u{2028}two"),
    ("paragraph separator", "one\u{2029}two"),
    ("noncharacter U+FFFF", "end\u{FFFF}"),
    ("noncharacter U+FDD0", "\u{FDD0}x"),
    ("unassigned", "x\u{0378}"),
    ("ignorable only", "\u{FE0F}\u{3164}"),
    ("control", "bell\u{0007}"),
];

#[actix_web::test]
async fn titles_with_invisible_or_reordering_characters_get_a_422_and_change_nothing() {
    let app = spawn_app().await;
    let site = Site::new("titles");
    site.install(&app).await;
    let kept = site.create_task(&app, "a plain title").await;
    let path = format!("/api/tasks/{}", kept["id"]);
    let before = dump(&app).await;
    for (class, title) in REFUSED {
        let created = site
            .api(
                &app,
                Method::POST,
                "/api/tasks",
                Some(json!({"title": title})),
            )
            .await;
        assert_eq!(created.status(), 422, "create, {class}");
        let error = created.json::<serde_json::Value>().await.unwrap();
        assert!(
            error["error"].as_str().unwrap().starts_with("title must"),
            "{class}: {error}"
        );
        let renamed = site
            .api(&app, Method::PATCH, &path, Some(json!({"title": title})))
            .await;
        assert_eq!(renamed.status(), 422, "rename, {class}");
    }
    assert_eq!(dump(&app).await, before, "nothing stored changed");
    // An emoji sequence joined by U+200D is an ordinary title.
    site.create_task(&app, "👩\u{200D}💻 fix the laptop").await;
}

#[actix_web::test]
async fn an_unpaired_surrogate_escape_gets_a_422_and_changes_nothing() {
    let app = spawn_app().await;
    let site = Site::new("surrogates");
    site.install(&app).await;
    site.create_task(&app, "first").await;
    let token = site.context_token("account-1");
    let before = dump(&app).await;
    for body in [
        r#"{"title": "\ud800"}"#,
        r#"{"title": "a\uDC00b"}"#,
        r#"{"title": "\ud83d\u0041"}"#,
    ] {
        let res = request(app.port, "POST", "/api/tasks", Some(&token), body);
        assert_eq!(res.status, 422, "{body}: {}", res.text());
        assert_eq!(
            res.json()["error"],
            "text must not contain unpaired surrogates (\\uD800-\\uDFFF)"
        );
    }
    // A pair is one character, and an ordinary title.
    let paired = request(
        app.port,
        "POST",
        "/api/tasks",
        Some(&token),
        r#"{"title": "\ud83d\ude00"}"#,
    );
    assert_eq!(paired.status, 201, "{}", paired.text());
    let after = dump(&app).await;
    assert!(
        after.starts_with(&before),
        "only the paired title was added"
    );
}
