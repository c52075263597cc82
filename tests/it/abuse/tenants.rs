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

/// The tasks store's database for the app's data, with its own pool of `connections` (on the
/// backend the suite runs on), so that what a test runs on the store is not serialized by
/// anything in front of it (the per-site budget).
fn store_db(app: &TestApp, connections: usize) -> api::Db {
    if on_postgres() {
        let url = api::DatabaseUrl::parse(&postgres::database_for(&app.db_path)).unwrap();
        api::Db::postgres(api::open_postgres(&url, connections).unwrap())
    } else {
        api::Db::new(api::open_pool(&app.db_path, connections as u32).unwrap())
    }
}

/// Stores `n` tasks for `site` straight into the database; titles `filler task number 0..n`,
/// oldest first.
fn fill(app: &TestApp, site: &Site, n: i64) {
    db(app).fill_tasks(site_id(app, site), n, "filler task number ");
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
    let before = dump(&app).await;
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
    assert_eq!(dump(&app).await, before, "nothing stored changed");
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
    // 300 searches at once that match nothing: each reads the noisy site's tasks; half the
    // cores' worth run, 128 wait their turn, the rest are refused at once.
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

/// Many connections creating at once while the site stands at its quota: each create's count
/// and insert must act as one, or two creates both see room for one more. On SQLite writers
/// are serialized (an IMMEDIATE transaction); on PostgreSQL the store locks the site's row
/// first (`store::create`). Called on the store itself, with a connection per creator, so
/// nothing in front of it (the per-site budget) serializes them.
#[actix_web::test]
async fn concurrent_creates_at_the_quota_store_exactly_the_quota() {
    const QUOTA: usize = 20;
    const CREATORS: usize = 12;
    const TRIES: usize = 5;
    let app = spawn_app().await;
    let site = Site::new("racing");
    site.install(&app).await;
    let id = api::SiteId(site_id(&app, &site));
    let title = api::TaskTitle::parse("racing for the last places").unwrap();
    let store = store_db(&app, CREATORS);
    let creators = (0..CREATORS).map(|_| {
        let (store, title) = (store.clone(), title.clone());
        async move {
            let mut created = 0;
            for _ in 0..TRIES {
                let task = api::store::create(&store, id, title.clone(), None, None, None, QUOTA);
                created += usize::from(matches!(task.await.unwrap(), api::Created::Task(_)));
            }
            created
        }
    });
    let created = futures_util::future::join_all(creators).await;
    assert_eq!(created.iter().sum::<usize>(), QUOTA, "{created:?}");
    let stored: i64 = db(&app)
        .query_row(
            "SELECT count(*) FROM tasks WHERE site_id = ?1",
            [id.0],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stored, QUOTA as i64);
}

/// A create whose site was merged into another a moment ago (a Forge-first site adopted by its
/// Connect install, between resolving the site and storing the task) stores nothing and says
/// so, rather than a task that the merge then deletes with the old site. The same on both
/// backends; the handler answers it with a 503 and `Retry-After`, so the client retries.
#[actix_web::test]
async fn a_create_for_a_site_that_is_gone_stores_nothing() {
    let app = spawn_app().await;
    let site = Site::new("merged-away");
    site.install(&app).await;
    let id = api::SiteId(site_id(&app, &site));
    db(&app)
        .execute("DELETE FROM jwt_tokens WHERE id = ?1", [id.0])
        .unwrap();
    let title = api::TaskTitle::parse("too late").unwrap();
    let store = store_db(&app, 1);
    let outcome = api::store::create(&store, id, title, None, None, None, 10)
        .await
        .unwrap();
    assert_eq!(outcome, api::Created::SiteGone);
    let stored: i64 = db(&app)
        .query_row("SELECT count(*) FROM tasks", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stored, 0);
}

/// A search that matches nothing among the newest 5,000 of a site's tasks stops there and says
/// where to go on; the next request finds what lies beyond. The same on both backends.
#[actix_web::test]
async fn a_search_examines_at_most_5000_tasks_and_says_where_to_go_on() {
    let app = spawn_app().await;
    let site = Site::new("big");
    site.install(&app).await;
    let needle = site.create_task(&app, "the needle").await;
    fill(&app, &site, 5_000);
    let oldest_filler: i64 = db(&app)
        .query_row(
            "SELECT min(id) FROM tasks WHERE title LIKE 'filler%'",
            (),
            |r| r.get(0),
        )
        .unwrap();
    let list = |query: String| {
        let site = &site;
        let app = &app;
        async move {
            let res = site.api(app, Method::GET, &query, None).await;
            assert_eq!(res.status(), 200);
            res.json::<Value>().await.unwrap()
        }
    };
    let first = list("/api/tasks?q=needle".into()).await;
    assert_eq!(first, json!({"tasks": [], "next_before": oldest_filler}));
    let second = list(format!("/api/tasks?q=needle&before={oldest_filler}")).await;
    assert_eq!(second["tasks"][0]["id"], needle["id"]);
    assert_eq!(second["tasks"].as_array().unwrap().len(), 1);
    assert_eq!(second["next_before"], Value::Null);
    // A page that fills up stops early as before: the cursor is its last task.
    let done = list("/api/tasks?limit=2".into()).await;
    assert_eq!(done["tasks"].as_array().unwrap().len(), 2);
    assert_eq!(done["next_before"], done["tasks"][1]["id"]);
}

/// On PostgreSQL a listing walks the site's own rows of the `(site_id, id)` index and nothing
/// else, also under the generic plan the server makes for a prepared statement (without the
/// site's value). Written with `site_id = $1`, such a plan can walk the primary key backwards
/// and filter by site, reading every other site's tasks first (seen on the abuse run's data:
/// 22,000 entries for a 50-task site); whether the planner does depends on its statistics, so
/// this guards the property rather than replaying that plan. Counted with the server's own
/// statistics of index entries read.
#[actix_web::test]
async fn on_postgres_a_small_sites_listing_reads_none_of_the_other_sites_rows() {
    if skip::postgres_only_because("the plan PostgreSQL makes for a prepared statement") {
        return;
    }
    let app = spawn_app().await;
    let (small, big) = (Site::new("small"), Site::new("big"));
    small.install(&app).await;
    big.install(&app).await;
    fill(&app, &big, 22_000);
    fill(&app, &small, 50);
    db(&app).execute("ANALYZE tasks", ()).unwrap();
    // One connection: the store's listings, the setting and the statistics share a session.
    let store = store_db(&app, 1);
    store
        .read(async |tx| {
            tx.execute("SET plan_cache_mode = force_generic_plan", &[])
                .await
        })
        .await
        .unwrap();
    // Index entries of `tasks` read so far by anyone, once this session's counts are flushed.
    let entries_read = async || -> i64 {
        store
            .read(async |tx| {
                tx.execute("SELECT pg_stat_force_next_flush()", &[]).await?;
                tx.value(
                    "SELECT CAST(coalesce(sum(idx_tup_read), 0) AS bigint)
                     FROM pg_stat_user_indexes WHERE relname = 'tasks'",
                    &[],
                )
                .await
            })
            .await
            .unwrap()
    };
    let before = entries_read().await;
    let site = api::SiteId(site_id(&app, &small));
    for search in [None, Some("no such title".to_string()), None] {
        let query = api::store::ListQuery {
            limit: 50,
            search,
            ..Default::default()
        };
        let (page, _) = api::store::list(&store, site, query).await.unwrap();
        assert!(page.len() <= 50);
    }
    let read = entries_read().await - before;
    // Each listing reads the site's 50 entries twice (the page, the cursor probe): 300 in all.
    assert!(
        read <= 400,
        "three listings of a 50-task site read {read} index entries (the other site has 22,000)"
    );
}
