//! Issue 12, failure 3: the SQLite WAL grew without bound (every write was answered from
//! `RETURNING` through a statement reset before it finished, so SQLite never ran its automatic
//! checkpoint). Writes now reach the main file, the WAL stays near the checkpoint size, and a
//! WAL that a long reader made large is truncated back once the reader is gone. SQLite only:
//! PostgreSQL's write-ahead log is the database server's to manage.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::harness::*;

/// The automatic checkpoint runs at 1000 pages (about 4 MiB); this leaves room for the
/// commits that land while one runs.
const WAL_BOUND: u64 = 6 * 1024 * 1024;
/// `journal_size_limit`: what a WAL is truncated back to after a checkpoint reset it.
const JOURNAL_SIZE_LIMIT: u64 = 8 * 1024 * 1024;
/// 1,500 tasks wrote 19 MB of WAL, and not a byte to the main file, before the fix.
const BATCHES: usize = 30;
const PER_BATCH: usize = 50;

fn size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

fn wal_of(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

/// Creates `BATCHES × PER_BATCH` tasks, 50 at a time; returns the largest WAL seen between
/// batches.
async fn write_for_a_while(app: &TestApp, site: &Site, tag: &str) -> u64 {
    let wal = wal_of(&app.db_path);
    let mut peak = 0;
    for batch in 0..BATCHES {
        let creates = (0..PER_BATCH).map(|i| {
            site.api(
                app,
                reqwest::Method::POST,
                "/api/tasks",
                Some(json!({"title": format!("{tag} {batch}-{i}")})),
            )
        });
        for res in futures_util::future::join_all(creates).await {
            assert_eq!(res.status(), 201);
        }
        peak = peak.max(size(&wal));
    }
    peak
}

fn stored_tasks(app: &TestApp) -> i64 {
    db(app)
        .query_row("SELECT count(*) FROM tasks", [], |r| r.get(0))
        .unwrap()
}

#[actix_web::test]
async fn sustained_writes_keep_the_wal_bounded_and_reach_the_main_file() {
    if skip::sqlite_only_because("the database file's write-ahead log") {
        return;
    }
    let app = spawn_app().await;
    let site = Site::new("writer");
    site.install(&app).await;
    let peak = write_for_a_while(&app, &site, "task").await;
    assert!(peak <= WAL_BOUND, "the WAL reached {peak} bytes");
    assert_eq!(stored_tasks(&app), (BATCHES * PER_BATCH) as i64);
    // 1,500 rows are well over 100 KiB: checkpoints copied them into the database file.
    let main = size(&app.db_path);
    assert!(main >= 100 * 1024, "the main file is {main} bytes");
}

#[actix_web::test]
async fn a_wal_grown_behind_a_long_reader_is_truncated_once_the_reader_is_gone() {
    if skip::sqlite_only_because("the database file's write-ahead log") {
        return;
    }
    let app = spawn_app().await;
    let site = Site::new("reader");
    site.install(&app).await;
    // A reader that keeps its snapshot: no checkpoint can get past it, so the WAL grows.
    let reader = rusqlite::Connection::open(&app.db_path).unwrap();
    reader.execute_batch("BEGIN").unwrap();
    let _: i64 = reader
        .query_row("SELECT count(*) FROM tasks", [], |r| r.get(0))
        .unwrap();
    let grown = write_for_a_while(&app, &site, "held").await;
    assert!(grown > JOURNAL_SIZE_LIMIT, "the WAL only reached {grown}");
    reader.execute_batch("COMMIT").unwrap();
    drop(reader);
    // Writes go on; the next checkpoints reset the WAL and cut the file back to the limit.
    let wal = wal_of(&app.db_path);
    let mut n = 0;
    let shrunk = poll_async(PATIENCE, async || {
        n += 1;
        site.create_task(&app, &format!("after {n}")).await;
        (size(&wal) <= JOURNAL_SIZE_LIMIT).then_some(())
    })
    .await;
    assert!(
        shrunk.is_some(),
        "the WAL stayed at {} bytes after the reader left",
        size(&wal)
    );
}
