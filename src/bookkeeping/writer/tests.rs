//! The writer on a real SQLite file: batches, the bound, a gone site.

use std::sync::Arc;

use super::*;
use crate::db::{Pool, migrate, open_pool};

/// A migrated database in `dir` with sites `1..=sites` installed.
fn database(dir: &std::path::Path, sites: i64) -> Pool {
    let pool = open_pool(&dir.join("t.sqlite3"), 4).unwrap();
    migrate(&mut pool.get().unwrap()).unwrap();
    for id in 1..=sites {
        pool.get()
            .unwrap()
            .execute(
                &format!(
                    "INSERT INTO jwt_tokens (id, addon_key, client_key, base_url, product_type,
                         installed, enabled, installed_at, updated_at)
                     VALUES ({id}, 'app', 'site-{id}', 'https://s.example', 'confluence', 1, 1,
                         'x', 'x')"
                ),
                [],
            )
            .unwrap();
    }
    pool
}

fn seen(site: i64, way: Way, at: Stamp) -> Note {
    Note {
        site: SiteId(site),
        what: What::Seen(way),
        at,
    }
}

fn user(site: i64, account: impl Into<String>, at: Stamp) -> Note {
    Note {
        site: SiteId(site),
        what: What::User(account.into()),
        at,
    }
}

/// The stamp a request takes when it notes.
fn at() -> Stamp {
    Stamp::now()
}

fn count(pool: &Pool, sql: &str) -> i64 {
    pool.get()
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

fn inner(pool: &Pool, max_queued: usize) -> Arc<Inner> {
    Arc::new(Inner::new(
        Db::new(pool.clone()),
        SiteChanges::default(),
        max_queued,
    ))
}

#[actix_web::test]
async fn the_notes_of_many_sites_are_committed_in_one_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let pool = database(dir.path(), 200);
    let inner = inner(&pool, MAX_QUEUED);
    // Noted without yielding: the writer task starts only once the test awaits.
    for id in 1..=200 {
        assert!(inner.note(seen(id, Way::Connect, at())));
        assert!(inner.note(user(id, format!("account-{id}"), at())));
    }
    assert_eq!(inner.lock().notes.len(), 400);
    inner.flush().await;
    assert_eq!(inner.lock().batches, 1, "400 rows, one commit");
    assert_eq!(count(&pool, "SELECT count(*) FROM jwt_users"), 200);
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM jwt_tokens WHERE connect_seen_at IS NOT NULL"
        ),
        200
    );
    assert!(!inner.lock().writing, "the writer stopped when done");
}

#[actix_web::test]
async fn past_the_bound_a_note_is_dropped_and_its_throttle_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    let pool = database(dir.path(), 1);
    let inner = inner(&pool, 3);
    let book = crate::bookkeeping::Bookkeeping {
        inner: inner.clone(),
    };
    let dropped_before = crate::util::telemetry::bookkeeping_dropped_so_far();
    for n in 0..5 {
        book.user_seen(SiteId(1), &format!("user-{n}"));
    }
    assert_eq!(inner.lock().notes.len(), 3, "two were dropped");
    // Counted in the metrics (other tests of this process may drop notes too).
    assert!(crate::util::telemetry::bookkeeping_dropped_so_far() >= dropped_before + 2);
    // The dropped ones are noted again on their next request; the kept ones are throttled.
    assert!(inner.users.should_record(SiteId(1), "user-3"));
    assert!(inner.users.should_record(SiteId(1), "user-4"));
    assert!(!inner.users.should_record(SiteId(1), "user-0"));
    inner.flush().await;
    assert_eq!(count(&pool, "SELECT count(*) FROM jwt_users"), 3);
    assert!(
        inner.note(user(1, "user-4".to_string(), at())),
        "room again"
    );
    inner.flush().await;
    assert_eq!(count(&pool, "SELECT count(*) FROM jwt_users"), 4);
}

#[actix_web::test]
async fn a_gone_site_is_reported_and_does_not_fail_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    let pool = database(dir.path(), 1);
    let inner = inner(&pool, MAX_QUEUED);
    let before = inner.changes.current();
    inner.note(seen(42, Way::Forge, at()));
    inner.note(user(42, "ghost".to_string(), at()));
    inner.note(user(1, "real".to_string(), at()));
    inner.flush().await;
    assert_eq!(inner.lock().batches, 1);
    assert!(
        inner.changes.changed_since(SiteId(42), before),
        "caches told"
    );
    assert!(!inner.changes.changed_since(SiteId(1), before));
    let users = count(&pool, "SELECT count(*) FROM jwt_users");
    assert_eq!(users, 1, "the real user only: no row for a gone site");
}

#[actix_web::test]
async fn the_same_note_twice_in_one_batch_is_one_row() {
    let dir = tempfile::tempdir().unwrap();
    let pool = database(dir.path(), 7);
    let inner = inner(&pool, MAX_QUEUED);
    for account in ["twice", "twice", "once"] {
        inner.note(user(7, account, at()));
    }
    inner.flush().await;
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

#[test]
fn a_batch_is_in_site_order_and_within_a_site_in_table_order() {
    let t = at();
    let mut notes = vec![
        user(1, "b".to_string(), t),
        seen(2, Way::Forge, t),
        user(1, "a".to_string(), t),
        seen(1, Way::Forge, t),
        seen(1, Way::Connect, t),
    ];
    notes.sort_unstable();
    assert_eq!(
        notes,
        [
            seen(1, Way::Connect, t),
            seen(1, Way::Forge, t),
            user(1, "a".to_string(), t),
            user(1, "b".to_string(), t),
            seen(2, Way::Forge, t),
        ]
    );
}
