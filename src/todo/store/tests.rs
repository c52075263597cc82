//! The tasks store on a real SQLite file (the integration suite runs the same operations on
//! PostgreSQL).

use super::list::{list_within, listing};
use super::*;
use crate::db::{Pool, open_pool};

pub(super) const A: SiteId = SiteId(1);
pub(super) const B: SiteId = SiteId(2);

/// A database file with two Connect sites (ids 1 and 2), as the store sees it and as a plain
/// pool to check rows with; shared by the store tests.
pub(super) struct TwoSites {
    pub(crate) db: Db,
    pub(crate) pool: Pool,
    _dir: tempfile::TempDir,
}

impl TwoSites {
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let pool = open_pool(&dir.path().join("tasks.sqlite3"), 4).unwrap();
        let mut conn = pool.get().unwrap();
        crate::db::migrate(&mut conn).unwrap();
        for key in ["site-a", "site-b"] {
            conn.execute(
                "INSERT INTO jwt_tokens (addon_key, client_key, shared_secret, base_url, product_type, installed_at, updated_at)
                 VALUES ('app', ?1, 's', 'https://x', 'confluence', 't', 't')",
                [key],
            )
            .unwrap();
        }
        drop(conn);
        Self {
            db: Db::new(pool.clone()),
            pool,
            _dir: dir,
        }
    }

    /// One number the database answers.
    fn count(&self, sql: &str) -> i64 {
        self.pool
            .get()
            .unwrap()
            .query_row(sql, [], |r| r.get(0))
            .unwrap()
    }

    /// A task stored for `site` with `title` (on `issue`, when given); fails the test on any
    /// other outcome.
    pub(crate) async fn add(&self, site: SiteId, title: &str, issue: Option<&JiraIssue>) -> Task {
        let outcome = create(&self.db, site, t(title), None, issue.cloned(), None, 100);
        created(outcome.await)
    }
}

pub(super) fn t(title: &str) -> TaskTitle {
    TaskTitle::parse(title).unwrap()
}

/// The task a create stored; fails the test on any other outcome.
fn created(outcome: Result<Created>) -> Task {
    match outcome.unwrap() {
        Created::Task(task) => task,
        other => panic!("expected a stored task, got {other:?}"),
    }
}

#[test]
fn the_shared_statements_number_their_parameters_as_postgresql_does() {
    let sqlite = listing(Dialect::Sqlite);
    crate::db::assert_shared_sql(&[
        FIND,
        SITE_ROW,
        CREATE,
        UPDATE,
        DELETE,
        &sqlite.page,
        &sqlite.edge,
    ]);
}

#[test]
fn both_listings_number_their_parameters_alike() {
    // PostgreSQL's own text cannot be prepared on SQLite (ILIKE): the same parameters in the
    // same order as SQLite's, which `assert_shared_sql` checked.
    let (sqlite, postgres) = (listing(Dialect::Sqlite), listing(Dialect::Postgres));
    let order = |sql: &str| -> Vec<usize> {
        let mut seen = Vec::new();
        for part in sql.split('$').skip(1) {
            let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
            let n: usize = digits.parse().unwrap();
            if !seen.contains(&n) {
                seen.push(n);
            }
        }
        seen
    };
    assert_eq!(order(&postgres.page), order(&sqlite.page));
    assert_eq!(order(&postgres.page), [1, 2, 3, 4, 5, 6]);
    assert_eq!(order(&postgres.edge), [1, 2, 3]);
    assert!(postgres.page.contains("ILIKE") && !sqlite.page.contains("ILIKE"));
}

#[test]
fn on_sqlite_a_listing_walks_the_sites_range_of_its_index() {
    let two = TwoSites::new();
    let conn = two.pool.get().unwrap();
    let sqlite = listing(Dialect::Sqlite);
    for sql in [&sqlite.page, &sqlite.edge] {
        let mut explain = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let unbound = std::iter::repeat_n(rusqlite::types::Null, explain.parameter_count());
        let plan: Vec<String> = explain
            .query_map(rusqlite::params_from_iter(unbound), |r| r.get(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert!(
            plan.iter()
                .any(|step| step.contains("INDEX tasks_by_site (site_id=? AND id<?)")),
            "{plan:?}"
        );
    }
}

#[actix_web::test]
async fn a_create_for_a_site_that_no_longer_exists_stores_nothing() {
    let two = TwoSites::new();
    two.pool
        .get()
        .unwrap()
        .execute("DELETE FROM jwt_tokens WHERE id = ?1", [A])
        .unwrap();
    let outcome = create(&two.db, A, t("lost?"), None, None, None, 10).await;
    assert_eq!(outcome.unwrap(), Created::SiteGone);
    assert_eq!(two.count("SELECT count(*) FROM tasks"), 0);
}

#[actix_web::test]
async fn a_task_of_another_site_is_not_found_updated_or_deleted() {
    let two = TwoSites::new();
    let outcome = create(&two.db, A, t("mine"), None, None, Some("acc".into()), 10).await;
    let task = created(outcome);
    assert_eq!(task.created_by.as_deref(), Some("acc"));
    let id = TaskId(task.id);
    assert_eq!(find(&two.db, B, id).await.unwrap(), None);
    let stolen = update(&two.db, B, id, Some(t("stolen")), Some(true)).await;
    assert_eq!(stolen.unwrap(), None);
    assert_eq!(delete(&two.db, B, id).await.unwrap(), None);
    assert_eq!(find(&two.db, A, id).await.unwrap(), Some(task));
}

#[actix_web::test]
async fn times_are_rfc3339_milliseconds_and_an_update_moves_only_updated_at() {
    let two = TwoSites::new();
    let task = two.add(A, "timed", None).await;
    let shape = |s: &str| {
        crate::util::time::parse_rfc3339(s).is_some() && s.len() == 24 && s.ends_with('Z')
    };
    assert!(shape(&task.created_at), "{}", task.created_at);
    assert_eq!(task.created_at, task.updated_at);
    let id = TaskId(task.id);
    let done = update(&two.db, A, id, None, Some(true)).await.unwrap();
    let done = done.unwrap();
    assert_eq!((done.done, done.title.as_str()), (true, "timed"));
    assert_eq!(done.created_at, task.created_at);
    assert!(shape(&done.updated_at) && done.updated_at >= task.updated_at);
    let deleted = delete(&two.db, A, id).await.unwrap();
    assert_eq!(deleted, Some(Deleted { issue_id: None }));
    assert_eq!(find(&two.db, A, id).await.unwrap(), None);
}

#[actix_web::test]
async fn listing_pages_newest_first_and_filters() {
    let two = TwoSites::new();
    for i in 0..5 {
        let task = two.add(A, &format!("task {i} 100%"), None).await;
        if i % 2 == 0 {
            let id = TaskId(task.id);
            update(&two.db, A, id, None, Some(true)).await.unwrap();
        }
    }
    two.add(B, "other site", None).await;
    let list = async |query: ListQuery| list(&two.db, A, query).await.unwrap();
    let (page, next) = list(ListQuery {
        limit: 2,
        ..Default::default()
    })
    .await;
    assert_eq!(
        page.iter().map(|t| t.title.as_str()).collect::<Vec<_>>(),
        ["task 4 100%", "task 3 100%"]
    );
    let (rest, last) = list(ListQuery {
        limit: 10,
        before: next,
        ..Default::default()
    })
    .await;
    assert_eq!(rest.len(), 3);
    assert_eq!(last, None);
    let (done, _) = list(ListQuery {
        limit: 10,
        done: Some(true),
        ..Default::default()
    })
    .await;
    assert_eq!(done.len(), 3);
    let search = async |s: &str| {
        let query = ListQuery {
            limit: 10,
            search: Some(s.into()),
            ..Default::default()
        };
        list(query).await.0.len()
    };
    assert_eq!(search("TASK 1").await, 1);
    assert_eq!(search("%").await, 5, "a literal percent, not a wildcard");
    assert_eq!(search("_").await, 0);
}

#[actix_web::test]
async fn a_site_at_its_quota_gets_no_more_tasks_and_other_sites_are_not_counted() {
    let two = TwoSites::new();
    let quota = async |site: SiteId, title: &str| {
        create(&two.db, site, t(title), None, None, None, 3).await
    };
    for i in 0..3 {
        created(quota(A, &format!("t{i}")).await);
    }
    assert_eq!(quota(A, "t3").await.unwrap(), Created::QuotaReached);
    created(quota(B, "b").await);
    let count = two.count("SELECT count(*) FROM tasks WHERE site_id = 1");
    assert_eq!(count, 3);
}

#[actix_web::test]
async fn a_search_examines_a_bounded_number_of_rows_and_says_where_to_go_on() {
    let two = TwoSites::new();
    let mut ids = Vec::new();
    for i in 0..10 {
        let name = if i == 1 { "needle" } else { "hay" };
        ids.push(two.add(A, name, None).await.id);
    }
    let query = ListQuery {
        limit: 5,
        search: Some("needle".into()),
        ..Default::default()
    };
    // Four rows per request: two requests find nothing and say where to go on.
    let mut pages = Vec::new();
    let mut cursor = None;
    loop {
        let on = ListQuery {
            before: cursor,
            ..query.clone()
        };
        let (page, next) = list_within(&two.db, A, on, 4).await.unwrap();
        pages.push((page.iter().map(|t| t.id).collect::<Vec<_>>(), next));
        cursor = next;
        if next.is_none() {
            break;
        }
    }
    assert_eq!(
        pages,
        [
            (vec![], Some(ids[6])),
            (vec![], Some(ids[2])),
            (vec![ids[1]], None)
        ]
    );
}
