//! The Todo domain and how it shows up in Confluence: validated types, the site-scoped store,
//! the JSON API, the iframe pages, creators' display names and publishing.

pub mod api;
pub mod pages;
pub mod people;
pub mod publish;
pub mod store;
pub mod task;

use crate::db::Db;
use crate::error::{AppError, Result};
use crate::site::SiteId;
use crate::util::time::now_rfc3339;
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

/// The task operations handlers call: each is one store call off the async workers (a point
/// read on them, see [`Db::read_point`]), scoped
/// to the site of the verified request. A task of another site is [`AppError::NotFound`].
impl Todo {
    /// One page of the site's tasks, newest first, and the cursor of the next page.
    pub async fn list(&self, site: SiteId, query: ListQuery) -> Result<(Vec<Task>, Option<i64>)> {
        self.db
            .run(move |conn| Ok(store::list(conn, site, &query)?))
            .await
    }

    /// One task of the site: a point read by primary key, run on the worker itself
    /// ([`Db::read_point`]).
    pub async fn find(&self, site: SiteId, id: TaskId) -> Result<Task> {
        self.db
            .read_point(move |conn| store::find(conn, site, id))
            .await?
            .ok_or(AppError::NotFound)
    }

    /// A new task of the site, created by `account` (when known).
    pub async fn create(
        &self,
        site: SiteId,
        title: TaskTitle,
        page_id: Option<PageId>,
        account: Option<String>,
    ) -> Result<Task> {
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
        self.db
            .run(move |conn| {
                let now = now_rfc3339();
                Ok(store::update(conn, site, id, title.as_ref(), done, &now)?)
            })
            .await?
            .ok_or(AppError::NotFound)
    }

    /// Deletes a task.
    pub async fn delete(&self, site: SiteId, id: TaskId) -> Result<()> {
        let deleted = self
            .db
            .run(move |conn| Ok(store::delete(conn, site, id)?))
            .await?;
        deleted.then_some(()).ok_or(AppError::NotFound)
    }
}
