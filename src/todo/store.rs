//! The tasks store: each site's tasks (`tasks`) and their links to Jira issues ([`issues`]),
//! on either backend. Each operation is one function whose body, an `async` closure over a
//! [`crate::db::Tx`], runs on both ([`Db::read`], [`Db::write`], [`Db::read_point`]), with its
//! SQL written once; only the listing is spelled per dialect ([`list()`]). Every operation
//! takes the site from the verified request and every statement filters on it: a task of
//! another site is "not found", exactly like a missing one.

/// The columns every task reader names, in [`from_row`]'s order (a macro, so that statements
/// are constants built with `concat!`).
macro_rules! columns {
    () => {
        "id, title, done, created_by, page_id, created_at, updated_at, issue_id, issue_key"
    };
}

pub(crate) mod issues;
mod list;
#[cfg(test)]
mod tests;

use super::task::{IssueRef, PageId, Task, TaskId, TaskTitle};
use crate::db::{Db, Dialect, Row, Stamp, Tx};
use crate::error::Result;
use crate::forge::JiraIssue;
use crate::site::SiteId;
pub use list::ListQuery;
pub use list::list;

fn from_row(row: &Row<'_>) -> Result<Task> {
    Ok(Task {
        id: row.get(0)?,
        title: row.get(1)?,
        done: row.get(2)?,
        created_by: row.get(3)?,
        page_id: row.get(4)?,
        created_at: shown_time(row, 5)?,
        updated_at: shown_time(row, 6)?,
        issue: IssueRef::from_columns(row.get(7)?, row.get(8)?),
    })
}

/// A task's time as the API shows it (RFC 3339, UTC, milliseconds: what a [`Stamp`] writes).
/// SQLite holds that text and it is shown as stored, so a row written by another tool or an
/// older version is listed as it always was rather than refused; PostgreSQL holds a
/// `timestamptz`, formatted the same way.
fn shown_time(row: &Row<'_>, index: usize) -> Result<String> {
    match row {
        Row::Sqlite(_) => row.get(index),
        Row::Postgres(_) => Ok(row.get::<Stamp>(index)?.rfc3339()),
    }
}

const FIND: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM tasks WHERE site_id = $1 AND id = $2"
);

/// One task of this site: a point read by primary key, the macro's hot path (on SQLite on the
/// async worker's own connection, [`Db::read_point`]).
pub(crate) async fn find(db: &Db, site: SiteId, id: TaskId) -> Result<Option<Task>> {
    db.read_point(async move |tx| tx.query_opt(FIND, &[&site, &id.0], from_row).await)
        .await
}

/// The site's row, which a create takes first (none: the site is gone). On PostgreSQL it is
/// locked (`FOR NO KEY UPDATE`: creates of one site queue there, while foreign-key checks of
/// other writes to the site, which take `FOR KEY SHARE`, go on), so the count that follows,
/// in a snapshot taken after the lock was granted, sees every create committed before it;
/// `merge_site` locks it too, so a create either lands before a merge and moves with it, or
/// sees the site gone. On SQLite the IMMEDIATE transaction ([`Db::write`]) already holds the
/// only write lock.
const SITE_ROW: &str = "SELECT 1 FROM jwt_tokens WHERE id = $1";
const SITE_ROW_LOCKED: &str = "SELECT 1 FROM jwt_tokens WHERE id = $1 FOR NO KEY UPDATE";

/// `$9` is the quota: the count and the insert are one statement.
const CREATE: &str = concat!(
    "INSERT INTO tasks (site_id, title, done, created_by, page_id, created_at, updated_at,
         issue_id, issue_project_id, issue_key)
     SELECT $1, $2, false, $3, $4, $5, $5, $6, $7, $8
     WHERE (SELECT count(*) FROM tasks WHERE site_id = $1) < $9
     RETURNING ",
    columns!()
);

/// Creates a task for this site, unless it already holds `quota` tasks, in one transaction
/// whose count and insert no concurrent create can come between ([`SITE_ROW`]), on any
/// connection or replica. A task is on a page, an issue, or neither; `issue` stores its id,
/// project and key.
pub async fn create(
    db: &Db,
    site: SiteId,
    title: TaskTitle,
    page_id: Option<PageId>,
    issue: Option<JiraIssue>,
    created_by: Option<String>,
    quota: usize,
) -> Result<Created> {
    let quota = i64::try_from(quota).unwrap_or(i64::MAX);
    let now = Stamp::now();
    db.write(async move |tx| {
        let site_row = match tx.dialect() {
            Dialect::Sqlite => SITE_ROW,
            Dialect::Postgres => SITE_ROW_LOCKED,
        };
        // No row: the site was merged into another a moment ago (a Forge-first site adopted
        // by its Connect install); the caller retries on the site it resolves to now.
        if tx
            .query_opt(site_row, &[&site], |_| Ok(()))
            .await?
            .is_none()
        {
            return Ok(Created::SiteGone);
        }
        let new = NewTask {
            title,
            page_id,
            issue,
            created_by,
        };
        create_in(tx, site, &new, now, quota).await
    })
    .await
}

/// A task to create: what [`create`] and [`create_in`] store.
#[derive(Debug, Clone)]
pub(crate) struct NewTask {
    pub(crate) title: TaskTitle,
    pub(crate) page_id: Option<PageId>,
    pub(crate) issue: Option<JiraIssue>,
    pub(crate) created_by: Option<String>,
}

/// The count and the insert of [`create`], inside a transaction the caller runs and whose
/// site row it already holds (an install in the same transaction does): what the load test's
/// seeding (`crate::seeding`) calls for each task of a batch, so a seeded task is exactly a
/// created one, quota included.
pub(crate) async fn create_in(
    tx: &Tx<'_>,
    site: SiteId,
    new: &NewTask,
    now: Stamp,
    quota: i64,
) -> Result<Created> {
    let issue = new.issue.as_ref();
    let params: [&dyn crate::db::Param; 9] = [
        &site,
        &new.title.as_str(),
        &new.created_by,
        &new.page_id.as_ref().map(PageId::as_str),
        &now,
        &issue.map(|i| i.id.as_str()),
        &issue.map(|i| i.project_id.as_str()),
        &issue.map(|i| i.key.as_str()),
        &quota,
    ];
    let task = tx.query_opt(CREATE, &params, from_row).await?;
    Ok(task.map_or(Created::QuotaReached, Created::Task))
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

/// [`create_in`] for several tasks of one site, answered in order. On PostgreSQL the inserts
/// are pipelined (all sent before the first answer is awaited: about one round trip for the
/// lot instead of one per task, which is what lets the load test seed millions of tasks in
/// minutes); on SQLite, where every call completes at once, they run one after another.
pub(crate) async fn create_many_in(
    tx: &Tx<'_>,
    site: SiteId,
    tasks: &[NewTask],
    now: Stamp,
    quota: i64,
) -> Result<Vec<Created>> {
    let Some((first, rest)) = tasks.split_first() else {
        return Ok(Vec::new());
    };
    // The first alone: it prepares the statement, which the others then find in the cache.
    let mut created = vec![create_in(tx, site, first, now, quota).await?];
    // All at once: PostgreSQL pipelines them on the one connection, in order; on SQLite each
    // body finishes when first polled, so they run one after another, in order, too.
    let each = rest
        .iter()
        .map(|task| create_in(tx, site, task, now, quota));
    created.extend(futures_util::future::try_join_all(each).await?);
    Ok(created)
}

const UPDATE: &str = concat!(
    "UPDATE tasks SET title = COALESCE($1, title), done = COALESCE($2, done), updated_at = $3
     WHERE site_id = $4 AND id = $5 RETURNING ",
    columns!()
);

/// Changes the title and/or state; `None` when the task is not this site's.
pub(crate) async fn update(
    db: &Db,
    site: SiteId,
    id: TaskId,
    title: Option<TaskTitle>,
    done: Option<bool>,
) -> Result<Option<Task>> {
    let now = Stamp::now();
    db.write(async move |tx| {
        let title = title.as_ref().map(TaskTitle::as_str);
        let task = tx
            .query_opt(UPDATE, &[&title, &done, &now, &site, &id.0], from_row)
            .await?;
        tasks_changed(tx, site, Some(id), task.is_some()).await?;
        Ok(task)
    })
    .await
}

/// A task deleted: the Jira issue it was on, if any (whose progress then changed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Deleted {
    pub(crate) issue_id: Option<String>,
}

const DELETE: &str = "DELETE FROM tasks WHERE site_id = $1 AND id = $2 RETURNING issue_id";

/// Deletes a task; `None` when it is not this site's.
pub(crate) async fn delete(db: &Db, site: SiteId, id: TaskId) -> Result<Option<Deleted>> {
    db.write(async move |tx| {
        let deleted = tx
            .query_opt(DELETE, &[&site, &id.0], |row| {
                Ok(Deleted {
                    issue_id: row.get(0)?,
                })
            })
            .await?;
        tasks_changed(tx, site, Some(id), deleted.is_some()).await?;
        Ok(deleted)
    })
    .await
}

/// After a write to tasks, in its transaction: when it `changed` something, tells the other
/// replicas (PostgreSQL) which task, or that any task of the site (`None`), changed, so none
/// serves the task's old macro page ([`crate::todo::Todo::macro_page`]). The replica that
/// wrote forgets its own page in the [`crate::todo::Todo`] operation that called the store.
async fn tasks_changed(
    tx: &crate::db::Tx<'_>,
    site: SiteId,
    task: Option<TaskId>,
    changed: bool,
) -> Result<()> {
    if changed {
        tx.notify_tasks_changed(site, task.map(|t| t.0)).await?;
    }
    Ok(())
}
