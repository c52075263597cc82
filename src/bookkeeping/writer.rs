//! The one bookkeeping writer: notes queue in memory (bounded) and one task at a time commits
//! what accumulated, in one transaction per batch (one commit, one fsync, for every row of
//! it, whichever sites and kinds they are). Under load the batches grow by themselves: what
//! arrives during a commit goes into the next one; when the queue is empty the task ends and
//! the next note starts another.
//!
//! Rows are written in a fixed order — by site, and for each site its `*_seen_at` (by way)
//! before its `jwt_users` rows (by account) — so two replicas writing overlapping batches on
//! PostgreSQL take their row locks in the same order and cannot deadlock; it is also the
//! order `purge` locks its candidate sites in (`ORDER BY id … FOR UPDATE`; a user row's
//! foreign key locks its site's row). Past [`MAX_QUEUED`] a note is
//! dropped (with a warning at most once per [`DROP_WARNING_EVERY`]) and its caller forgets its
//! throttle entry, so the next request of that site or user notes it again.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::db::{Db, Stamp};
use crate::site::seen::SeenSites;
use crate::site::store::seen::record_seen;
use crate::site::ways_in::Way;
use crate::site::{SiteChanges, SiteId};
use crate::users::SeenUsers;
use crate::users::store::record_user;

/// Notes written in one transaction at most; the rest go into the next.
const MAX_BATCH: usize = 512;
/// Notes waiting at most (about 0.1 KiB each): two per site for 10,000 sites starting at once
/// fit; past it the writer is far behind the database, and a note may as well wait for the
/// request that comes after the throttle forgot it.
pub(super) const MAX_QUEUED: usize = 20_000;
/// How often a dropped note is warned about at most (with the count since the last warning).
const DROP_WARNING_EVERY: Duration = Duration::from_secs(60);
/// How long a flush waits for the writer at most (a database that does not answer must not
/// hold the shutdown forever).
pub(super) const FLUSH_LIMIT: Duration = Duration::from_secs(10);

/// One piece of bookkeeping of a site, stamped when the request took it (not when it is
/// written: a use noted just before an uninstall must not look like a use after it, which
/// would keep the site from `purge`). The field order is the row order of a batch.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Note {
    pub(crate) site: SiteId,
    pub(crate) what: What,
    pub(crate) at: Stamp,
}

impl Note {
    /// A note of `site` taken now.
    pub(crate) fn new(site: SiteId, what: What) -> Self {
        Self {
            site,
            what,
            at: Stamp::now(),
        }
    }
}

/// What a [`Note`] records; the variant order is the table order within a site.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum What {
    /// A use of the site through a way in (`*_seen_at`).
    Seen(Way),
    /// A visit of an account (`jwt_users`).
    User(String),
}

#[derive(Default)]
struct Queue {
    notes: Vec<Note>,
    /// A task is writing batches; it takes whatever is waiting when its commit is done.
    writing: bool,
    /// Notes dropped since the last warning, and when that was.
    dropped: u64,
    warned_at: Option<Instant>,
    /// Transactions committed so far (what the tests count).
    batches: u64,
}

/// The shared state behind [`super::Bookkeeping`]: the throttles and the queue.
pub(super) struct Inner {
    db: Db,
    changes: SiteChanges,
    pub(super) sites: SeenSites,
    pub(super) users: SeenUsers,
    queue: Mutex<Queue>,
    max_queued: usize,
}

impl Inner {
    pub(super) fn new(db: Db, changes: SiteChanges, max_queued: usize) -> Self {
        Self {
            db,
            changes,
            sites: SeenSites::default(),
            users: SeenUsers::default(),
            queue: Mutex::default(),
            max_queued,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a note and makes sure a writer runs; `false` when the queue is full (the note
    /// is dropped: the caller forgets its throttle entry).
    pub(super) fn note(self: &std::sync::Arc<Self>, note: Note) -> bool {
        let start_writer = {
            let mut queue = self.lock();
            if queue.notes.len() >= self.max_queued {
                crate::util::telemetry::bookkeeping_dropped();
                queue.dropped += 1;
                if queue
                    .warned_at
                    .is_none_or(|at| at.elapsed() >= DROP_WARNING_EVERY)
                {
                    log::warn!(
                        "bookkeeping queue full ({} notes): dropped {} notes; they are noted again on their next request",
                        self.max_queued,
                        queue.dropped
                    );
                    queue.dropped = 0;
                    queue.warned_at = Some(Instant::now());
                }
                return false;
            }
            queue.notes.push(note);
            !std::mem::replace(&mut queue.writing, true)
        };
        if start_writer {
            actix_web::rt::spawn(self.clone().write_batches());
        }
        true
    }

    /// Commits batches until nothing is waiting.
    async fn write_batches(self: std::sync::Arc<Self>) {
        loop {
            let mut batch: Vec<Note> = {
                let mut queue = self.lock();
                if queue.notes.is_empty() {
                    queue.writing = false;
                    return;
                }
                let take = queue.notes.len().min(MAX_BATCH);
                queue.notes.drain(..take).collect()
            };
            batch.sort_unstable();
            batch.dedup();
            let notes = batch.clone();
            let written = self
                .db
                .write(async move |tx| {
                    let mut gone = Vec::new();
                    for Note { site, what, at } in &notes {
                        match what {
                            What::Seen(way) => {
                                if !record_seen(tx, *site, *way, *at).await? {
                                    gone.push((*site, *way));
                                }
                            }
                            What::User(account) => record_user(tx, *site, account, *at).await?,
                        }
                    }
                    Ok(gone)
                })
                .await;
            match written {
                Ok(gone) => {
                    self.lock().batches += 1;
                    for (site, way) in gone {
                        self.site_gone(site, way);
                    }
                }
                Err(err) => {
                    log::warn!("could not write {} bookkeeping notes: {err}", batch.len());
                    // Noted again on their next request.
                    for note in &batch {
                        self.forget(note);
                    }
                }
            }
        }
    }

    /// A noted site's row is gone (a purge took it after the request's cache found it): its
    /// caches must not answer for it any more. Telling [`SiteChanges`] drops the Forge tenant
    /// cache's entries for that site, so the next request resolves its identity again; the
    /// request that noted it answered for a site without rows, which its site-scoped queries
    /// found empty. Its throttle entry goes too, so a site recreated under the same id is
    /// noted at once.
    fn site_gone(&self, site: SiteId, way: Way) {
        log::info!("site {site} was gone when its use was written; its caches forget it");
        self.sites.forget(site, way);
        self.changes.site(site);
    }

    fn forget(&self, note: &Note) {
        match &note.what {
            What::Seen(way) => self.sites.forget(note.site, *way),
            What::User(account) => self.users.forget(note.site, account),
        }
    }

    /// Waits until the queue is empty and no batch is under way, for at most [`FLUSH_LIMIT`].
    pub(super) async fn flush(&self) {
        let started = Instant::now();
        loop {
            {
                let queue = self.lock();
                if queue.notes.is_empty() && !queue.writing {
                    return;
                }
                if started.elapsed() >= FLUSH_LIMIT {
                    log::warn!(
                        "bookkeeping: {} notes not written at shutdown",
                        queue.notes.len()
                    );
                    return;
                }
            }
            actix_web::rt::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

#[cfg(test)]
mod tests;
