//! The users seen per installation: recorded on first sight, not rewritten on every request.

use reqwest::Method;
use serde_json::json;

use super::send;
use crate::harness::*;

fn seen(app: &TestApp, account: &str) -> Option<(String, String)> {
    db(app)
        .query_row(
            "SELECT first_seen_at, last_seen_at FROM jwt_users WHERE account_id = ?1",
            [account],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .ok()
}

/// An app with one installed site.
async fn installed_site() -> (TestApp, Site) {
    let app = spawn_app().await;
    let site = Site::new("alpha");
    site.install(&app).await;
    (app, site)
}

/// A context-token API call as `account-1`, which records that user.
async fn list_tasks_as_account_1(app: &TestApp, site: &Site) {
    let res = site.api(app, Method::GET, "/api/tasks", None).await;
    assert_eq!(res.status(), 200);
}

fn users(app: &TestApp) -> i64 {
    db(app)
        .query_row("SELECT COUNT(*) FROM jwt_users", (), |r| r.get(0))
        .unwrap()
}

#[actix_web::test]
async fn a_user_is_recorded_once_and_not_rewritten_on_every_request() {
    let (app, site) = installed_site().await;
    assert_eq!(seen(&app, "account-1"), None);

    let res = site.api(&app, Method::GET, "/api/tasks", None).await;
    assert_eq!(res.status(), 200);
    let installation: i64 = db(&app)
        .query_row(
            "SELECT site_id FROM jwt_users WHERE account_id = 'account-1'",
            (),
            |r| r.get(0),
        )
        .unwrap();
    let expected: i64 = db(&app)
        .query_row(
            "SELECT id FROM jwt_tokens WHERE client_key = ?1",
            [&site.client_key],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(installation, expected);

    // Mark the row as old: a second write would overwrite it with the current time.
    let old = "2000-01-01T00:00:00.000Z";
    db(&app)
        .execute(
            "UPDATE jwt_users SET last_seen_at = ?1 WHERE account_id = 'account-1'",
            [old],
        )
        .unwrap();
    assert_eq!(
        site.api(&app, Method::GET, "/api/tasks", None)
            .await
            .status(),
        200
    );
    assert_eq!(site.get(&app, "/confluence/tasks").await.status(), 200);
    assert_eq!(seen(&app, "account-1").unwrap().1, old);
}

#[actix_web::test]
async fn another_user_known_by_sub_only_is_recorded_while_the_first_is_throttled() {
    let (app, site) = installed_site().await;
    list_tasks_as_account_1(&app, &site).await;
    assert!(seen(&app, "account-1").is_some());
    // Another user (known by `sub` only) is still written: recording works, it is throttled.
    let token = site.hs256(&json!({
        "iss": site.client_key, "sub": "account-2", "iat": now(), "exp": now() + 60,
        "qsh": "context-qsh",
    }));
    let res = send(&app, Method::GET, "/api/tasks", Some(&token), None, None).await;
    assert_eq!(res.status(), 200);
    assert!(seen(&app, "account-2").is_some());
}

#[actix_web::test]
async fn an_anonymous_viewer_is_not_recorded() {
    let (app, site) = installed_site().await;
    list_tasks_as_account_1(&app, &site).await;
    let count = users(&app);
    let anonymous = site.hs256(&json!({
        "iss": site.client_key, "iat": now(), "exp": now() + 60, "qsh": "context-qsh",
    }));
    let res = send(
        &app,
        Method::GET,
        "/api/tasks",
        Some(&anonymous),
        None,
        None,
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(users(&app), count);
}
