//! The tasks of Jira issues: an issue's tasks, its progress, its key kept up to date, and the
//! clean-up when an issue or a whole project is deleted. Every statement filters on the site;
//! an issue is found by its id (stable), never by its key.

use super::from_row;
use crate::db::Db;
use crate::error::{AppError, Result};
use crate::site::SiteId;
use crate::todo::task::Task;

/// Tasks of one issue a listing returns at most (the panel shows them all at once; the site's
/// quota still bounds what an issue can hold).
pub(crate) const MAX_ISSUE_TASKS: u32 = 500;

/// Open and total tasks of an issue, as written to its Jira property.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Progress {
    open: i64,
    total: i64,
}

const TASKS: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM tasks WHERE site_id = $1 AND issue_id = $2 ORDER BY id LIMIT $3"
);

/// The issue's tasks, oldest first, at most `limit` (and whether there are more).
pub(crate) async fn tasks(
    db: &Db,
    site: SiteId,
    issue_id: String,
    limit: u32,
) -> Result<(Vec<Task>, bool)> {
    let fetch = i64::from(limit) + 1;
    let mut tasks = db
        .read(async move |tx| tx.query(TASKS, &[&site, &issue_id, &fetch], from_row).await)
        .await?;
    let more = tasks.len() > limit as usize;
    tasks.truncate(limit as usize);
    Ok((tasks, more))
}

const REFRESH_KEY: &str = "UPDATE tasks SET issue_key = $1
     WHERE site_id = $2 AND issue_id = $3 AND issue_key IS DISTINCT FROM $1";

/// Records the issue's current key (from a signed token) on its tasks; how many changed.
pub(crate) async fn refresh_key(
    db: &Db,
    site: SiteId,
    issue_id: String,
    key: String,
) -> Result<usize> {
    let changed = db
        .write(async move |tx| {
            let rows = tx.execute(REFRESH_KEY, &[&key, &site, &issue_id]).await?;
            super::tasks_changed(tx, site, None, rows > 0).await?;
            Ok(rows)
        })
        .await?;
    Ok(count(changed))
}

const PROGRESS: &str = "SELECT count(*) FILTER (WHERE NOT done), count(*) FROM tasks
     WHERE site_id = $1 AND issue_id = $2";

/// Open and total tasks of the issue.
pub(crate) async fn progress(db: &Db, site: SiteId, issue_id: String) -> Result<Progress> {
    db.read(async move |tx| {
        let read = |row: &crate::db::Row<'_>| {
            Ok(Progress {
                open: row.get(0)?,
                total: row.get(1)?,
            })
        };
        tx.query_opt(PROGRESS, &[&site, &issue_id], read)
            .await?
            .ok_or_else(|| AppError::internal("a count returned no row"))
    })
    .await
}

const DELETE_ISSUE: &str = "DELETE FROM tasks WHERE site_id = $1 AND issue_id = $2";

/// Deletes the issue's tasks; how many (none the second time: deletion events repeat).
pub(crate) async fn delete_issue(db: &Db, site: SiteId, issue_id: String) -> Result<usize> {
    let deleted = db
        .write(async move |tx| {
            let rows = tx.execute(DELETE_ISSUE, &[&site, &issue_id]).await?;
            super::tasks_changed(tx, site, None, rows > 0).await?;
            Ok(rows)
        })
        .await?;
    Ok(count(deleted))
}

const DELETE_PROJECT: &str = "DELETE FROM tasks WHERE site_id = $1 AND issue_project_id = $2";

/// Deletes the tasks of every issue of the project; how many.
pub(crate) async fn delete_project(db: &Db, site: SiteId, project_id: String) -> Result<usize> {
    let deleted = db
        .write(async move |tx| {
            let rows = tx.execute(DELETE_PROJECT, &[&site, &project_id]).await?;
            super::tasks_changed(tx, site, None, rows > 0).await?;
            Ok(rows)
        })
        .await?;
    Ok(count(deleted))
}

fn count(rows: u64) -> usize {
    usize::try_from(rows).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests;
