//! Task SQL for Jira issues: an issue's tasks, its progress, its key kept up to date, and the
//! clean-up when an issue or a whole project is deleted. Every query filters on the site; an
//! issue is found by its id (stable), never by its key.

use rusqlite::{Connection, params};

use super::store::{COLUMNS, from_row};
use super::task::Task;
use crate::site::SiteId;

/// Tasks of one issue a listing returns at most (the panel shows them all at once; the site's
/// quota still bounds what an issue can hold).
pub const MAX_ISSUE_TASKS: u32 = 500;

/// Open and total tasks of an issue, as written to its Jira property.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Progress {
    pub open: i64,
    pub total: i64,
}

/// The issue's tasks, oldest first, at most `limit` (and whether there are more).
pub fn list(
    conn: &Connection,
    site: SiteId,
    issue_id: &str,
    limit: u32,
) -> rusqlite::Result<(Vec<Task>, bool)> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM tasks WHERE site_id = ?1 AND issue_id = ?2 ORDER BY id LIMIT ?3"
    ))?;
    let mut tasks = stmt
        .query_map(params![site, issue_id, i64::from(limit) + 1], from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let more = tasks.len() > limit as usize;
    tasks.truncate(limit as usize);
    Ok((tasks, more))
}

/// Records the issue's current key (from a signed token) on its tasks; how many changed.
pub fn refresh_key(
    conn: &Connection,
    site: SiteId,
    issue_id: &str,
    key: &str,
) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "UPDATE tasks SET issue_key = ?3 WHERE site_id = ?1 AND issue_id = ?2 AND issue_key IS NOT ?3",
    )?
    .execute(params![site, issue_id, key])
}

/// Open and total tasks of the issue.
pub fn progress(conn: &Connection, site: SiteId, issue_id: &str) -> rusqlite::Result<Progress> {
    conn.prepare_cached(
        "SELECT count(*) FILTER (WHERE done = 0), count(*) FROM tasks
         WHERE site_id = ?1 AND issue_id = ?2",
    )?
    .query_row(params![site, issue_id], |row| {
        Ok(Progress {
            open: row.get(0)?,
            total: row.get(1)?,
        })
    })
}

/// Deletes the issue's tasks; how many (none the second time: deletion events repeat).
pub fn delete_issue(conn: &Connection, site: SiteId, issue_id: &str) -> rusqlite::Result<usize> {
    conn.prepare_cached("DELETE FROM tasks WHERE site_id = ?1 AND issue_id = ?2")?
        .execute(params![site, issue_id])
}

/// Deletes the tasks of every issue of the project; how many.
pub fn delete_project(
    conn: &Connection,
    site: SiteId,
    project_id: &str,
) -> rusqlite::Result<usize> {
    conn.prepare_cached("DELETE FROM tasks WHERE site_id = ?1 AND issue_project_id = ?2")?
        .execute(params![site, project_id])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forge::JiraIssue;
    use crate::todo::store::tests::db_with_two_sites;
    use crate::todo::store::{Created, create};
    use crate::todo::task::TaskTitle;

    fn issue(id: &str, key: &str, project: &str) -> JiraIssue {
        JiraIssue {
            id: id.into(),
            key: key.into(),
            project_id: project.into(),
        }
    }

    fn add(conn: &Connection, site: SiteId, title: &str, on: Option<&JiraIssue>) -> Task {
        let title = TaskTitle::parse(title).unwrap();
        match create(conn, site, &title, None, on, None, "t", 100).unwrap() {
            Created::Task(task) => task,
            other => panic!("{other:?}"),
        }
    }

    const A: SiteId = SiteId(1);
    const B: SiteId = SiteId(2);

    #[test]
    fn an_issue_lists_its_own_tasks_oldest_first_and_counts_them() {
        let conn = db_with_two_sites();
        let one = issue("10001", "P-1", "100");
        let first = add(&conn, A, "first", Some(&one));
        add(&conn, A, "page task", None);
        add(&conn, A, "other issue", Some(&issue("10002", "P-2", "100")));
        add(&conn, B, "other site, same id", Some(&one));
        let second = add(&conn, A, "second", Some(&one));
        conn.execute("UPDATE tasks SET done = 1 WHERE id = ?1", [second.id])
            .unwrap();
        let (tasks, more) = list(&conn, A, "10001", 10).unwrap();
        let titles: Vec<_> = tasks.iter().map(|t| t.title.as_str()).collect();
        assert_eq!((titles, more), (vec!["first", "second"], false));
        assert_eq!(first.issue.unwrap().key, "P-1");
        assert_eq!(
            progress(&conn, A, "10001").unwrap(),
            Progress { open: 1, total: 2 }
        );
        assert!(
            list(&conn, A, "10001", 1).unwrap().1,
            "one more beyond the limit"
        );
    }

    #[test]
    fn deletions_take_only_their_issue_or_project_on_their_site_and_repeat_harmlessly() {
        let conn = db_with_two_sites();
        add(&conn, A, "a1", Some(&issue("1", "P-1", "100")));
        add(&conn, A, "a2", Some(&issue("2", "P-2", "100")));
        add(&conn, A, "a3", Some(&issue("3", "Q-1", "200")));
        add(&conn, B, "b1", Some(&issue("1", "P-1", "100")));
        assert_eq!(delete_issue(&conn, A, "1").unwrap(), 1);
        assert_eq!(delete_issue(&conn, A, "1").unwrap(), 0);
        assert_eq!(delete_project(&conn, A, "100").unwrap(), 1);
        assert_eq!(delete_project(&conn, A, "100").unwrap(), 0);
        let left: Vec<String> = conn
            .prepare("SELECT title FROM tasks ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(left, ["a3", "b1"]);
    }

    #[test]
    fn a_moved_issue_gets_its_new_key_on_its_tasks() {
        let conn = db_with_two_sites();
        add(&conn, A, "a", Some(&issue("1", "OLD-1", "100")));
        add(&conn, B, "b", Some(&issue("1", "OLD-1", "100")));
        assert_eq!(refresh_key(&conn, A, "1", "NEW-7").unwrap(), 1);
        assert_eq!(refresh_key(&conn, A, "1", "NEW-7").unwrap(), 0);
        let keys: Vec<String> = conn
            .prepare("SELECT issue_key FROM tasks ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(keys, ["NEW-7", "OLD-1"]);
    }
}
