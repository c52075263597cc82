//! Users seen for the first time all at once (after a restart, every viewer's first request
//! writes a `jwt_users` row), on a real SQLite file with the server's pragmas (WAL,
//! `synchronous=FULL`): one transaction per record through the blocking pool, as the first pass
//! wrote them, against the bookkeeping writer (`bookkeeping::Bookkeeping`), which commits the
//! notes that arrive together in one transaction (timed until its flush returns, when every
//! note is committed). Each iteration records `USERS` new accounts at once.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix_web::rt::System;
use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::future::join_all;
use todo_connect::bookkeeping::Bookkeeping;
use todo_connect::db::Db;
use todo_connect::users::store;

/// Accounts first seen at the same moment, per iteration.
const USERS: u64 = 100;

fn records(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (pool, site) = testkit::seed::installed_site(dir.path());
    let db = Db::new(pool);
    let bookkeeping = Bookkeeping::new(db.clone());
    let system = System::new();
    // Every record is of an account not seen before (an insert, not an update).
    let next = AtomicU64::new(0);
    let fresh = || {
        (0..USERS)
            .map(|_| format!("account-{}", next.fetch_add(1, Ordering::Relaxed)))
            .collect::<Vec<_>>()
    };
    let mut group = c.benchmark_group("user_records");
    group.bench_function("one_transaction_each", |b| {
        b.iter_custom(|iters| {
            system.block_on(async {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    let accounts = fresh();
                    let started = Instant::now();
                    let writes = accounts.into_iter().map(|account| {
                        let db = db.clone();
                        async move { store::record_users(&db, vec![(site, account)]).await }
                    });
                    for written in join_all(writes).await {
                        written.expect("recorded");
                    }
                    spent += started.elapsed();
                }
                spent
            })
        })
    });
    group.bench_function("batched", |b| {
        b.iter_custom(|iters| {
            system.block_on(async {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    let accounts = fresh();
                    let started = Instant::now();
                    for account in black_box(&accounts) {
                        bookkeeping.user_seen(site, account);
                    }
                    bookkeeping.flush().await;
                    spent += started.elapsed();
                }
                spent
            })
        })
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .sample_size(10)
}

criterion_group! {
    name = benches;
    config = config();
    targets = records
}
criterion_main!(benches);
