//! The pieces of the macro's path the second performance pass changed, one at a time, through
//! APIs that both the first and the second pass have (so the same file measures both):
//! reading one task (`Todo::find`, one request at a time on a real SQLite file in a temp dir).
//! (Creators' display names are no longer the server's: the page fills them in.)

use std::hint::black_box;
use std::time::{Duration, Instant};

use actix_web::rt::System;
use criterion::{Criterion, criterion_group, criterion_main};
use todo_connect::db::Db;
use todo_connect::site::SiteId;
use todo_connect::todo::Todo;
use todo_connect::todo::task::{TaskId, TaskTitle};

const ACCOUNT: &str = "557058:f1b2c3d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d";

/// An installed site with one task, on a fresh database file.
fn todo_with_a_task(dir: &std::path::Path) -> (Todo, SiteId, TaskId) {
    let (pool, site) = testkit::seed::installed_site(dir);
    let todo = Todo::new(Db::new(pool), 10_000);
    let title = TaskTitle::parse("Benchmark the read").expect("title");
    let task = System::new()
        .block_on(todo.create(site, title, None, None, Some(ACCOUNT.into())))
        .expect("task");
    (todo, site, TaskId(task.id))
}

fn find(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (todo, site, id) = todo_with_a_task(dir.path());
    let system = System::new();
    c.bench_function("hot_path/todo_find", |b| {
        b.iter_custom(|iters| {
            system.block_on(async {
                let started = Instant::now();
                for _ in 0..iters {
                    black_box(todo.find(site, id).await.expect("found"));
                }
                started.elapsed()
            })
        })
    });
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
}

criterion_group! {
    name = benches;
    config = config();
    targets = find
}
criterion_main!(benches);
