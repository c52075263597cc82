//! [`HotMacros`]: the rendered macro page of each task seen recently, per site, so a macro view
//! of a task already shown reads no row and renders no template. Bounded in entries and time,
//! and forgotten by every write to the task (here, and on PostgreSQL by the other replicas'
//! notifications).

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use actix_web::web::Bytes;

use super::task::TaskId;
use crate::site::SiteId;
use crate::util::telemetry::{self, Cache};

/// Pages kept at most. A page is 1–2 KB, so 2–4 MB at most, wherever the views fall: room
/// for the tasks that are hot (a page many people open) across many sites. Measured at 10,000
/// sites with views spread over 2 M tasks (docs/performance.md), a cap of 10,000 took the
/// server past its 60 MB budget while nearly every view missed anyway.
pub(crate) const MAX_PAGES: usize = 2_000;

/// How long a page is served at most on a single server: every write there forgets it at
/// once, so this only bounds how long a page nobody views holds memory.
pub(crate) const SINGLE_SERVER_TTL: Duration = Duration::from_secs(60);

/// How long a page is served at most by one replica among several (PostgreSQL): as long as the
/// installation cache keeps an installation, the safety net for a notification lost in between.
pub(crate) const REPLICA_TTL: Duration = Duration::from_secs(10);

/// A task of a site: its authorization is the site's, so the site is part of the key.
type Key = (SiteId, TaskId);

/// Rendered macro pages by site and task.
///
/// Works like the installation cache: every write forgets after its commit, and a render that
/// raced with a write is not kept (renders carry the generation they started at). On replicas
/// ([`HotMacros::shared`]) nothing is kept until [`HotMacros::listening`], and everything is
/// forgotten when the listener is lost. The bound is two generations of entries: when the
/// young map is full it becomes the old one and the old one is dropped, so at most
/// [`MAX_PAGES`] pages are kept and a page viewed again is kept again.
pub(crate) struct HotMacros {
    inner: RwLock<Hot>,
    ttl: Duration,
    capacity: usize,
}

struct Hot {
    generation: u64,
    /// Whether pages may be kept (always on a single server; while listening on replicas).
    trusted: bool,
    young: HashMap<Key, (Bytes, Instant)>,
    old: HashMap<Key, (Bytes, Instant)>,
}

impl Hot {
    /// Shows the pages held in `cache_entries` (a key is in one map only: `insert` takes it
    /// out of the old one).
    fn show(&self) {
        telemetry::cache_entries(Cache::MacroPages, self.young.len() + self.old.len());
    }
}

impl HotMacros {
    fn new(trusted: bool, ttl: Duration, capacity: usize) -> Self {
        Self {
            inner: RwLock::new(Hot {
                generation: 0,
                trusted,
                young: HashMap::new(),
                old: HashMap::new(),
            }),
            ttl,
            capacity,
        }
    }

    /// The cache of a single server: trusted from the start.
    pub(crate) fn single() -> Self {
        Self::new(true, SINGLE_SERVER_TTL, MAX_PAGES)
    }

    /// The cache of one replica among several: keeps nothing until [`Self::listening`].
    pub(crate) fn shared() -> Self {
        Self::new(false, REPLICA_TTL, MAX_PAGES)
    }

    /// The page of this site's task, if kept and younger than the time-to-live.
    pub(crate) fn get(&self, site: SiteId, task: TaskId) -> Option<Bytes> {
        let hot = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let key = (site, task);
        let page = (hot.young.get(&key))
            .or_else(|| hot.old.get(&key))
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(page, _)| page.clone());
        telemetry::cache_lookup(Cache::MacroPages, page.is_some());
        page
    }

    /// The generation to pass to [`HotMacros::insert`]; taken before the task is read.
    pub(crate) fn generation(&self) -> u64 {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .generation
    }

    /// Keeps a page rendered from a read made at `generation`, unless a write happened since
    /// (or the cache cannot hear about writes right now).
    pub(crate) fn insert(&self, generation: u64, site: SiteId, task: TaskId, page: Bytes) {
        let mut hot = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if hot.generation != generation || !hot.trusted {
            return;
        }
        if hot.young.len() >= self.capacity.div_ceil(2) {
            hot.old = std::mem::take(&mut hot.young);
        }
        hot.old.remove(&(site, task));
        hot.young.insert((site, task), (page, Instant::now()));
        hot.show();
    }

    /// Forgets one task's page after a write to it.
    pub(crate) fn forget(&self, site: SiteId, task: TaskId) {
        let mut hot = self.inner.write().unwrap_or_else(|e| e.into_inner());
        hot.generation += 1;
        hot.young.remove(&(site, task));
        hot.old.remove(&(site, task));
        hot.show();
    }

    /// Forgets every page of a site (a write to tasks not named one by one, a site merged or
    /// purged).
    pub(crate) fn forget_site(&self, site: SiteId) {
        let mut hot = self.inner.write().unwrap_or_else(|e| e.into_inner());
        hot.generation += 1;
        hot.young.retain(|(s, _), _| *s != site);
        hot.old.retain(|(s, _), _| *s != site);
        hot.show();
    }

    /// Forgets everything; then keeps pages again only when `listening` (writes made
    /// elsewhere are heard).
    pub(crate) fn listening(&self, listening: bool) {
        let mut hot = self.inner.write().unwrap_or_else(|e| e.into_inner());
        hot.generation += 1;
        hot.young.clear();
        hot.old.clear();
        hot.trusted = listening;
        hot.show();
    }

    /// Forgets everything (a change whose site is unknown).
    pub(crate) fn forget_all(&self) {
        let trusted = self.inner.read().unwrap_or_else(|e| e.into_inner()).trusted;
        self.listening(trusted);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        let hot = self.inner.read().unwrap();
        hot.young.len() + hot.old.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SITE: SiteId = SiteId(1);

    fn page(n: i64) -> Bytes {
        Bytes::from(format!("page {n}"))
    }

    #[test]
    fn the_cache_keeps_at_most_its_capacity_and_the_pages_viewed_last() {
        let cache = HotMacros::new(true, Duration::from_secs(60), 100);
        for n in 1..=1_000 {
            cache.insert(cache.generation(), SITE, TaskId(n), page(n));
            assert!(cache.len() <= 100, "{} pages after {n}", cache.len());
        }
        assert_eq!(cache.get(SITE, TaskId(1_000)), Some(page(1_000)));
        assert_eq!(cache.get(SITE, TaskId(951)), Some(page(951)));
        assert_eq!(cache.get(SITE, TaskId(1)), None, "the oldest went first");
    }

    #[test]
    fn the_key_is_the_site_and_the_task() {
        let cache = HotMacros::single();
        cache.insert(cache.generation(), SITE, TaskId(7), page(7));
        assert_eq!(cache.get(SiteId(2), TaskId(7)), None);
        assert_eq!(cache.get(SITE, TaskId(7)), Some(page(7)));
    }

    #[test]
    fn a_render_that_raced_a_write_is_not_kept() {
        let cache = HotMacros::single();
        let generation = cache.generation();
        cache.forget(SITE, TaskId(8));
        cache.insert(generation, SITE, TaskId(7), page(7));
        assert_eq!(cache.get(SITE, TaskId(7)), None);
    }

    #[test]
    fn writes_forget_their_task_or_their_site() {
        let cache = HotMacros::single();
        for (site, task) in [(1, 1), (1, 2), (2, 1)] {
            cache.insert(cache.generation(), SiteId(site), TaskId(task), page(task));
        }
        cache.forget(SITE, TaskId(1));
        assert_eq!(cache.get(SITE, TaskId(1)), None);
        assert!(cache.get(SITE, TaskId(2)).is_some());
        cache.forget_site(SITE);
        assert_eq!(cache.get(SITE, TaskId(2)), None);
        assert!(cache.get(SiteId(2), TaskId(1)).is_some(), "another site's");
        cache.forget_all();
        assert_eq!(cache.get(SiteId(2), TaskId(1)), None);
    }

    #[test]
    fn a_page_lives_no_longer_than_its_time_to_live() {
        let cache = HotMacros::new(true, Duration::ZERO, 100);
        cache.insert(cache.generation(), SITE, TaskId(7), page(7));
        assert_eq!(cache.get(SITE, TaskId(7)), None);
    }

    #[test]
    fn a_replica_keeps_pages_only_while_it_hears_writes() {
        let cache = HotMacros::shared();
        cache.insert(cache.generation(), SITE, TaskId(7), page(7));
        assert_eq!(cache.get(SITE, TaskId(7)), None, "not listening yet");
        cache.listening(true);
        cache.insert(cache.generation(), SITE, TaskId(7), page(7));
        assert!(cache.get(SITE, TaskId(7)).is_some());
        cache.forget_all();
        cache.insert(cache.generation(), SITE, TaskId(7), page(7));
        assert!(cache.get(SITE, TaskId(7)).is_some(), "still listening");
        cache.listening(false);
        assert_eq!(cache.get(SITE, TaskId(7)), None, "forgotten when lost");
        cache.insert(cache.generation(), SITE, TaskId(7), page(7));
        assert_eq!(cache.get(SITE, TaskId(7)), None, "nothing kept meanwhile");
    }
}
