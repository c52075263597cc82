//! Writing the users seen per installation (`jwt_users`) in batches: every request that
//! records a user waits until its row is committed (as before), but the records that arrive
//! while a commit is under way go together into the next transaction — one commit (one fsync)
//! for all of them, and one writer instead of many.
//!
//! Why: after a restart every user's first view writes a row (see [`super::SeenUsers`]).
//! Written one transaction each, hundreds of concurrent first views became hundreds of writers
//! taking turns on SQLite's write lock through its busy handler, which sleeps up to 100 ms
//! between tries: views waited up to 1.3 s for their turn (docs/performance.md). PostgreSQL
//! takes concurrent writers in its stride, but one commit for many rows still saves a WAL
//! flush per row, so it batches the same way; rows are written in a fixed order (site, then
//! account) so two replicas writing overlapping batches cannot deadlock.

use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::oneshot;

use super::store;
use crate::db::Db;
use crate::site::SiteId;

/// Records written in one transaction at most; the rest wait for the next.
const MAX_BATCH: usize = 256;

type Waiter = (SiteId, String, oneshot::Sender<bool>);

#[derive(Default)]
struct Queue {
    waiting: Vec<Waiter>,
    /// A task is writing batches; it takes whatever is waiting when its commit is done.
    writing: bool,
}

/// The batch writer of `jwt_users`.
#[derive(Clone)]
pub struct UserRecords {
    db: Db,
    queue: Arc<Mutex<Queue>>,
}

impl UserRecords {
    /// Writes through `db`.
    pub fn new(db: Db) -> Self {
        Self {
            db,
            queue: Arc::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records that `account` used the app on `site` (first seen, or seen again now); returns
    /// once the row is committed, `false` when the write failed.
    pub async fn record(&self, site: SiteId, account: &str) -> bool {
        let (sender, committed) = oneshot::channel();
        let start_writer = {
            let mut queue = self.lock();
            queue.waiting.push((site, account.to_string(), sender));
            !std::mem::replace(&mut queue.writing, true)
        };
        if start_writer {
            actix_web::rt::spawn(self.clone().write_batches());
        }
        committed.await.unwrap_or(false)
    }

    /// Commits batches until nothing is waiting.
    async fn write_batches(self) {
        loop {
            let batch: Vec<Waiter> = {
                let mut queue = self.lock();
                if queue.waiting.is_empty() {
                    queue.writing = false;
                    return;
                }
                let take = queue.waiting.len().min(MAX_BATCH);
                queue.waiting.drain(..take).collect()
            };
            let mut rows: Vec<(SiteId, String)> = batch
                .iter()
                .map(|(site, account, _)| (*site, account.clone()))
                .collect();
            rows.sort_unstable();
            rows.dedup();
            let written = store::record_users(&self.db, rows).await;
            if let Err(err) = &written {
                log::warn!("could not record {} users: {err}", batch.len());
            }
            for (_, _, sender) in batch {
                let _ = sender.send(written.is_ok());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{Pool, migrate, open_pool};

    /// An installed site with this id.
    fn add_site(pool: &Pool, id: i64) {
        pool.get()
            .unwrap()
            .execute(
                "INSERT INTO jwt_tokens (id, addon_key, client_key, base_url, product_type,
                     installed, enabled, installed_at, updated_at)
                 VALUES (?1, 'app', 'site', 'https://s.example', 'confluence', 1, 1, 'x', 'x')",
                [id],
            )
            .unwrap();
    }

    #[actix_web::test]
    async fn concurrent_records_are_committed_before_their_callers_return() {
        let dir = tempfile::tempdir().unwrap();
        let pool = open_pool(&dir.path().join("t.sqlite3"), 4).unwrap();
        migrate(&mut pool.get().unwrap()).unwrap();
        add_site(&pool, 1);
        let records = UserRecords::new(Db::new(pool.clone()));
        let accounts: Vec<String> = (0..300).map(|i| format!("account-{i}")).collect();
        let all = accounts.iter().map(|a| records.record(SiteId(1), a));
        let results = futures_util::future::join_all(all).await;
        assert!(results.iter().all(|ok| *ok));
        let rows: i64 = pool
            .get()
            .unwrap()
            .query_row(
                "SELECT count(*) FROM jwt_users WHERE site_id = 1",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(rows, 300);
        assert!(!records.lock().writing, "the writer stopped when done");
    }

    #[actix_web::test]
    async fn a_failed_batch_answers_false_and_the_next_one_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let pool = open_pool(&dir.path().join("t.sqlite3"), 4).unwrap();
        migrate(&mut pool.get().unwrap()).unwrap();
        let records = UserRecords::new(Db::new(pool.clone()));
        // No such site: the foreign key refuses the row.
        assert!(!records.record(SiteId(42), "nobody").await);
        add_site(&pool, 42);
        assert!(records.record(SiteId(42), "somebody").await);
    }

    #[actix_web::test]
    async fn the_same_user_twice_in_one_batch_is_one_row_and_both_callers_hear_yes() {
        let dir = tempfile::tempdir().unwrap();
        let pool = open_pool(&dir.path().join("t.sqlite3"), 4).unwrap();
        migrate(&mut pool.get().unwrap()).unwrap();
        add_site(&pool, 7);
        let records = UserRecords::new(Db::new(pool.clone()));
        let all = ["twice", "twice", "once"].map(|a| records.record(SiteId(7), a));
        let results = futures_util::future::join_all(all).await;
        assert_eq!(results, [true, true, true]);
        let rows: Vec<String> = pool
            .get()
            .unwrap()
            .prepare("SELECT account_id FROM jwt_users WHERE site_id = 7 ORDER BY account_id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows, ["once", "twice"]);
    }
}
