//! [`InstallationCache`]: installed sites by client key in memory, so a verified request reads
//! no database row for its installation.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use super::installations::Installation;
use crate::util::telemetry::{self, Cache};

/// Installed sites by client key, so a verified request reads no row for its installation.
///
/// Every lifecycle change calls [`InstallationCache::invalidate`] after its commit. A load that
/// raced with a change is not cached: loads carry the generation they started at.
///
/// With several replicas on PostgreSQL ([`InstallationCache::shared`]) the other replicas'
/// changes arrive as notifications: the cache trusts itself only while it is listening
/// ([`InstallationCache::listening`]), keeps nothing while the listener is down, and each entry
/// lives at most a short time-to-live, the safety net for a notification lost in between.
///
/// Bounded in size and time on every server: at most [`MAX_INSTALLATIONS`] entries, each
/// read again from the database once it is [`MAX_AGE`] old. An entry dropped early costs one
/// indexed read, never a different answer.
pub(crate) struct InstallationCache {
    inner: RwLock<Cached>,
    ttl: Duration,
    max_entries: usize,
}

/// Installations kept at most: 10,000 active sites with room to spare (an entry is about
/// 0.6 KiB: client key, base URL, secret, keys). Past it, entries past their time go first,
/// then all of them (each site then costs one more read).
const MAX_INSTALLATIONS: usize = 20_000;
/// How long a single server keeps an entry (replicas keep theirs shorter, see
/// [`InstallationCache::shared`]): the memory of a site that stopped calling is given back.
const MAX_AGE: Duration = Duration::from_secs(60 * 60);

struct Cached {
    generation: u64,
    /// Whether entries may be kept (always on a single server; while listening on replicas).
    trusted: bool,
    sites: HashMap<String, (Arc<Installation>, Instant)>,
}

impl Default for InstallationCache {
    fn default() -> Self {
        Self::new(true, MAX_AGE)
    }
}

impl InstallationCache {
    fn new(trusted: bool, ttl: Duration) -> Self {
        Self {
            inner: RwLock::new(Cached {
                generation: 0,
                trusted,
                sites: HashMap::new(),
            }),
            ttl,
            max_entries: MAX_INSTALLATIONS,
        }
    }

    /// The cache of one replica among several: keeps nothing until [`Self::listening`], and
    /// nothing longer than `ttl`.
    pub(crate) fn shared(ttl: Duration) -> Self {
        Self::new(false, ttl)
    }

    /// The cached installation, if any (and not older than the time-to-live).
    pub(crate) fn get(&self, client_key: &str) -> Option<Arc<Installation>> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let found = inner
            .sites
            .get(client_key)
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(found, _)| found.clone());
        telemetry::cache_lookup(Cache::Installations, found.is_some());
        found
    }

    /// The generation to pass to [`InstallationCache::insert`] after a database read.
    pub(crate) fn generation(&self) -> u64 {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .generation
    }

    /// Caches a row read at `generation`, unless a lifecycle change happened since (or the
    /// cache cannot hear about changes right now).
    pub(crate) fn insert(&self, generation: u64, installation: Arc<Installation>) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if inner.generation == generation && inner.trusted {
            if inner.sites.len() >= self.max_entries {
                let ttl = self.ttl;
                inner.sites.retain(|_, (_, at)| at.elapsed() < ttl);
                if inner.sites.len() >= self.max_entries {
                    inner.sites.clear();
                }
            }
            inner.sites.insert(
                installation.client_key.clone(),
                (installation, Instant::now()),
            );
            telemetry::cache_entries(Cache::Installations, inner.sites.len());
        }
    }

    /// Forgets a site after a lifecycle change.
    pub(crate) fn invalidate(&self, client_key: &str) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        inner.generation += 1;
        inner.sites.remove(client_key);
        telemetry::cache_entries(Cache::Installations, inner.sites.len());
    }

    /// Forgets everything; then keeps entries again only when `listening` (changes made
    /// elsewhere are heard), else reads every installation from the database.
    pub(crate) fn listening(&self, listening: bool) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        inner.generation += 1;
        inner.sites.clear();
        inner.trusted = listening;
        telemetry::cache_entries(Cache::Installations, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::SiteId;

    fn site(key: &str) -> Arc<Installation> {
        Arc::new(
            Installation::from_row(
                SiteId(1),
                key.into(),
                "https://example.atlassian.net/wiki".into(),
                None,
                true,
                "secret".into(),
            )
            .unwrap(),
        )
    }

    #[test]
    fn a_load_that_raced_a_change_is_not_cached() {
        let cache = InstallationCache::default();
        let generation = cache.generation();
        cache.invalidate("a");
        cache.insert(generation, site("a"));
        assert!(cache.get("a").is_none());
        cache.insert(cache.generation(), site("a"));
        assert!(cache.get("a").is_some());
    }

    #[test]
    fn a_replica_caches_only_while_it_hears_changes() {
        let cache = InstallationCache::shared(Duration::from_secs(60));
        cache.insert(cache.generation(), site("a"));
        assert!(cache.get("a").is_none(), "not listening yet");
        cache.listening(true);
        cache.insert(cache.generation(), site("a"));
        assert!(cache.get("a").is_some());
        cache.listening(false);
        assert!(
            cache.get("a").is_none(),
            "forgotten when the listener is lost"
        );
        cache.insert(cache.generation(), site("a"));
        assert!(cache.get("a").is_none(), "nothing kept while not listening");
    }

    #[test]
    fn the_cache_holds_no_more_than_its_cap_and_drops_entries_past_their_age() {
        let mut cache = InstallationCache::new(true, Duration::from_secs(3600));
        cache.max_entries = 100;
        for n in 0..250 {
            cache.insert(cache.generation(), site(&format!("site-{n}")));
            assert!(cache.inner.read().unwrap().sites.len() <= 100);
        }
        assert!(cache.get("site-249").is_some(), "the newest entry is kept");
        let aged = InstallationCache::new(true, Duration::from_millis(1));
        aged.insert(aged.generation(), site("a"));
        std::thread::sleep(Duration::from_millis(5));
        assert!(aged.get("a").is_none(), "past its age: read again");
    }

    #[test]
    fn a_replica_keeps_an_entry_no_longer_than_its_time_to_live() {
        let cache = InstallationCache::shared(Duration::ZERO);
        cache.listening(true);
        cache.insert(cache.generation(), site("a"));
        assert!(cache.get("a").is_none());
    }
}
