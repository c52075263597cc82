//! Database errors, caches and the process in the metrics, against the real binary: a fresh
//! process's cache lookups and entries after a known sequence of requests (Connect and Forge),
//! a write refused for a lock held from the test counted once as "busy", answered 503 and
//! storing nothing, and the process metrics describing the server's own process.

use std::sync::mpsc;
use std::thread::JoinHandle;

use reqwest::Method;
use serde_json::json;

use super::{Deployment, Sample, parser_python, value};
use crate::harness::raw_http::request;
use crate::harness::*;
use crate::sites::forge_call;

fn lookups(samples: &[Sample], cache: &str, result: &str) -> f64 {
    let labels = [("cache", cache), ("result", result)];
    value(samples, "cache_lookups_total", &labels)
}

fn entries(samples: &[Sample], cache: &str) -> f64 {
    value(samples, "cache_entries", &[("cache", cache)])
}

fn db_errors(samples: &[Sample], kind: &str) -> f64 {
    value(samples, "db_errors_total", &[("kind", kind)])
}

#[test]
fn each_cache_lookup_counts_once_as_a_hit_or_a_miss_and_the_entries_show_what_is_held() {
    let Some(python) = parser_python() else {
        return;
    };
    let mut deployment = Deployment::start(&[]);
    if on_postgres() {
        // A replica's caches keep nothing until they hear the other replicas.
        deployment.server.wait_for_log("listening for changes");
    }
    let start = deployment.scrape(&python);
    for cache in [
        "installations",
        "forge_sites",
        "install_keys",
        "forge_keys",
        "macro_pages",
    ] {
        assert_eq!(lookups(&start, cache, "hit"), 0.0, "{cache}");
        assert_eq!(lookups(&start, cache, "miss"), 0.0, "{cache}");
        assert_eq!(entries(&start, cache), 0.0, "{cache}");
    }

    // Install (the install key: a miss), create a task (the installation: a miss), view the
    // task's macro twice (the installation: two hits; the page: a miss, then a hit), install a
    // second site signed with the same key (a hit).
    let first = Site::new("caches-a");
    let id = deployment.install_with_task(&first);
    deployment.render_macro(&first, id);
    deployment.render_macro(&first, id);
    let second = Site::new("caches-b");
    deployment
        .sys
        .block_on(second.install_at(&deployment.server.address()));

    let after = deployment.scrape(&python);
    assert_eq!(lookups(&after, "install_keys", "miss"), 1.0);
    assert_eq!(lookups(&after, "install_keys", "hit"), 1.0);
    assert_eq!(entries(&after, "install_keys"), 1.0);
    for cache in ["forge_sites", "forge_keys"] {
        let seen = lookups(&after, cache, "hit") + lookups(&after, cache, "miss");
        assert_eq!((seen, entries(&after, cache)), (0.0, 0.0), "{cache}");
    }
    let (installations, pages) = (
        [
            lookups(&after, "installations", "hit"),
            lookups(&after, "installations", "miss"),
        ],
        [
            lookups(&after, "macro_pages", "hit"),
            lookups(&after, "macro_pages", "miss"),
        ],
    );
    if on_postgres() {
        // A replica also forgets on hearing its own changes (the install, the new task),
        // whenever the notification arrives: the split may shift, the number of lookups not.
        assert_eq!(installations.iter().sum::<f64>(), 3.0, "{after:?}");
        assert_eq!(pages.iter().sum::<f64>(), 2.0, "{after:?}");
        assert!(entries(&after, "installations") <= 1.0);
        assert!(entries(&after, "macro_pages") <= 1.0);
    } else {
        assert_eq!(installations, [2.0, 1.0]);
        assert_eq!(pages, [1.0, 1.0]);
        assert_eq!(entries(&after, "installations"), 1.0);
        assert_eq!(entries(&after, "macro_pages"), 1.0);
    }
}

/// The database's write lock (SQLite) or the tasks table's (PostgreSQL), held by another
/// connection until dropped.
struct HeldLock {
    release: Option<mpsc::Sender<()>>,
    holder: Option<JoinHandle<()>>,
}

impl HeldLock {
    fn take(db: TestDb) -> Self {
        let (locked, is_locked) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        let holder = std::thread::spawn(move || match db {
            TestDb::Sqlite(conn) => {
                conn.execute_batch("BEGIN IMMEDIATE").unwrap();
                locked.send(()).unwrap();
                let _ = released.recv();
                conn.execute_batch("ROLLBACK").unwrap();
            }
            TestDb::Postgres(url) => {
                postgres::run(&url, move |client| async move {
                    client
                        .batch_execute("BEGIN; LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE")
                        .await?;
                    locked.send(()).unwrap();
                    // Nothing else runs on this thread's runtime meanwhile: the lock is held.
                    let _ = released.recv();
                    client.batch_execute("ROLLBACK").await
                })
                .unwrap();
            }
        });
        is_locked.recv().expect("the lock is taken");
        Self {
            release: Some(release),
            holder: Some(holder),
        }
    }
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        drop(self.release.take());
        if let Some(holder) = self.holder.take() {
            holder.join().unwrap();
        }
    }
}

#[test]
fn a_write_that_waits_out_a_held_lock_is_a_503_counted_once_as_busy_and_stores_nothing() {
    let Some(python) = parser_python() else {
        return;
    };
    // SQLite waits out its busy timeout (5 s); PostgreSQL its lock timeout, 1 s here.
    let deployment = Deployment::start(&[("DATABASE_TIMEOUT", "1")]);
    let site = Site::new("db-busy");
    deployment.install_with_task(&site);
    let path = deployment._dir.path().join("todo.sqlite3");
    let db = TestDb::at(&path);
    // The setup's bookkeeping (the site and its user seen) is written first: the writer must
    // not wait on the lock too (a second error), and the same user is not noted again for
    // minutes.
    wait_until("the bookkeeping written", || {
        let count = |sql: &str| db.query_row(sql, [], |r| r.get::<i64>(0)).unwrap();
        count("SELECT count(*) FROM jwt_users") == 1
            && count("SELECT count(*) FROM jwt_tokens WHERE connect_seen_at IS NOT NULL") == 1
    });
    let tasks = || {
        db.query_row("SELECT count(*) FROM tasks", [], |r| r.get::<i64>(0))
            .unwrap()
    };
    assert_eq!(tasks(), 1);
    let before = deployment.scrape(&python);

    let held = HeldLock::take(TestDb::at(&path));
    let body = json!({"title": "never stored"}).to_string();
    let token = site.context_token("account-1");
    let res = request(deployment.port(), "POST", "/api/tasks", Some(&token), &body);
    drop(held);

    assert_eq!(res.status, 503, "{}", res.text());
    assert!(
        res.head.to_ascii_lowercase().contains("retry-after: 1"),
        "{}",
        res.head
    );
    assert_eq!(tasks(), 1, "nothing stored");
    let after = deployment.scrape(&python);
    for (kind, moved) in [
        ("busy", 1.0),
        ("constraint", 0.0),
        ("connection", 0.0),
        ("other", 0.0),
    ] {
        assert_eq!(
            db_errors(&after, kind) - db_errors(&before, kind),
            moved,
            "{kind}"
        );
    }
    // The lock gone, the same write succeeds.
    let res = request(deployment.port(), "POST", "/api/tasks", Some(&token), &body);
    assert_eq!(res.status, 201, "{}", res.text());
    assert_eq!(tasks(), 2);
}

#[test]
fn forge_calls_count_in_the_key_set_and_site_caches() {
    let Some(python) = parser_python() else {
        return;
    };
    let jwks = JwksServer::start();
    let env = forge_env(&jwks);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut deployment = Deployment::start(&env);
    if on_postgres() {
        deployment.server.wait_for_log("listening for changes");
    }
    let site = ForgeSite::new();
    let call = |method: Method, path: &str, body: Option<serde_json::Value>| {
        forge_call(deployment.port(), &site.token(), method, path, body)
    };
    let res = call(Method::POST, "/forge/events", Some(site.installed_event()));
    assert_eq!(res.status, 200, "{}", res.text());
    let lists = 3;
    for _ in 0..lists {
        let res = call(Method::GET, "/forge/api/tasks", None);
        assert_eq!(res.status, 200, "{}", res.text());
    }

    let after = deployment.scrape(&python);
    // One key set, fetched by the first call and answered from memory for the others.
    let calls = f64::from(1 + lists);
    assert_eq!(lookups(&after, "forge_keys", "miss"), 1.0);
    assert_eq!(lookups(&after, "forge_keys", "hit"), calls - 1.0);
    assert_eq!(entries(&after, "forge_keys"), 1.0);
    // Every call is mapped to its site once: the first resolved in the store, the others from
    // memory (on PostgreSQL, hearing its own change may cost one more resolution).
    let sites = [
        lookups(&after, "forge_sites", "hit"),
        lookups(&after, "forge_sites", "miss"),
    ];
    assert_eq!(sites.iter().sum::<f64>(), calls, "{after:?}");
    if !on_postgres() {
        assert_eq!(sites, [calls - 1.0, 1.0]);
        assert_eq!(entries(&after, "forge_sites"), 1.0);
    }
    for cache in ["installations", "install_keys", "macro_pages"] {
        let seen = lookups(&after, cache, "hit") + lookups(&after, cache, "miss");
        assert_eq!(seen, 0.0, "{cache}");
    }
}

#[cfg(target_os = "linux")]
#[test]
fn the_process_metrics_describe_the_server_process() {
    let Some(python) = parser_python() else {
        return;
    };
    let deployment = Deployment::start(&[]);
    let first = deployment.scrape(&python);
    let one = |samples: &[Sample], name: &str| {
        let found: Vec<f64> = (samples.iter())
            .filter(|s| s.name == name)
            .map(|s| s.value)
            .collect();
        assert_eq!(found.len(), 1, "{name}: {samples:?}");
        found[0]
    };
    // The server's own process, as the kernel tells it from outside: its start (field 22 of
    // /proc/<pid>/stat, in 1/100 s since boot) after the boot time.
    let started = one(&first, "process_start_time_seconds");
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", deployment.server.pid())).unwrap();
    let after_name = stat.rsplit_once(')').unwrap().1;
    let ticks: f64 = after_name
        .split_whitespace()
        .nth(22 - 3)
        .unwrap()
        .parse()
        .unwrap();
    let boot: f64 = std::fs::read_to_string("/proc/stat")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .unwrap()
        .parse()
        .unwrap();
    assert!((started - (boot + ticks / 100.0)).abs() < 1e-6, "{started}");
    assert!(started > 1.6e9);
    let open = one(&first, "process_open_fds");
    // At least the standard streams, the two listeners and the database file.
    assert!(open >= 6.0, "{open}");
    assert!(open <= one(&first, "process_max_fds"));
    assert!(one(&first, "process_resident_memory_bytes") > 1024.0 * 1024.0);
    let cpu = one(&first, "process_cpu_seconds_total");
    assert!(cpu >= 0.0);
    let site = Site::new("process");
    deployment.install_with_task(&site);
    let second = deployment.scrape(&python);
    assert!(one(&second, "process_cpu_seconds_total") >= cpu);
    assert_eq!(one(&second, "process_start_time_seconds"), started);
}
