//! The site's users, whichever way they came in: every verified call that names its user (a
//! Connect context token's `sub`, a Forge Invocation Token's `principal`) is noted in
//! `jwt_users` for its site by the bookkeeping writer ([`crate::bookkeeping`]), at most once
//! per [`USER_RECORD_WINDOW`] per user and site ([`SeenUsers`], decided in memory). Knows
//! nothing of Connect, Forge or todos.

pub mod store;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::site::SiteId;

/// How often one user's visit is written to `jwt_users` at most.
const USER_RECORD_WINDOW: Duration = Duration::from_secs(5 * 60);
/// Users remembered at most (about 0.15 KiB each: site, account id, time): five users at once
/// on each of 10,000 active sites. Past it, entries older than the window go, then all of them
/// (the cost: one more `jwt_users` write per user).
const MAX_REMEMBERED: usize = 50_000;

/// Remembers which users were recorded recently, so a hot route makes no database write.
pub(crate) struct SeenUsers {
    window: Duration,
    seen: Mutex<HashMap<(SiteId, String), Instant>>,
    max_remembered: usize,
}

impl Default for SeenUsers {
    fn default() -> Self {
        Self::new(USER_RECORD_WINDOW)
    }
}

impl SeenUsers {
    /// Records at most once per `window` per user.
    fn new(window: Duration) -> Self {
        Self {
            window,
            seen: Mutex::new(HashMap::new()),
            max_remembered: MAX_REMEMBERED,
        }
    }

    /// True when this user should be written now (and marks it as written).
    pub(crate) fn should_record(&self, site: SiteId, account_id: &str) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let key = (site, account_id.to_string());
        if seen.get(&key).is_some_and(|at| at.elapsed() < self.window) {
            return false;
        }
        if seen.len() >= self.max_remembered {
            let window = self.window;
            seen.retain(|_, at| at.elapsed() < window);
            if seen.len() >= self.max_remembered {
                seen.clear();
            }
        }
        seen.insert(key, Instant::now());
        true
    }

    /// Forgets a user (its note was dropped or its write failed), so its next visit is noted.
    pub(crate) fn forget(&self, site: SiteId, account_id: &str) {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.remove(&(site, account_id.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_is_recorded_once_per_window_per_site() {
        let seen = SeenUsers::new(Duration::from_secs(60));
        assert!(seen.should_record(SiteId(1), "a"));
        assert!(!seen.should_record(SiteId(1), "a"));
        assert!(seen.should_record(SiteId(2), "a"), "another site");
        assert!(seen.should_record(SiteId(1), "b"), "another user");
        let none = SeenUsers::new(Duration::ZERO);
        assert!(none.should_record(SiteId(1), "a"));
        assert!(none.should_record(SiteId(1), "a"), "the window has passed");
    }

    #[test]
    fn no_more_users_than_the_cap_are_remembered_and_old_ones_go_first() {
        let mut seen = SeenUsers::new(Duration::from_secs(3600));
        seen.max_remembered = 100;
        for n in 0..250 {
            assert!(seen.should_record(SiteId(n), "a"));
            assert!(seen.seen.lock().unwrap().len() <= 100);
        }
        let mut passed = SeenUsers::new(Duration::from_millis(1));
        passed.max_remembered = 3;
        for n in 0..3 {
            passed.should_record(SiteId(n), "a");
        }
        std::thread::sleep(Duration::from_millis(5));
        passed.should_record(SiteId(9), "a");
        // Past the window, the three older ones went: only the new one is left.
        assert_eq!(passed.seen.lock().unwrap().len(), 1);
    }
}
