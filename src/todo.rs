//! The Todo domain and how it shows up in Confluence: validated types, the site-scoped store,
//! the JSON API (one implementation for every way in), the iframe pages and publishing.
//! Creators are shown by account id; the page fills in their names as the viewing user
//! (assets/js/names.js), so the server keeps no name and asks no one for one.

pub(crate) mod api;
mod caller;
mod hot;
pub(crate) mod issue_api;
mod issue_ops;
pub(crate) mod jira_events;
pub(crate) mod pages;
pub(crate) mod progress;
pub(crate) mod publish;
pub mod store;
pub mod task;

use std::sync::Arc;
use std::time::Duration;

use actix_web::web::Bytes;

use crate::db::Db;
use crate::error::{AppError, Result};
use crate::forge::JiraIssue;
use crate::site::SiteId;
use crate::site::store::connect::Heard;
use crate::util::budget::{BudgetLimits, KeyedBudget, Place};
use store::{Created, ListQuery};
use task::{PageId, Task, TaskId, TaskTitle};

/// What one site's task operations may use at once: half the cores (at least one), and never
/// more than half the database connections this instance keeps (`pool_size`), so a site
/// flooding the API can never keep every core busy with its queries nor take the whole pool;
/// up to 128 more callers wait up to 2 s for a turn (a page full of TODO macros, or many
/// users of a big site, arrive together; 128 is what one address may hold in connections);
/// beyond that, 429 with `Retry-After`. Every other site keeps the rest of the pool and CPU.
/// On PostgreSQL the budget is per instance: each replica keeps its own.
fn site_budget(pool_size: usize) -> BudgetLimits {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    BudgetLimits {
        per_key: (cores / 2).min(pool_size / 2).max(1),
        waiting: 128,
        patience: Duration::from_secs(2),
    }
}

/// What the task handlers share, built once; they find it as `web::Data<Todo>`.
pub struct Todo {
    db: Db,
    /// Tasks one site may hold (`MAX_TASKS_PER_SITE`).
    max_tasks: usize,
    budget: KeyedBudget<SiteId>,
    /// Writes Jira issues' progress after their tasks change (nothing until
    /// [`Todo::with_jira_progress`]).
    progress: progress::ProgressSync,
    /// The macro pages of tasks viewed recently; every write below forgets what it changed.
    hot: Arc<hot::HotMacros>,
}

impl Todo {
    /// The Todo state around the database, with a task quota per site.
    pub fn new(db: Db, max_tasks: usize) -> Self {
        let budget = KeyedBudget::new(site_budget(db.pool_size()));
        Self {
            max_tasks,
            budget,
            progress: progress::ProgressSync::default(),
            hot: Arc::new(if db.replicated() {
                hot::HotMacros::shared()
            } else {
                hot::HotMacros::single()
            }),
            db,
        }
    }

    /// What this Todo does with the changes other replicas make (PostgreSQL): forgets the
    /// macro pages of the tasks they wrote, and keeps pages only while it hears them.
    pub(crate) fn hearing(&self) -> impl Fn(Heard<'_>) + 'static {
        let hot = self.hot.clone();
        move |heard| match heard {
            Heard::Listening => hot.listening(true),
            Heard::Lost => hot.listening(false),
            Heard::SomeSite => hot.forget_all(),
            Heard::Site(site) | Heard::Tasks(site, None) => hot.forget_site(site),
            Heard::Tasks(site, Some(task)) => hot.forget(site, TaskId(task)),
            Heard::ClientKey(_) => {}
        }
    }

    /// Writes each Jira issue's progress after its tasks change, as the app, through `clients`.
    pub(crate) fn with_jira_progress(mut self, clients: crate::forge::ClientFactory) -> Self {
        self.progress = progress::ProgressSync::new(self.db.clone(), clients);
        self
    }

    /// Tells the progress writer when `task` is on an issue.
    fn touched(&self, site: SiteId, issue_id: Option<&str>) {
        if let Some(issue_id) = issue_id {
            self.progress.changed(site, issue_id);
        }
    }

    /// A place in `site`'s budget for one operation (429 when the site has too much under way).
    async fn enter(&self, site: SiteId) -> Result<Place> {
        self.budget
            .enter(&site)
            .await
            .ok_or(AppError::TooManyRequests)
    }
}

/// The task operations handlers call: each is one call of the tasks store ([`store`]), scoped
/// to the site of the verified request and run within the site's budget. A task of another
/// site is [`AppError::NotFound`].
impl Todo {
    /// One page of the site's tasks, newest first, and the cursor of the next page.
    async fn list(&self, site: SiteId, query: ListQuery) -> Result<(Vec<Task>, Option<i64>)> {
        let _place = self.enter(site).await?;
        store::list(&self.db, site, query).await
    }

    /// One task of the site: a point read by primary key (on SQLite run on the worker itself,
    /// [`Db::read_point`]).
    pub async fn find(&self, site: SiteId, id: TaskId) -> Result<Task> {
        let _place = self.enter(site).await?;
        store::find(&self.db, site, id)
            .await?
            .ok_or(AppError::NotFound)
    }

    /// The macro page of one task of the site: the page kept from an earlier view, else
    /// `render` of the task read ([`Todo::find`]), kept until the task changes (or for
    /// [`hot::SINGLE_SERVER_TTL`] / [`hot::REPLICA_TTL`] at most). `render` must depend on the
    /// task alone: the page is served to every viewer of the site. A missing task is
    /// [`AppError::NotFound`], as from `find`.
    pub(crate) async fn macro_page(
        &self,
        site: SiteId,
        id: TaskId,
        render: impl FnOnce(&Task) -> Result<String>,
    ) -> Result<Bytes> {
        if let Some(page) = self.hot.get(site, id) {
            return Ok(page);
        }
        let generation = self.hot.generation();
        let task = self.find(site, id).await?;
        let page = Bytes::from(render(&task)?);
        self.hot.insert(generation, site, id, page.clone());
        Ok(page)
    }

    /// A new task of the site, created by `account` (when known); 409 when the site already
    /// holds its quota of tasks (checked atomically with the insert on either backend).
    pub async fn create(
        &self,
        site: SiteId,
        title: TaskTitle,
        page_id: Option<PageId>,
        issue: Option<JiraIssue>,
        account: Option<String>,
    ) -> Result<Task> {
        let _place = self.enter(site).await?;
        let quota = self.max_tasks;
        match store::create(&self.db, site, title, page_id, issue, account, quota).await? {
            Created::Task(task) => {
                self.touched(site, task.issue.as_ref().map(|i| i.id.as_str()));
                Ok(task)
            }
            Created::QuotaReached => Err(AppError::Conflict(format!(
                "this site has reached its limit of {quota} tasks; delete some to add more"
            ))),
            // Merged into another site while this request was on its way: the client retries
            // and then reaches the site it belongs to now.
            Created::SiteGone => Err(AppError::Unavailable),
        }
    }

    /// Changes a task's title and/or state.
    async fn update(
        &self,
        site: SiteId,
        id: TaskId,
        title: Option<TaskTitle>,
        done: Option<bool>,
    ) -> Result<Task> {
        let _place = self.enter(site).await?;
        let updated = store::update(&self.db, site, id, title, done).await?;
        self.hot.forget(site, id);
        let task = updated.ok_or(AppError::NotFound)?;
        self.touched(site, task.issue.as_ref().map(|i| i.id.as_str()));
        Ok(task)
    }

    /// Deletes a task.
    async fn delete(&self, site: SiteId, id: TaskId) -> Result<()> {
        let _place = self.enter(site).await?;
        let deleted = store::delete(&self.db, site, id).await?;
        self.hot.forget(site, id);
        let deleted = deleted.ok_or(AppError::NotFound)?;
        self.touched(site, deleted.issue_id.as_deref());
        Ok(())
    }
}
