//! [`InstallationCache`]: installed sites by client key in memory, so a verified request reads
//! no database row for its installation.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use super::installations::Installation;

/// Installed sites by client key, so a verified request reads no row for its installation.
///
/// Every lifecycle change calls [`InstallationCache::invalidate`] after its commit. A load that
/// raced with a change is not cached: loads carry the generation they started at.
///
/// With several replicas on PostgreSQL ([`InstallationCache::shared`]) the other replicas'
/// changes arrive as notifications: the cache trusts itself only while it is listening
/// ([`InstallationCache::listening`]), keeps nothing while the listener is down, and each entry
/// lives at most a short time-to-live, the safety net for a notification lost in between.
pub(crate) struct InstallationCache {
    inner: RwLock<Cached>,
    ttl: Option<Duration>,
}

struct Cached {
    generation: u64,
    /// Whether entries may be kept (always on a single server; while listening on replicas).
    trusted: bool,
    sites: HashMap<String, (Arc<Installation>, Instant)>,
}

impl Default for InstallationCache {
    fn default() -> Self {
        Self::new(true, None)
    }
}

impl InstallationCache {
    fn new(trusted: bool, ttl: Option<Duration>) -> Self {
        Self {
            inner: RwLock::new(Cached {
                generation: 0,
                trusted,
                sites: HashMap::new(),
            }),
            ttl,
        }
    }

    /// The cache of one replica among several: keeps nothing until [`Self::listening`], and
    /// nothing longer than `ttl`.
    pub(crate) fn shared(ttl: Duration) -> Self {
        Self::new(false, Some(ttl))
    }

    /// The cached installation, if any (and not older than the time-to-live).
    pub(crate) fn get(&self, client_key: &str) -> Option<Arc<Installation>> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let (found, at) = inner.sites.get(client_key)?;
        match self.ttl {
            Some(ttl) if at.elapsed() >= ttl => None,
            _ => Some(found.clone()),
        }
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
            inner.sites.insert(
                installation.client_key.clone(),
                (installation, Instant::now()),
            );
        }
    }

    /// Forgets a site after a lifecycle change.
    pub(crate) fn invalidate(&self, client_key: &str) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        inner.generation += 1;
        inner.sites.remove(client_key);
    }

    /// Forgets everything; then keeps entries again only when `listening` (changes made
    /// elsewhere are heard), else reads every installation from the database.
    pub(crate) fn listening(&self, listening: bool) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        inner.generation += 1;
        inner.sites.clear();
        inner.trusted = listening;
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
    fn a_replica_keeps_an_entry_no_longer_than_its_time_to_live() {
        let cache = InstallationCache::shared(Duration::ZERO);
        cache.listening(true);
        cache.insert(cache.generation(), site("a"));
        assert!(cache.get("a").is_none());
    }
}
