//! Waiting on conditions, never on the clock: a condition is polled until it holds or a
//! deadline passes. The deadline is a hang guard, not a timing assertion.

use std::time::{Duration, Instant};

/// How long a wait keeps polling before the test fails (a hang guard, not a timing assertion).
pub const PATIENCE: Duration = Duration::from_secs(30);

/// The pause between two polls of a condition.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// Polls `check` until it gives `Some`, for at most `patience`; `None` if it never did.
pub fn poll<T>(patience: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + patience;
    loop {
        if let Some(found) = check() {
            return Some(found);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// Waits until `condition` holds; fails the test naming `what` after [`PATIENCE`].
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    poll(PATIENCE, || condition().then_some(()))
        .unwrap_or_else(|| panic!("timed out waiting for {what}"));
}

/// [`poll`] for conditions that need `.await` (the runtime keeps running between polls).
pub async fn poll_async<T>(
    patience: Duration,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> Option<T> {
    let deadline = Instant::now() + patience;
    loop {
        if let Some(found) = check().await {
            return Some(found);
        }
        if Instant::now() >= deadline {
            return None;
        }
        actix_web::rt::time::sleep(POLL_INTERVAL).await;
    }
}
