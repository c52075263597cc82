//! Forge callers are the site's users too: a verified UI call with a `principal` records that
//! account in `jwt_users` for its site through the path Connect uses (at most once per window
//! per user and site), so the site's users are known whichever way they came in.

use reqwest::Method;
use serde_json::json;

use super::{forge_create, site_rows};
use crate::harness::*;

/// `(site_id, first_seen_at, last_seen_at)` of an account.
fn seen(app: &TestApp, account: &str) -> Option<(i64, String, String)> {
    db(app)
        .query_row(
            "SELECT site_id, first_seen_at, last_seen_at FROM jwt_users WHERE account_id = ?1",
            [account],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .ok()
}

fn users(app: &TestApp) -> i64 {
    db(app)
        .query_row("SELECT COUNT(*) FROM jwt_users", (), |r| r.get(0))
        .unwrap()
}

fn site_id(app: &TestApp, installation_id: &str) -> i64 {
    db(app)
        .query_row(
            "SELECT id FROM jwt_tokens WHERE installation_id = ?1",
            [installation_id],
            |r| r.get(0),
        )
        .unwrap()
}

/// Waits for the account's row (the bookkeeping writer commits it after the response).
async fn wait_seen(app: &TestApp, account: &str) -> (i64, String, String) {
    wait_written(account, || seen(app, account)).await
}

/// A UI call as another user of `site` whose row, once written, shows the notes taken
/// before it were.
async fn sentinel(app: &TestApp, site: &ForgeSite, account: &str) {
    let mut other = site.clone();
    other.principal = Some(account.into());
    let res = other.call(app, Method::GET, "/forge/api/tasks", None).await;
    assert_eq!(res.status(), 200);
    wait_seen(app, account).await;
}

/// Marks the account's row as last seen long ago: a second write would overwrite it.
fn age(app: &TestApp, account: &str) -> String {
    let old = "2000-01-01T00:00:00.000Z";
    let changed = db(app)
        .execute(
            "UPDATE jwt_users SET last_seen_at = ?1 WHERE account_id = ?2",
            [old, account],
        )
        .unwrap();
    assert_eq!(changed, 1);
    seen(app, account).unwrap().2
}

#[actix_web::test]
async fn a_forge_ui_call_records_its_user_once_per_window() {
    let forge = spawn_forge_app().await;
    let app = &forge.app;
    let site = ForgeSite::new();
    assert_eq!(users(app), 0);
    let res = site.call(app, Method::GET, "/forge/api/tasks", None).await;
    assert_eq!(res.status(), 200);
    let (recorded_site, first, last) = wait_seen(app, "forge-account-1").await;
    assert_eq!(recorded_site, site_id(app, &site.installation_id));
    assert_eq!(first, last, "first sight");

    let old = age(app, "forge-account-1");
    forge_create(app, &site, "another call").await;
    let res = site.call(app, Method::GET, "/forge/api/tasks", None).await;
    assert_eq!(res.status(), 200);
    sentinel(app, &site, "forge-account-9").await;
    assert_eq!(
        seen(app, "forge-account-1").unwrap().2,
        old,
        "not rewritten within the window"
    );

    // Another user of the same site is still written: recording is throttled per user.
    let mut colleague = site.clone();
    colleague.principal = Some("forge-account-2".into());
    let res = colleague
        .call(app, Method::GET, "/forge/api/tasks", None)
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(wait_seen(app, "forge-account-2").await.0, recorded_site);
    assert_eq!(users(app), 3, "two users and the sentinel");
}

#[actix_web::test]
async fn calls_without_a_principal_events_and_refused_calls_record_nobody() {
    let forge = spawn_forge_app().await;
    let app = &forge.app;
    let site = ForgeSite::new();
    let res = site
        .call(
            app,
            Method::POST,
            "/forge/events",
            Some(site.installed_event()),
        )
        .await;
    assert_eq!(
        res.status(),
        200,
        "the event (its token has a principal: still not a visit)"
    );
    let mut trigger = site.clone();
    trigger.principal = None;
    let res = trigger
        .call(app, Method::GET, "/forge/api/tasks", None)
        .await;
    assert_eq!(res.status(), 200);
    let mut other_app = site.claims();
    other_app["aud"] = json!(OTHER_APP_ARI);
    let token = sign_fit(&other_app, forge_key(), Some(FORGE_KID));
    let res = site
        .call_with(app, &token, None, Method::GET, "/forge/api/tasks", None)
        .await;
    assert_eq!(res.status(), 401);
    assert_eq!(site_rows(app).len(), 1);
    sentinel(app, &site, "forge-account-9").await;
    assert_eq!(users(app), 1, "nobody recorded but the sentinel");
}

#[actix_web::test]
async fn a_user_seen_through_connect_is_not_rewritten_when_the_same_user_comes_through_forge() {
    let forge = spawn_forge_app().await;
    let app = &forge.app;
    let connect = Site::new("both-ways");
    let mut fsite = ForgeSite::new();
    fsite.principal = Some("account-1".into());
    let payload = adopted_payload(&connect, &fsite);
    assert_eq!(
        connect.post_lifecycle(app, "installed", &payload).await,
        204
    );
    let res = connect.api(app, Method::GET, "/api/tasks", None).await;
    assert_eq!(res.status(), 200);
    let (site, _, _) = wait_seen(app, "account-1").await;
    let old = age(app, "account-1");

    let res = fsite.call(app, Method::GET, "/forge/api/tasks", None).await;
    assert_eq!(res.status(), 200);
    sentinel(app, &fsite, "account-9").await;
    assert_eq!(
        seen(app, "account-1"),
        Some((site, seen(app, "account-1").unwrap().1, old)),
        "one site, one row, one window for both ways in"
    );
    assert_eq!(users(app), 2, "one row for both ways in, and the sentinel");
}
