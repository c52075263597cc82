//! The task operations of a Jira issue, on [`Todo`] like the others: scoped to the site of the
//! verified request, within the site's budget, the store twin that fits the backend.

use super::Todo;
use super::issues::{self, MAX_ISSUE_TASKS, Progress};
use super::issues_pg;
use super::task::Task;
use crate::db::Db;
use crate::error::Result;
use crate::forge::JiraIssue;
use crate::site::SiteId;

impl Todo {
    /// The issue's tasks, oldest first (at most [`MAX_ISSUE_TASKS`], and whether there are
    /// more), after recording the key the signed token gives it: an issue moved to another
    /// project shows its new key from its next call on.
    pub async fn issue_tasks(&self, site: SiteId, issue: &JiraIssue) -> Result<(Vec<Task>, bool)> {
        let _place = self.enter(site).await?;
        let (mut tasks, more) = match self.db.pg() {
            Some(pg) => issues_pg::list(&pg.get().await?, site, &issue.id, MAX_ISSUE_TASKS).await?,
            None => {
                let id = issue.id.clone();
                self.db
                    .run(move |conn| Ok(issues::list(conn, site, &id, MAX_ISSUE_TASKS)?))
                    .await?
            }
        };
        // A read writes only when the key moved (rarely): no write lock on every panel open.
        if tasks
            .iter()
            .any(|t| t.issue.as_ref().is_some_and(|i| i.key != issue.key))
        {
            self.refresh_issue_key(site, issue).await?;
            for task in &mut tasks {
                if let Some(i) = task.issue.as_mut() {
                    i.key.clone_from(&issue.key);
                }
            }
        }
        Ok((tasks, more))
    }

    /// Records the issue's key (from a signed token) on its tasks.
    pub async fn refresh_issue_key(&self, site: SiteId, issue: &JiraIssue) -> Result<usize> {
        let (id, key) = (issue.id.clone(), issue.key.clone());
        Ok(match self.db.pg() {
            Some(pg) => issues_pg::refresh_key(&pg.get().await?, site, &id, &key).await?,
            None => {
                self.db
                    .run(move |conn| Ok(issues::refresh_key(conn, site, &id, &key)?))
                    .await?
            }
        })
    }

    /// Deletes the issue's tasks (the issue was deleted in Jira); how many.
    pub async fn delete_issue_tasks(&self, site: SiteId, issue_id: &str) -> Result<usize> {
        let id = issue_id.to_string();
        Ok(match self.db.pg() {
            Some(pg) => issues_pg::delete_issue(&pg.get().await?, site, &id).await?,
            None => {
                self.db
                    .run(move |conn| Ok(issues::delete_issue(conn, site, &id)?))
                    .await?
            }
        })
    }

    /// Deletes the tasks of every issue of the project (the project was deleted); how many.
    pub async fn delete_project_tasks(&self, site: SiteId, project_id: &str) -> Result<usize> {
        let id = project_id.to_string();
        Ok(match self.db.pg() {
            Some(pg) => issues_pg::delete_project(&pg.get().await?, site, &id).await?,
            None => {
                self.db
                    .run(move |conn| Ok(issues::delete_project(conn, site, &id)?))
                    .await?
            }
        })
    }
}

/// Open and total tasks of the issue (what its Jira property says), outside any request's
/// budget: the background writer's read.
pub(super) async fn read_progress(db: &Db, site: SiteId, issue_id: &str) -> Result<Progress> {
    let id = issue_id.to_string();
    Ok(match db.pg() {
        Some(pg) => issues_pg::progress(&pg.get().await?, site, &id).await?,
        None => {
            db.run(move |conn| Ok(issues::progress(conn, site, &id)?))
                .await?
        }
    })
}
