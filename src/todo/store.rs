//! Task SQL. Every function takes the site from the verified request and every query filters
//! on it: a task of another site is "not found", exactly like a missing one.

use rusqlite::{Connection, Row, params};

use super::task::{IssueRef, PageId, Task, TaskId, TaskTitle};
use crate::db::one_row;
use crate::forge::JiraIssue;
use crate::site::SiteId;

/// Every reader names these, in this order ([`from_row`]).
pub(super) const COLUMNS: &str =
    "id, title, done, created_by, page_id, created_at, updated_at, issue_id, issue_key";

pub(super) fn from_row(row: &Row<'_>) -> rusqlite::Result<Task> {
    Ok(Task {
        id: row.get(0)?,
        title: row.get(1)?,
        done: row.get(2)?,
        created_by: row.get(3)?,
        page_id: row.get(4)?,
        created_at: row.get(5)?,
        updated_at: row.get(6)?,
        issue: IssueRef::from_columns(row.get(7)?, row.get(8)?),
    })
}

/// One task of this site.
pub fn find(conn: &Connection, site: SiteId, id: TaskId) -> rusqlite::Result<Option<Task>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM tasks WHERE site_id = ?1 AND id = ?2"
    ))?;
    one_row(&mut stmt, params![site, id.0], from_row)
}

/// Rows of its own a site's listing examines at most per request: a search (`q`) or a
/// `done` filter that matches little would otherwise read every task of the site. Past it the
/// page ends early, with a cursor to go on from (`next_before`), so a request costs at most
/// this many rows (about a millisecond), however large the site.
pub const SCAN_ROWS: u32 = 5_000;

/// Filters and paging for [`list`].
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub limit: u32,
    /// Only tasks with an id below this (the cursor from the previous page).
    pub before: Option<i64>,
    pub done: Option<bool>,
    /// Case-insensitive (ASCII) substring of the title.
    pub search: Option<String>,
}

/// Newest first; returns one page and the cursor for the next (`None` on the last page).
/// Looks at no more than [`SCAN_ROWS`] of the site's tasks: when the filters found less than
/// a page among them, the cursor points past the rows examined.
pub fn list(
    conn: &Connection,
    site: SiteId,
    query: &ListQuery,
) -> rusqlite::Result<(Vec<Task>, Option<i64>)> {
    list_within(conn, site, query, SCAN_ROWS)
}

fn list_within(
    conn: &Connection,
    site: SiteId,
    query: &ListQuery,
    scan: u32,
) -> rusqlite::Result<(Vec<Task>, Option<i64>)> {
    let pattern = query
        .search
        .as_deref()
        .map(|s| format!("%{}%", escape_like(s)));
    let mut stmt = conn.prepare_cached(&format!(
        "WITH examined AS (
             SELECT {COLUMNS} FROM tasks
             WHERE site_id = ?1 AND (?2 IS NULL OR id < ?2)
             ORDER BY id DESC LIMIT ?6)
         SELECT {COLUMNS} FROM examined
         WHERE (?3 IS NULL OR done = ?3) AND (?4 IS NULL OR title LIKE ?4 ESCAPE '\\')
         ORDER BY id DESC LIMIT ?5"
    ))?;
    let fetch = i64::from(query.limit) + 1;
    let params = params![site, query.before, query.done, pattern, fetch, scan];
    let mut tasks = stmt
        .query_map(params, from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    if tasks.len() > query.limit as usize {
        tasks.truncate(query.limit as usize);
        let next = tasks.last().map(|t| t.id);
        return Ok((tasks, next));
    }
    // Less than a page: either the site has no more tasks, or the scan stopped at its bound
    // with more beyond (then go on from the last row examined).
    let mut edge = conn.prepare_cached(
        "SELECT id FROM tasks WHERE site_id = ?1 AND (?2 IS NULL OR id < ?2)
         ORDER BY id DESC LIMIT 2 OFFSET ?3",
    )?;
    let beyond = edge
        .query_map(params![site, query.before, i64::from(scan) - 1], |r| {
            r.get::<_, i64>(0)
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let next = (beyond.len() == 2).then(|| beyond[0]);
    Ok((tasks, next))
}

pub(super) fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Creates a task for this site, unless it already holds `quota` tasks (`None`): the count
/// and the insert are one statement, so concurrent creates cannot pass the quota together.
/// A task is on a page, an issue, or neither; `issue` stores its id, project and key.
#[allow(clippy::too_many_arguments)] // one column each; a struct would only rename them
pub fn create(
    conn: &Connection,
    site: SiteId,
    title: &TaskTitle,
    page_id: Option<&PageId>,
    issue: Option<&JiraIssue>,
    created_by: Option<&str>,
    now: &str,
    quota: usize,
) -> rusqlite::Result<Created> {
    // The site may have just been merged into another (a Forge-first site adopted by its
    // Connect install): then nothing is inserted, and the caller retries on the site it
    // resolves to now.
    let mut stmt = conn.prepare_cached(&format!(
        "INSERT INTO tasks (site_id, title, done, created_by, page_id, created_at, updated_at,
             issue_id, issue_project_id, issue_key)
         SELECT ?1, ?2, 0, ?3, ?4, ?5, ?5, ?7, ?8, ?9
         WHERE EXISTS (SELECT 1 FROM jwt_tokens WHERE id = ?1)
           AND (SELECT count(*) FROM tasks WHERE site_id = ?1) < ?6
         RETURNING {COLUMNS}"
    ))?;
    let quota = i64::try_from(quota).unwrap_or(i64::MAX);
    let params = params![
        site,
        title.as_str(),
        created_by,
        page_id.map(PageId::as_str),
        now,
        quota,
        issue.map(|i| &i.id),
        issue.map(|i| &i.project_id),
        issue.map(|i| &i.key)
    ];
    if let Some(task) = one_row(&mut stmt, params, from_row)? {
        return Ok(Created::Task(task));
    }
    let exists: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM jwt_tokens WHERE id = ?1)")?
        .query_row([site], |row| row.get(0))?;
    Ok(if exists {
        Created::QuotaReached
    } else {
        Created::SiteGone
    })
}

/// What an attempt to create a task came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    Task(Task),
    /// The site holds its quota of tasks already; nothing was stored.
    QuotaReached,
    /// The site no longer exists (merged into another a moment ago); nothing was stored.
    SiteGone,
}

/// Changes the title and/or state; `None` when the task is not this site's.
pub fn update(
    conn: &Connection,
    site: SiteId,
    id: TaskId,
    title: Option<&TaskTitle>,
    done: Option<bool>,
    now: &str,
) -> rusqlite::Result<Option<Task>> {
    let mut stmt = conn.prepare_cached(&format!(
        "UPDATE tasks SET title = COALESCE(?3, title), done = COALESCE(?4, done), updated_at = ?5
         WHERE site_id = ?1 AND id = ?2 RETURNING {COLUMNS}"
    ))?;
    let params = params![site, id.0, title.map(TaskTitle::as_str), done, now];
    one_row(&mut stmt, params, from_row)
}

/// A task deleted: the Jira issue it was on, if any (whose progress then changed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deleted {
    pub issue_id: Option<String>,
}

/// Deletes a task; `None` when it is not this site's.
pub fn delete(conn: &Connection, site: SiteId, id: TaskId) -> rusqlite::Result<Option<Deleted>> {
    let mut stmt =
        conn.prepare_cached("DELETE FROM tasks WHERE site_id = ?1 AND id = ?2 RETURNING issue_id")?;
    one_row(&mut stmt, params![site, id.0], |row| {
        Ok(Deleted {
            issue_id: row.get(0)?,
        })
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const A: SiteId = SiteId(1);
    const B: SiteId = SiteId(2);

    /// An in-memory database with two Connect sites (ids 1 and 2); shared by the store tests.
    pub(crate) fn db_with_two_sites() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::db::configure_connection(&mut conn).unwrap();
        crate::db::migrate(&mut conn).unwrap();
        for key in ["site-a", "site-b"] {
            conn.execute(
                "INSERT INTO jwt_tokens (addon_key, client_key, shared_secret, base_url, product_type, installed_at, updated_at)
                 VALUES ('app', ?1, 's', 'https://x', 'confluence', 't', 't')",
                [key],
            )
            .unwrap();
        }
        conn
    }

    fn title(t: &str) -> TaskTitle {
        TaskTitle::parse(t).unwrap()
    }

    /// The task a create stored; fails the test on any other outcome.
    fn created(outcome: rusqlite::Result<Created>) -> Task {
        match outcome.unwrap() {
            Created::Task(task) => task,
            other => panic!("expected a stored task, got {other:?}"),
        }
    }

    #[test]
    fn a_create_for_a_site_that_no_longer_exists_stores_nothing() {
        let conn = db_with_two_sites();
        conn.execute("DELETE FROM jwt_tokens WHERE id = ?1", [A])
            .unwrap();
        assert_eq!(
            create(&conn, A, &title("lost?"), None, None, None, "now", 10).unwrap(),
            Created::SiteGone
        );
        let count: i64 = conn
            .query_row("SELECT count(*) FROM tasks", [], |r| r.get(0))
            .unwrap();
        assert_eq!(count, 0);
    }

    #[test]
    fn a_task_of_another_site_is_not_found_updated_or_deleted() {
        let conn = db_with_two_sites();
        let task = created(create(
            &conn,
            A,
            &title("mine"),
            None,
            None,
            Some("acc"),
            "now",
            10,
        ));
        let id = TaskId(task.id);
        assert_eq!(find(&conn, B, id).unwrap(), None);
        assert_eq!(
            update(&conn, B, id, Some(&title("stolen")), Some(true), "later").unwrap(),
            None
        );
        assert_eq!(delete(&conn, B, id).unwrap(), None);
        assert_eq!(find(&conn, A, id).unwrap(), Some(task));
    }

    #[test]
    fn listing_pages_newest_first_and_filters() {
        let conn = db_with_two_sites();
        for i in 0..5 {
            let t = created(create(
                &conn,
                A,
                &title(&format!("task {i} 100%")),
                None,
                None,
                None,
                "now",
                10,
            ));
            if i % 2 == 0 {
                update(&conn, A, TaskId(t.id), None, Some(true), "now").unwrap();
            }
        }
        create(&conn, B, &title("other site"), None, None, None, "now", 10).unwrap();
        let (page, next) = list(
            &conn,
            A,
            &ListQuery {
                limit: 2,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(
            page.iter().map(|t| t.title.as_str()).collect::<Vec<_>>(),
            ["task 4 100%", "task 3 100%"]
        );
        let (rest, last) = list(
            &conn,
            A,
            &ListQuery {
                limit: 10,
                before: next,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(rest.len(), 3);
        assert_eq!(last, None);
        let (done, _) = list(
            &conn,
            A,
            &ListQuery {
                limit: 10,
                done: Some(true),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(done.len(), 3);
        let search = |s: &str| {
            list(
                &conn,
                A,
                &ListQuery {
                    limit: 10,
                    search: Some(s.into()),
                    ..Default::default()
                },
            )
            .unwrap()
            .0
            .len()
        };
        assert_eq!(search("TASK 1"), 1);
        assert_eq!(search("%"), 5, "a literal percent, not a wildcard");
        assert_eq!(search("_"), 0);
    }

    #[test]
    fn a_site_at_its_quota_gets_no_more_tasks_and_other_sites_are_not_counted() {
        let conn = db_with_two_sites();
        for i in 0..3 {
            let t = title(&format!("t{i}"));
            created(create(&conn, A, &t, None, None, None, "now", 3));
        }
        assert_eq!(
            create(&conn, A, &title("t3"), None, None, None, "now", 3).unwrap(),
            Created::QuotaReached
        );
        created(create(&conn, B, &title("b"), None, None, None, "now", 3));
        let count: i64 = conn
            .query_row("SELECT count(*) FROM tasks WHERE site_id = 1", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(count, 3);
    }

    #[test]
    fn a_search_examines_a_bounded_number_of_rows_and_says_where_to_go_on() {
        let conn = db_with_two_sites();
        let mut ids = Vec::new();
        for i in 0..10 {
            let name = if i == 1 { "needle" } else { "hay" };
            let t = create(&conn, A, &title(name), None, None, None, "now", 100);
            ids.push(created(t).id);
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
            let (page, next) = list_within(&conn, A, &on, 4).unwrap();
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
}
