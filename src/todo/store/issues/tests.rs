//! The tasks of Jira issues on a real SQLite file (the integration suite runs the same
//! operations on PostgreSQL).

use super::*;
use crate::forge::JiraIssue;
use crate::todo::store::tests::{A, B, TwoSites};

fn issue(id: &str, key: &str, project: &str) -> JiraIssue {
    JiraIssue {
        id: id.into(),
        key: key.into(),
        project_id: project.into(),
    }
}

#[test]
fn the_shared_statements_number_their_parameters_as_postgresql_does() {
    crate::db::assert_shared_sql(&[TASKS, REFRESH_KEY, PROGRESS, DELETE_ISSUE, DELETE_PROJECT]);
}

#[actix_web::test]
async fn an_issue_lists_its_own_tasks_oldest_first_and_counts_them() {
    let two = TwoSites::new();
    let one = issue("10001", "P-1", "100");
    let first = two.add(A, "first", Some(&one)).await;
    two.add(A, "page task", None).await;
    two.add(A, "other issue", Some(&issue("10002", "P-2", "100")))
        .await;
    two.add(B, "other site, same id", Some(&one)).await;
    let second = two.add(A, "second", Some(&one)).await;
    two.pool
        .get()
        .unwrap()
        .execute("UPDATE tasks SET done = 1 WHERE id = ?1", [second.id])
        .unwrap();
    let (tasks, more) = tasks(&two.db, A, "10001".into(), 10).await.unwrap();
    let titles: Vec<_> = tasks.iter().map(|t| t.title.as_str()).collect();
    assert_eq!((titles, more), (vec!["first", "second"], false));
    assert_eq!(first.issue.unwrap().key, "P-1");
    assert_eq!(
        progress(&two.db, A, "10001".into()).await.unwrap(),
        Progress { open: 1, total: 2 }
    );
    assert_eq!(
        progress(&two.db, A, "none".into()).await.unwrap(),
        Progress { open: 0, total: 0 }
    );
    let (one_of_two, more) = super::tasks(&two.db, A, "10001".into(), 1).await.unwrap();
    assert_eq!(
        (one_of_two.len(), more),
        (1, true),
        "one more beyond the limit"
    );
}

#[actix_web::test]
async fn deletions_take_only_their_issue_or_project_on_their_site_and_repeat_harmlessly() {
    let two = TwoSites::new();
    two.add(A, "a1", Some(&issue("1", "P-1", "100"))).await;
    two.add(A, "a2", Some(&issue("2", "P-2", "100"))).await;
    two.add(A, "a3", Some(&issue("3", "Q-1", "200"))).await;
    two.add(B, "b1", Some(&issue("1", "P-1", "100"))).await;
    let db = &two.db;
    assert_eq!(delete_issue(db, A, "1".into()).await.unwrap(), 1);
    assert_eq!(delete_issue(db, A, "1".into()).await.unwrap(), 0);
    assert_eq!(delete_project(db, A, "100".into()).await.unwrap(), 1);
    assert_eq!(delete_project(db, A, "100".into()).await.unwrap(), 0);
    let left: Vec<String> = two
        .pool
        .get()
        .unwrap()
        .prepare("SELECT title FROM tasks ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(left, ["a3", "b1"]);
}

#[actix_web::test]
async fn a_moved_issue_gets_its_new_key_on_its_tasks() {
    let two = TwoSites::new();
    two.add(A, "a", Some(&issue("1", "OLD-1", "100"))).await;
    two.add(B, "b", Some(&issue("1", "OLD-1", "100"))).await;
    let refresh = async || refresh_key(&two.db, A, "1".into(), "NEW-7".into()).await;
    assert_eq!(refresh().await.unwrap(), 1);
    assert_eq!(refresh().await.unwrap(), 0);
    let keys: Vec<String> = two
        .pool
        .get()
        .unwrap()
        .prepare("SELECT issue_key FROM tasks ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(keys, ["NEW-7", "OLD-1"]);
}
