//! Task SQL for Jira issues on PostgreSQL: the twin of each function in [`super::issues`], same
//! arguments, same results. Every query filters on the site.

use tokio_postgres::Row;

use super::issues::Progress;
use super::store::COLUMNS;
use super::store_pg::from_row;
use super::task::Task;
use crate::db::postgres::{GenericClient, PgError};
use crate::site::SiteId;

/// The issue's tasks, oldest first, at most `limit` (and whether there are more).
pub async fn list(
    client: &impl GenericClient,
    site: SiteId,
    issue_id: &str,
    limit: u32,
) -> Result<(Vec<Task>, bool), PgError> {
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM tasks WHERE site_id = $1 AND issue_id = $2 ORDER BY id LIMIT $3"
        ))
        .await?;
    let fetch = i64::from(limit) + 1;
    let mut tasks = client
        .query(&stmt, &[&site.0, &issue_id, &fetch])
        .await?
        .iter()
        .map(from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let more = tasks.len() > limit as usize;
    tasks.truncate(limit as usize);
    Ok((tasks, more))
}

/// Records the issue's current key on its tasks; how many changed.
pub async fn refresh_key(
    client: &impl GenericClient,
    site: SiteId,
    issue_id: &str,
    key: &str,
) -> Result<usize, PgError> {
    let stmt = client
        .prepare_cached(
            "UPDATE tasks SET issue_key = $3
             WHERE site_id = $1 AND issue_id = $2 AND issue_key IS DISTINCT FROM $3",
        )
        .await?;
    Ok(count(
        client.execute(&stmt, &[&site.0, &issue_id, &key]).await?,
    ))
}

/// Open and total tasks of the issue.
pub async fn progress(
    client: &impl GenericClient,
    site: SiteId,
    issue_id: &str,
) -> Result<Progress, PgError> {
    let stmt = client
        .prepare_cached(
            "SELECT count(*) FILTER (WHERE NOT done), count(*) FROM tasks
             WHERE site_id = $1 AND issue_id = $2",
        )
        .await?;
    let row: Row = client.query_one(&stmt, &[&site.0, &issue_id]).await?;
    Ok(Progress {
        open: row.try_get(0)?,
        total: row.try_get(1)?,
    })
}

/// Deletes the issue's tasks; how many.
pub async fn delete_issue(
    client: &impl GenericClient,
    site: SiteId,
    issue_id: &str,
) -> Result<usize, PgError> {
    let stmt = client
        .prepare_cached("DELETE FROM tasks WHERE site_id = $1 AND issue_id = $2")
        .await?;
    Ok(count(client.execute(&stmt, &[&site.0, &issue_id]).await?))
}

/// Deletes the tasks of every issue of the project; how many.
pub async fn delete_project(
    client: &impl GenericClient,
    site: SiteId,
    project_id: &str,
) -> Result<usize, PgError> {
    let stmt = client
        .prepare_cached("DELETE FROM tasks WHERE site_id = $1 AND issue_project_id = $2")
        .await?;
    Ok(count(client.execute(&stmt, &[&site.0, &project_id]).await?))
}

fn count(rows: u64) -> usize {
    usize::try_from(rows).unwrap_or(usize::MAX)
}
