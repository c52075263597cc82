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
        assert!(inner.note(Note::Seen(SiteId(id), Way::Connect, at())));
        assert!(inner.note(Note::User(SiteId(id), format!("account-{id}"), at())));
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
    for n in 0..5 {
        book.user_seen(SiteId(1), &format!("user-{n}"));
    }
    assert_eq!(inner.lock().notes.len(), 3, "two were dropped");
    // The dropped ones are noted again on their next request; the kept ones are throttled.
    assert!(inner.users.should_record(SiteId(1), "user-3"));
    assert!(inner.users.should_record(SiteId(1), "user-4"));
    assert!(!inner.users.should_record(SiteId(1), "user-0"));
    inner.flush().await;
    assert_eq!(count(&pool, "SELECT count(*) FROM jwt_users"), 3);
    assert!(
        inner.note(Note::User(SiteId(1), "user-4".into(), at())),
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
    inner.note(Note::Seen(SiteId(42), Way::Forge, at()));
    inner.note(Note::User(SiteId(42), "ghost".into(), at()));
    inner.note(Note::User(SiteId(1), "real".into(), at()));
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
        inner.note(Note::User(SiteId(7), account.into(), at()));
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
fn a_batch_is_in_table_order_then_site_order() {
    let t = at();
    let mut notes = vec![
        Note::User(SiteId(1), "b".into(), t),
        Note::Seen(SiteId(2), Way::Forge, t),
        Note::User(SiteId(1), "a".into(), t),
        Note::Seen(SiteId(1), Way::Forge, t),
        Note::Seen(SiteId(1), Way::Connect, t),
    ];
    notes.sort_unstable();
    assert_eq!(
        notes,
        [
            Note::Seen(SiteId(1), Way::Connect, t),
            Note::Seen(SiteId(1), Way::Forge, t),
            Note::Seen(SiteId(2), Way::Forge, t),
            Note::User(SiteId(1), "a".into(), t),
            Note::User(SiteId(1), "b".into(), t),
        ]
    );
}
