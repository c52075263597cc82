//! The progress of a Jira issue's tasks as Jira sees it: the issue property
//! [`PROPERTY_KEY`] = `{open, total}`, which the manifest's `jira:entityProperty` indexes for
//! JQL (`todoOpen > 0`). After any change to an issue's tasks the server writes it as the app
//! (the Jira system token a Jira call left in memory, through `SiteApi`: origin lock, caps,
//! timeouts) — in the background, never in the response's way; changes to one issue that come
//! while a write is waiting or under way are coalesced into one more write of the counts as they
//! are then; a failed write is retried a bounded number of times.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Method;

use super::store::issues;
use crate::db::Db;
use crate::forge::{CallError, ClientFactory};
use crate::site::SiteId;

/// The issue property the server writes and the manifest indexes.
pub(crate) const PROPERTY_KEY: &str = "todo-progress";
/// How long a change waits for the ones that follow it (a few quick toggles: one write).
const COALESCE: Duration = Duration::from_millis(200);
/// Attempts per write, the first included; then the write is given up (logged) until the
/// issue's tasks change again.
const MAX_ATTEMPTS: u32 = 3;
/// Wait before the second attempt; doubled before each further one.
const RETRY_AFTER: Duration = Duration::from_millis(500);
/// Issues with a write pending at most, across sites; past it a change is not synced (logged)
/// rather than memory grown without bound.
const MAX_PENDING: usize = 10_000;
/// Writes in flight at once, across sites: a burst of changes on many issues queues here
/// instead of opening thousands of connections to Atlassian.
const MAX_IN_FLIGHT: usize = 16;

type Key = (SiteId, String);

/// Writes issue progress to Jira in the background; a no-op without Forge clients.
#[derive(Clone, Default)]
pub(crate) struct ProgressSync {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    db: Db,
    clients: ClientFactory,
    in_flight: tokio::sync::Semaphore,
    /// Issues with a writer; `true` when a change came after its last read of the counts.
    pending: Mutex<HashMap<Key, bool>>,
}

impl ProgressSync {
    /// A writer reading counts from `db` and calling Jira through `clients`.
    pub(crate) fn new(db: Db, clients: ClientFactory) -> Self {
        Self {
            inner: Some(Arc::new(Inner {
                db,
                clients,
                in_flight: tokio::sync::Semaphore::new(MAX_IN_FLIGHT),
                pending: Mutex::default(),
            })),
        }
    }

    /// The issue's tasks changed: write its progress soon (one writer per issue at a time).
    pub(crate) fn changed(&self, site: SiteId, issue_id: &str) {
        let Some(inner) = &self.inner else { return };
        let key = (site, issue_id.to_string());
        {
            let mut pending = inner.pending.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(dirty) = pending.get_mut(&key) {
                *dirty = true;
                return;
            }
            if pending.len() >= MAX_PENDING {
                log::warn!("issue progress for site {site} not synced: {MAX_PENDING} pending");
                return;
            }
            pending.insert(key.clone(), false);
        }
        let inner = inner.clone();
        actix_web::rt::spawn(async move { inner.write_until_clean(key).await });
    }
}

impl Inner {
    /// Writes the issue's progress, again while changes keep coming, then lets go of the issue.
    async fn write_until_clean(&self, key: Key) {
        loop {
            actix_web::rt::time::sleep(COALESCE).await;
            self.set_dirty(&key, false);
            self.write_with_retries(&key).await;
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            if pending.get(&key) != Some(&true) {
                pending.remove(&key);
                return;
            }
        }
    }

    fn set_dirty(&self, key: &Key, dirty: bool) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(d) = pending.get_mut(key) {
            *d = dirty;
        }
    }

    async fn write_with_retries(&self, (site, issue_id): &Key) {
        let mut wait = RETRY_AFTER;
        for attempt in 1..=MAX_ATTEMPTS {
            match self.write(*site, issue_id).await {
                Ok(()) => return,
                Err(Retry::No(why)) => {
                    log::info!("issue {issue_id} of site {site}: progress not written: {why}");
                    return;
                }
                Err(Retry::Yes(why)) if attempt < MAX_ATTEMPTS => {
                    log::debug!("issue {issue_id} of site {site}: attempt {attempt}: {why}");
                    actix_web::rt::time::sleep(wait).await;
                    wait *= 2;
                }
                Err(Retry::Yes(why)) => {
                    log::warn!(
                        "issue {issue_id} of site {site}: progress not written after \
                         {MAX_ATTEMPTS} attempts: {why}"
                    );
                }
            }
        }
    }

    async fn write(&self, site: SiteId, issue_id: &str) -> Result<(), Retry> {
        let _turn = self
            .in_flight
            .acquire()
            .await
            .map_err(|e| Retry::No(e.to_string()))?;
        // Outside any request's budget: the background writer's own read.
        let progress = issues::progress(&self.db, site, issue_id.to_string())
            .await
            .map_err(|e| Retry::Yes(e.to_string()))?;
        let body = serde_json::to_value(progress).map_err(|e| Retry::No(e.to_string()))?;
        // The id is `[A-Za-z0-9_-]` (checked where it came in): nothing to escape.
        let target = format!("/rest/api/3/issue/{issue_id}/properties/{PROPERTY_KEY}");
        let client = self.clients.client(site);
        match client.as_app(Method::PUT, &target, Some(&body)).await {
            Ok(_) => Ok(()),
            Err(CallError::NoSystemToken(_)) => Err(Retry::No("no Jira system token".into())),
            Err(CallError::Host(e)) => match e.status() {
                Some(s) if (400..500).contains(&s) && s != 429 => Err(Retry::No(e.to_string())),
                _ => Err(Retry::Yes(e.to_string())),
            },
        }
    }
}

/// Whether a failed write is worth another attempt.
enum Retry {
    Yes(String),
    No(String),
}
