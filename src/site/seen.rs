//! The last use of a site through each way in (`connect_seen_at`, `forge_seen_at`), written
//! cheaply: at most once per [`SEEN_WINDOW`] per site and way, decided in memory, so a hot
//! route makes no write (the write itself is the sites store's,
//! [`super::store::seen`]). `purge` never takes a site used after its last uninstall.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::SiteId;
use super::ways_in::Way;

/// How often one site's use through one way in is written at most.
const SEEN_WINDOW: Duration = Duration::from_secs(5 * 60);

/// Sites remembered at most; past it, entries older than the window go (and, if that is not
/// enough, all of them: the cost is one more write per site).
const MAX_REMEMBERED: usize = 100_000;

/// Which sites' use was written recently, per way in.
pub(crate) struct SeenSites {
    window: Duration,
    seen: Mutex<HashMap<(SiteId, Way), Instant>>,
}

impl Default for SeenSites {
    fn default() -> Self {
        Self::new(SEEN_WINDOW)
    }
}

impl SeenSites {
    /// Writes at most once per `window` per site and way.
    fn new(window: Duration) -> Self {
        Self {
            window,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// True when this use should be written now (and marks it as written).
    pub(crate) fn should_record(&self, site: SiteId, way: Way) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen
            .get(&(site, way))
            .is_some_and(|at| at.elapsed() < self.window)
        {
            return false;
        }
        if seen.len() >= MAX_REMEMBERED {
            let window = self.window;
            seen.retain(|_, at| at.elapsed() < window);
            if seen.len() >= MAX_REMEMBERED {
                seen.clear();
            }
        }
        seen.insert((site, way), Instant::now());
        true
    }

    /// Forgets a site's way in (it was uninstalled, or the write failed), so its next use is
    /// written at once: a use right after an uninstall must be on record.
    pub(crate) fn forget(&self, site: SiteId, way: Way) {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.remove(&(site, way));
    }

    #[cfg(test)]
    /// How many entries are kept (for tests of the bound).
    fn len(&self) -> usize {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_use_is_written_once_per_window_per_site_and_way() {
        let seen = SeenSites::new(Duration::from_secs(3600));
        assert!(seen.should_record(SiteId(1), Way::Forge));
        assert!(!seen.should_record(SiteId(1), Way::Forge));
        assert!(seen.should_record(SiteId(1), Way::Connect));
        assert!(seen.should_record(SiteId(2), Way::Forge));
        seen.forget(SiteId(1), Way::Forge);
        assert!(seen.should_record(SiteId(1), Way::Forge), "after forget");
    }

    #[test]
    fn the_memory_is_bounded() {
        let seen = SeenSites::new(Duration::from_secs(3600));
        for n in 0..(MAX_REMEMBERED as i64 + 10) {
            seen.should_record(SiteId(n), Way::Forge);
        }
        assert!(seen.len() <= MAX_REMEMBERED, "{}", seen.len());
    }

    #[test]
    fn at_the_cap_entries_past_their_window_go_first() {
        let seen = SeenSites::new(Duration::from_millis(1));
        for n in 0..(MAX_REMEMBERED as i64) {
            seen.should_record(SiteId(n), Way::Connect);
        }
        std::thread::sleep(Duration::from_millis(5));
        assert!(seen.should_record(SiteId(-1), Way::Connect));
        assert_eq!(seen.len(), 1, "the old ones went, the new one is kept");
    }
}
