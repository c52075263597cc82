//! The users seen per installation: recorded on first sight, not rewritten on every request,
//! and noted in memory for the bookkeeping writer, so a request never waits for the row (the
//! tests wait for it; a later user's row, once there, shows every earlier note was written).

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

/// Waits for the account's row (the writer commits it after the response).
async fn wait_seen(app: &TestApp, account: &str) -> (String, String) {
    wait_written(account, || seen(app, account)).await
}

/// A request as another user whose row, once written, shows the notes taken before it were.
async fn sentinel(app: &TestApp, site: &Site, account: &str) {
    let token = site.hs256(&json!({
        "iss": site.client_key, "sub": account, "iat": now(), "exp": now() + 60,
        "qsh": "context-qsh",
    }));
    let res = send(app, Method::GET, "/api/tasks", Some(&token), None, None).await;
    assert_eq!(res.status(), 200);
    wait_seen(app, account).await;
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
    wait_seen(&app, "account-1").await;
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
    sentinel(&app, &site, "account-9").await;
    assert_eq!(seen(&app, "account-1").unwrap().1, old);
}

#[actix_web::test]
async fn another_user_known_by_sub_only_is_recorded_while_the_first_is_throttled() {
    let (app, site) = installed_site().await;
    list_tasks_as_account_1(&app, &site).await;
    wait_seen(&app, "account-1").await;
    // Another user (known by `sub` only) is still written: recording works, it is throttled.
    let token = site.hs256(&json!({
        "iss": site.client_key, "sub": "account-2", "iat": now(), "exp": now() + 60,
        "qsh": "context-qsh",
    }));
    let res = send(&app, Method::GET, "/api/tasks", Some(&token), None, None).await;
    assert_eq!(res.status(), 200);
    wait_seen(&app, "account-2").await;
}

#[actix_web::test]
async fn an_anonymous_viewer_is_not_recorded() {
    let (app, site) = installed_site().await;
    list_tasks_as_account_1(&app, &site).await;
    wait_seen(&app, "account-1").await;
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
    sentinel(&app, &site, "account-9").await;
    assert_eq!(users(&app), count + 1, "the sentinel only");
}

/// The bookkeeping tables' write lock, held by a test connection (SQLite: an IMMEDIATE
/// transaction; PostgreSQL: `jwt_users` locked in EXCLUSIVE mode, which lets reads through).
enum WriteLock {
    Sqlite(rusqlite::Connection),
    Postgres(tokio_postgres::Client),
}

impl WriteLock {
    async fn take(app: &TestApp) -> Self {
        if on_postgres() {
            let url = postgres::database_for(&app.db_path);
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap();
            actix_web::rt::spawn(connection);
            client
                .batch_execute("BEGIN; LOCK TABLE jwt_users IN EXCLUSIVE MODE")
                .await
                .unwrap();
            Self::Postgres(client)
        } else {
            let holder = rusqlite::Connection::open(&app.db_path).unwrap();
            holder.execute_batch("BEGIN IMMEDIATE").unwrap();
            Self::Sqlite(holder)
        }
    }

    async fn release(self) {
        match self {
            Self::Sqlite(holder) => holder.execute_batch("COMMIT").unwrap(),
            Self::Postgres(client) => client.batch_execute("COMMIT").await.unwrap(),
        }
    }
}

#[actix_web::test]
async fn a_request_answers_while_its_user_row_cannot_be_written_and_the_row_comes_after() {
    let (app, site) = installed_site().await;
    let lock = WriteLock::take(&app).await;
    // The site's first request: its bookkeeping is noted, and the writer waits for the lock.
    list_tasks_as_account_1(&app, &site).await;
    assert_eq!(
        seen(&app, "account-1"),
        None,
        "nothing written under the lock"
    );
    lock.release().await;
    let (first, last) = wait_seen(&app, "account-1").await;
    assert_eq!(first, last, "first sight");
}
