//! Skipping visibly. A test that cannot run here (a tool is missing, or it belongs to the other
//! database backend) returns early, but first prints `SKIPPED <test>: <reason>` straight to
//! the process's stderr — past libtest's capture, so it shows in every run, and
//! `scripts/test.sh` counts those lines in its summary. A skip is never silent, and it is
//! never a pass in CI: with `CI=true` (set by `.ci/run`, whose setup installs every tool) a
//! missing tool fails the test instead.

use std::io::Write;

/// Whether this is a CI run (`CI=true` or `CI=1`), where a missing tool is a failure.
pub fn in_ci() -> bool {
    matches!(std::env::var("CI").as_deref(), Ok("true" | "1"))
}

/// The running test's name (libtest names each test's thread after it).
fn test_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("<unnamed test>")
        .to_string()
}

/// Reports that the running test is skipped and why. For skips by design (a SQLite-only test
/// on a PostgreSQL run): never a failure, also not in CI.
pub fn skip(reason: &str) {
    let line = format!("SKIPPED {}: {reason}\n", test_name());
    // Written to the real stderr (not `eprintln!`, which libtest captures for passing tests).
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// What a test needs, or `None` after reporting the skip: `found` is a tool's lookup (its
/// error the reason). With `CI=true` a missing tool panics instead: CI installs them all.
pub fn require<T>(found: Result<T, String>) -> Option<T> {
    match found {
        Ok(tool) => Some(tool),
        Err(reason) if in_ci() => {
            panic!("{reason} (CI=true: setup installs every tool, so a missing one fails)")
        }
        Err(reason) => {
            skip(&reason);
            None
        }
    }
}

/// True (after reporting the skip) when a SQLite-only test runs on a PostgreSQL run: it then
/// returns at once. Both runs list it (`scripts/test.sh` fails when their counts differ).
pub fn sqlite_only() -> bool {
    let on_postgres = crate::postgres::on_postgres();
    if on_postgres {
        skip("SQLite only (this run is on PostgreSQL)");
    }
    on_postgres
}

/// True (after reporting the skip) when a PostgreSQL-only test runs on a SQLite run.
pub fn postgres_only() -> bool {
    let on_sqlite = !crate::postgres::on_postgres();
    if on_sqlite {
        skip("PostgreSQL only (run with TODO_CONNECT_TEST_BACKEND=postgres)");
    }
    on_sqlite
}

/// [`sqlite_only`] with the reason the test has no PostgreSQL counterpart, in the skip line.
pub fn sqlite_only_because(why: &str) -> bool {
    let on_postgres = crate::postgres::on_postgres();
    if on_postgres {
        skip(&format!("SQLite only, {why} (this run is on PostgreSQL)"));
    }
    on_postgres
}

/// [`postgres_only`] with the reason the test has no SQLite counterpart, in the skip line.
pub fn postgres_only_because(why: &str) -> bool {
    let on_sqlite = !crate::postgres::on_postgres();
    if on_sqlite {
        skip(&format!("PostgreSQL only, {why} (this run is on SQLite)"));
    }
    on_sqlite
}
