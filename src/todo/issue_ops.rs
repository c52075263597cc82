//! The task operations of a Jira issue, on [`Todo`] like the others: scoped to the site of the
//! verified request, within the site's budget, each a call of the tasks store
//! ([`super::store::issues`]).

use super::Todo;
use super::store::issues::{self, MAX_ISSUE_TASKS};
use super::task::Task;
use crate::error::Result;
use crate::forge::JiraIssue;
use crate::site::SiteId;

impl Todo {
    /// The issue's tasks, oldest first (at most [`MAX_ISSUE_TASKS`], and whether there are
    /// more), after recording the key the signed token gives it: an issue moved to another
    /// project shows its new key from its next call on.
    pub(crate) async fn issue_tasks(
        &self,
        site: SiteId,
        issue: &JiraIssue,
    ) -> Result<(Vec<Task>, bool)> {
        let _place = self.enter(site).await?;
        let (mut tasks, more) =
            issues::tasks(&self.db, site, issue.id.clone(), MAX_ISSUE_TASKS).await?;
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
    pub(crate) async fn refresh_issue_key(&self, site: SiteId, issue: &JiraIssue) -> Result<usize> {
        let refreshed =
            issues::refresh_key(&self.db, site, issue.id.clone(), issue.key.clone()).await;
        self.hot.forget_site(site);
        refreshed
    }

    /// Deletes the issue's tasks (the issue was deleted in Jira); how many.
    pub(crate) async fn delete_issue_tasks(&self, site: SiteId, issue_id: &str) -> Result<usize> {
        let deleted = issues::delete_issue(&self.db, site, issue_id.to_string()).await;
        self.hot.forget_site(site);
        deleted
    }

    /// Deletes the tasks of every issue of the project (the project was deleted); how many.
    pub(crate) async fn delete_project_tasks(
        &self,
        site: SiteId,
        project_id: &str,
    ) -> Result<usize> {
        let deleted = issues::delete_project(&self.db, site, project_id.to_string()).await;
        self.hot.forget_site(site);
        deleted
    }
}
