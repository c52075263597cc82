//! Issue 12, failure 4: one tenant slowed every other tenant (any number of tasks; 32
//! concurrent searches by one site took another's task list from 1-2 ms to 0.9 s). A site now
//! has a task quota (409, nothing stored), its task operations run within a budget of the
//! pool (the flooder gets clean 429s with `Retry-After`, the other site its 200s), and a
//! search examines a bounded number of rows. The p99 figures come from `scripts/abuse.sh`.

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::*;

fn site_id(app: &TestApp, site: &Site) -> i64 {
    db(app)
        .query_row(
            "SELECT id FROM jwt_tokens WHERE client_key = ?1",
            [&site.client_key],
            |r| r.get(0),
        )
        .unwrap()
}

/// Stores `n` tasks for `site` straight into the database (fast, and not what is tested).
fn fill(app: &TestApp, site: &Site, n: usize) {
    let mut conn = db(app);
    let id = site_id(app, site);
    let tx = conn.transaction().unwrap();
    for i in 0..n {
        tx.execute(
            "INSERT INTO tasks (site_id, title, created_at, updated_at) VALUES (?1, ?2, 't', 't')",
            rusqlite::params![id, format!("filler task number {i}")],
        )
        .unwrap();
    }
    tx.commit().unwrap();
}

#[actix_web::test]
async fn a_site_at_its_task_quota_gets_a_409_and_nothing_is_stored() {
    let app = spawn_app_with(vec![("MAX_TASKS_PER_SITE", "5".into())]).await;
    let (full, other) = (Site::new("full"), Site::new("other"));
    full.install(&app).await;
    other.install(&app).await;
    for i in 0..5 {
        full.create_task(&app, &format!("task {i}")).await;
    }
    let before = dump(&app);
    let refused = full
        .api(
            &app,
            Method::POST,
            "/api/tasks",
            Some(json!({"title": "one too many"})),
        )
        .await;
    assert_eq!(refused.status(), 409);
    assert_eq!(
        refused.json::<Value>().await.unwrap(),
        json!({"error": "this site has reached its limit of 5 tasks; delete some to add more"})
    );
    assert_eq!(dump(&app), before, "nothing stored changed");
    // The quota is per site, and deleting makes room again.
    other.create_task(&app, "another site's task").await;
    let first = full
        .api(&app, Method::GET, "/api/tasks?limit=1", None)
        .await;
    let id = first.json::<Value>().await.unwrap()["tasks"][0]["id"].clone();
    let deleted = full
        .api(&app, Method::DELETE, &format!("/api/tasks/{id}"), None)
        .await;
    assert_eq!(deleted.status(), 204);
    full.create_task(&app, "room again").await;
}

#[actix_web::test]
async fn a_site_flooding_searches_gets_429s_while_another_site_keeps_getting_200s() {
    // The flood comes from one address here; let it open as many connections as it likes.
    let app = spawn_app_with(vec![("MAX_CONNECTIONS_PER_IP", "0".into())]).await;
    let (noisy, quiet) = (Site::new("noisy"), Site::new("quiet"));
    noisy.install(&app).await;
    quiet.install(&app).await;
    fill(&app, &noisy, 5_000);
    quiet.create_task(&app, "quiet task").await;
    // 300 searches at once that match nothing: each reads the noisy site's tasks; 2 run,
    // 128 wait their turn, the rest are refused at once.
    let flood = (0..300).map(|_| {
        noisy.api(
            &app,
            Method::GET,
            "/api/tasks?q=no-such-title&limit=50",
            None,
        )
    });
    let probes = async {
        let mut statuses = Vec::new();
        for _ in 0..20 {
            let res = quiet.api(&app, Method::GET, "/api/tasks", None).await;
            statuses.push(res.status().as_u16());
        }
        statuses
    };
    let (flooded, quiet_statuses) =
        futures_util::future::join(futures_util::future::join_all(flood), probes).await;
    assert!(
        quiet_statuses.iter().all(|s| *s == 200),
        "{quiet_statuses:?}"
    );
    let mut throttled = 0;
    for res in flooded {
        match res.status().as_u16() {
            200 => {}
            429 => {
                throttled += 1;
                assert_eq!(res.headers()["retry-after"], "1");
                assert_eq!(
                    res.json::<Value>().await.unwrap()["error"],
                    "too many requests for this site at once, please retry"
                );
            }
            other => panic!("the flooding site got a {other}"),
        }
    }
    assert!(throttled > 0, "the flooding site was never throttled");
}
