//! Task SQL for PostgreSQL: the twin of each function in [`super::store`], same arguments, same
//! results, same ordering (newest first by id). Every query filters on the site.
//!
//! One difference, documented: the title search is `ILIKE`, which folds letters by the
//! database's ctype (all of Unicode under a UTF-8 locale); SQLite's `LIKE` folds ASCII only.

use time::OffsetDateTime;
use tokio_postgres::Row;

use super::store::ListQuery;
use super::task::{PageId, Task, TaskId, TaskTitle};
use crate::db::postgres::{GenericClient, PgError};
use crate::site::SiteId;
use crate::util::time::rfc3339;

const COLUMNS: &str = "id, title, done, created_by, page_id, created_at, updated_at";

fn from_row(row: &Row) -> Result<Task, PgError> {
    Ok(Task {
        id: row.try_get(0)?,
        title: row.try_get(1)?,
        done: row.try_get(2)?,
        created_by: row.try_get(3)?,
        page_id: row.try_get(4)?,
        created_at: rfc3339(row.try_get(5)?),
        updated_at: rfc3339(row.try_get(6)?),
    })
}

/// One task of this site.
pub async fn find(
    client: &impl GenericClient,
    site: SiteId,
    id: TaskId,
) -> Result<Option<Task>, PgError> {
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM tasks WHERE site_id = $1 AND id = $2"
        ))
        .await?;
    client
        .query_opt(&stmt, &[&site.0, &id.0])
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Newest first; returns one page and the cursor for the next (`None` on the last page).
pub async fn list(
    client: &impl GenericClient,
    site: SiteId,
    query: &ListQuery,
) -> Result<(Vec<Task>, Option<i64>), PgError> {
    let pattern = query
        .search
        .as_deref()
        .map(|s| format!("%{}%", super::store::escape_like(s)));
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM tasks
             WHERE site_id = $1
               AND ($2::bigint IS NULL OR id < $2)
               AND ($3::boolean IS NULL OR done = $3)
               AND ($4::text IS NULL OR title ILIKE $4 ESCAPE '\\')
             ORDER BY id DESC LIMIT $5"
        ))
        .await?;
    let fetch = i64::from(query.limit) + 1;
    let mut tasks = client
        .query(
            &stmt,
            &[&site.0, &query.before, &query.done, &pattern, &fetch],
        )
        .await?
        .iter()
        .map(from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let next = if tasks.len() > query.limit as usize {
        tasks.truncate(query.limit as usize);
        tasks.last().map(|t| t.id)
    } else {
        None
    };
    Ok((tasks, next))
}

/// Creates a task for this site.
pub async fn create(
    client: &impl GenericClient,
    site: SiteId,
    title: &TaskTitle,
    page_id: Option<&PageId>,
    created_by: Option<&str>,
    now: OffsetDateTime,
) -> Result<Task, PgError> {
    let stmt = client
        .prepare_cached(&format!(
            "INSERT INTO tasks (site_id, title, done, created_by, page_id, created_at, updated_at)
             VALUES ($1, $2, false, $3, $4, $5, $5) RETURNING {COLUMNS}"
        ))
        .await?;
    let row = client
        .query_one(
            &stmt,
            &[
                &site.0,
                &title.as_str(),
                &created_by,
                &page_id.map(PageId::as_str),
                &now,
            ],
        )
        .await?;
    from_row(&row)
}

/// Changes the title and/or state; `None` when the task is not this site's.
pub async fn update(
    client: &impl GenericClient,
    site: SiteId,
    id: TaskId,
    title: Option<&TaskTitle>,
    done: Option<bool>,
    now: OffsetDateTime,
) -> Result<Option<Task>, PgError> {
    let stmt = client
        .prepare_cached(&format!(
            "UPDATE tasks SET title = COALESCE($3, title), done = COALESCE($4, done), updated_at = $5
             WHERE site_id = $1 AND id = $2 RETURNING {COLUMNS}"
        ))
        .await?;
    client
        .query_opt(
            &stmt,
            &[&site.0, &id.0, &title.map(TaskTitle::as_str), &done, &now],
        )
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Deletes a task; false when it is not this site's.
pub async fn delete(
    client: &impl GenericClient,
    site: SiteId,
    id: TaskId,
) -> Result<bool, PgError> {
    let stmt = client
        .prepare_cached("DELETE FROM tasks WHERE site_id = $1 AND id = $2")
        .await?;
    Ok(client.execute(&stmt, &[&site.0, &id.0]).await? > 0)
}
