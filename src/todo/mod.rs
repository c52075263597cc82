//! The Todo domain and how it shows up in Confluence: validated types, the site-scoped store,
//! the JSON API (one implementation for every way in), the iframe pages, creators' display
//! names and publishing.

pub mod api;
pub mod caller;
pub mod pages;
pub mod people;
pub mod publish;
pub mod store;
pub mod store_pg;
pub mod task;

use crate::db::Db;
use crate::error::{AppError, Result};
use crate::site::SiteId;
use crate::util::time::{now_millis, now_rfc3339};
use store::ListQuery;
use task::{PageId, Task, TaskId, TaskTitle};

/// What the task handlers share, built once; they find it as `web::Data<Todo>`.
pub struct Todo {
    pub db: Db,
    /// Creators' display names, in memory only.
    pub names: people::DisplayNames,
}

impl Todo {
    /// The Todo state around the database.
    pub fn new(db: Db) -> Self {
        Self {
            db,
            names: people::DisplayNames::default(),
        }
    }
}

/// The task operations handlers call: each is one store call (off the async workers on
/// SQLite, its twin in `store_pg` on PostgreSQL), scoped to the site of the verified request.
/// A task of another site is [`AppError::NotFound`].
impl Todo {
    /// One page of the site's tasks, newest first, and the cursor of the next page.
    pub async fn list(&self, site: SiteId, query: ListQuery) -> Result<(Vec<Task>, Option<i64>)> {
        if let Some(pg) = self.db.pg() {
            return Ok(store_pg::list(&pg.get().await?, site, &query).await?);
        }
        self.db
            .run(move |conn| Ok(store::list(conn, site, &query)?))
            .await
    }

    /// One task of the site.
    pub async fn find(&self, site: SiteId, id: TaskId) -> Result<Task> {
        let found = match self.db.pg() {
            Some(pg) => store_pg::find(&pg.get().await?, site, id).await?,
            None => {
                self.db
                    .run(move |conn| Ok(store::find(conn, site, id)?))
                    .await?
            }
        };
        found.ok_or(AppError::NotFound)
    }

    /// A new task of the site, created by `account` (when known).
    pub async fn create(
        &self,
        site: SiteId,
        title: TaskTitle,
        page_id: Option<PageId>,
        account: Option<String>,
    ) -> Result<Task> {
        if let Some(pg) = self.db.pg() {
            let (page, by) = (page_id.as_ref(), account.as_deref());
            let client = pg.get().await?;
            return Ok(store_pg::create(&client, site, &title, page, by, now_millis()).await?);
        }
        self.db
            .run(move |conn| {
                let (page, by) = (page_id.as_ref(), account.as_deref());
                Ok(store::create(conn, site, &title, page, by, &now_rfc3339())?)
            })
            .await
    }

    /// Changes a task's title and/or state.
    pub async fn update(
        &self,
        site: SiteId,
        id: TaskId,
        title: Option<TaskTitle>,
        done: Option<bool>,
    ) -> Result<Task> {
        let updated = match self.db.pg() {
            Some(pg) => {
                let client = pg.get().await?;
                store_pg::update(&client, site, id, title.as_ref(), done, now_millis()).await?
            }
            None => {
                self.db
                    .run(move |conn| {
                        let now = now_rfc3339();
                        Ok(store::update(conn, site, id, title.as_ref(), done, &now)?)
                    })
                    .await?
            }
        };
        updated.ok_or(AppError::NotFound)
    }

    /// Deletes a task.
    pub async fn delete(&self, site: SiteId, id: TaskId) -> Result<()> {
        let deleted = match self.db.pg() {
            Some(pg) => store_pg::delete(&pg.get().await?, site, id).await?,
            None => {
                self.db
                    .run(move |conn| Ok(store::delete(conn, site, id)?))
                    .await?
            }
        };
        deleted.then_some(()).ok_or(AppError::NotFound)
    }
}
