//! A keyed cache with single flight: concurrent misses of one key share one load, which runs
//! as its own task (a caller that gives up — a timeout, a client that hangs up — never
//! cancels it, and its result still fills the cache); results live for the time the load
//! says, failures included (a negative cache). The one implementation behind access tokens,
//! install keys and Forge's key set.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// What a load produced and how long to keep it (zero: do not keep, only hand it to the
/// callers already waiting).
pub(crate) struct Loaded<V, E> {
    pub(crate) result: Result<V, E>,
    pub(crate) keep_for: Duration,
}

/// What the cache knows about a key, without loading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Peek<V, E> {
    /// A kept result (a value, or a remembered failure).
    Ready(Result<V, E>),
    /// A load is under way.
    Loading,
    /// Nothing known.
    Missing,
}

type Outcome<V, E> = Option<Result<V, E>>;

enum Entry<V, E> {
    Ready {
        result: Result<V, E>,
        until: Instant,
    },
    Loading(watch::Receiver<Outcome<V, E>>),
}

/// The cache. `max_entries` bounds memory: past it, kept results are dropped (expired ones
/// first, then remembered failures, all of them if that is not enough); loads under way are
/// never dropped. A flood of failing keys thus never pushes out a good value.
pub(crate) struct FlightCache<K, V, E> {
    entries: Arc<Mutex<HashMap<K, Entry<V, E>>>>,
    max_entries: usize,
}

impl<K, V, E> FlightCache<K, V, E>
where
    K: Eq + Hash + Clone + 'static,
    V: Clone + 'static,
    E: Clone + 'static,
{
    /// An empty cache holding at most about `max_entries` keys.
    pub(crate) fn new(max_entries: usize) -> Self {
        Self {
            entries: Arc::default(),
            max_entries,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<K, Entry<V, E>>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The kept result, whether a load is under way, or nothing; never loads.
    pub(crate) fn peek(&self, key: &K) -> Peek<V, E> {
        match self.lock().get(key) {
            Some(Entry::Ready { result, until }) if Instant::now() < *until => {
                Peek::Ready(result.clone())
            }
            Some(Entry::Loading(_)) => Peek::Loading,
            _ => Peek::Missing,
        }
    }

    /// Forgets a kept result (a token the server refused, a key that rotated).
    pub(crate) fn forget(&self, key: &K) {
        let mut entries = self.lock();
        if matches!(entries.get(key), Some(Entry::Ready { .. })) {
            entries.remove(key);
        }
    }

    /// The kept result for `key`, or the result of the load under way, or of a new load
    /// started with `load` (spawned on the current runtime). `lost` is what waiters get if
    /// the load task dies without answering.
    pub(crate) async fn get<F, Fut>(&self, key: &K, load: F, lost: E) -> Result<V, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Loaded<V, E>> + 'static,
    {
        let mut waiting = match self.join_or_start(key, load) {
            Ok(ready) => return ready,
            Err(receiver) => receiver,
        };
        match waiting.wait_for(Option::is_some).await {
            Ok(outcome) => outcome.clone().unwrap_or(Err(lost)),
            Err(_) => Err(lost),
        }
    }

    #[cfg(test)]
    /// Like [`FlightCache::get`], but gives up waiting after `patience` (the load goes on and
    /// fills the cache for later callers): `None` when no answer came in time.
    async fn get_within<F, Fut>(
        &self,
        key: &K,
        load: F,
        lost: E,
        patience: Duration,
    ) -> Option<Result<V, E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Loaded<V, E>> + 'static,
    {
        actix_web::rt::time::timeout(patience, self.get(key, load, lost))
            .await
            .ok()
    }

    /// A kept result, or a receiver for the load under way (started here if needed).
    fn join_or_start<F, Fut>(
        &self,
        key: &K,
        load: F,
    ) -> Result<Result<V, E>, watch::Receiver<Outcome<V, E>>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Loaded<V, E>> + 'static,
    {
        let mut entries = self.lock();
        match entries.get(key) {
            Some(Entry::Ready { result, until }) if Instant::now() < *until => {
                return Ok(result.clone());
            }
            Some(Entry::Loading(receiver)) => return Err(receiver.clone()),
            _ => {}
        }
        if entries.len() >= self.max_entries {
            prune(&mut entries);
        }
        let (sender, receiver) = watch::channel(None);
        entries.insert(key.clone(), Entry::Loading(receiver.clone()));
        drop(entries);
        let task = load();
        let shared = self.entries.clone();
        let key = key.clone();
        actix_web::rt::spawn(async move {
            // Settles the entry even if the load panics: the guard's drop removes it.
            let guard = Settle {
                entries: &shared,
                key: &key,
            };
            let loaded = task.await;
            guard.settle(loaded, &sender);
        });
        Err(receiver)
    }
}

/// Drops kept results: expired ones; else remembered failures; else all of them.
fn prune<K: Eq + Hash, V, E>(entries: &mut HashMap<K, Entry<V, E>>) {
    let now = Instant::now();
    let before = entries.len();
    entries.retain(|_, e| !matches!(e, Entry::Ready { until, .. } if *until <= now));
    if entries.len() == before {
        entries.retain(|_, e| !matches!(e, Entry::Ready { result: Err(_), .. }));
    }
    if entries.len() == before {
        entries.retain(|_, e| matches!(e, Entry::Loading(_)));
    }
}

/// Replaces the loading entry with the result (or removes it), also when the load panics.
struct Settle<'a, K: Eq + Hash, V, E> {
    entries: &'a Mutex<HashMap<K, Entry<V, E>>>,
    key: &'a K,
}

impl<K: Eq + Hash + Clone, V: Clone, E: Clone> Settle<'_, K, V, E> {
    fn settle(self, loaded: Loaded<V, E>, sender: &watch::Sender<Outcome<V, E>>) {
        {
            let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            if loaded.keep_for.is_zero() {
                entries.remove(self.key);
            } else {
                let until = Instant::now() + loaded.keep_for;
                let result = loaded.result.clone();
                entries.insert(self.key.clone(), Entry::Ready { result, until });
            }
        }
        std::mem::forget(self);
        let _ = sender.send(Some(loaded.result));
    }
}

impl<K: Eq + Hash, V, E> Drop for Settle<'_, K, V, E> {
    fn drop(&mut self) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if matches!(entries.get(self.key), Some(Entry::Loading(_))) {
            entries.remove(self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn counted(
        calls: &Arc<AtomicUsize>,
        result: Result<u32, String>,
        keep_for: Duration,
        delay: Duration,
    ) -> impl Future<Output = Loaded<u32, String>> + 'static {
        let calls = calls.clone();
        async move {
            calls.fetch_add(1, Ordering::SeqCst);
            actix_web::rt::time::sleep(delay).await;
            Loaded { result, keep_for }
        }
    }

    #[actix_web::test]
    async fn concurrent_misses_share_one_load_and_later_calls_hit_the_cache() {
        let cache: FlightCache<&str, u32, String> = FlightCache::new(10);
        let calls = Arc::new(AtomicUsize::new(0));
        let hour = Duration::from_secs(3600);
        let loads = (0..10).map(|_| {
            cache.get(
                &"k",
                || counted(&calls, Ok(7), hour, Duration::from_millis(20)),
                "lost".into(),
            )
        });
        let results = futures_util::future::join_all(loads).await;
        assert!(results.iter().all(|r| *r == Ok(7)), "{results:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let again = cache
            .get(
                &"k",
                || counted(&calls, Ok(8), hour, Duration::ZERO),
                "lost".into(),
            )
            .await;
        assert_eq!((again, calls.load(Ordering::SeqCst)), (Ok(7), 1));
        assert_eq!(cache.peek(&"k"), Peek::Ready(Ok(7)));
    }

    #[actix_web::test]
    async fn a_failure_is_remembered_for_its_time_and_a_zero_time_is_not_kept() {
        let cache: FlightCache<&str, u32, String> = FlightCache::new(10);
        let calls = Arc::new(AtomicUsize::new(0));
        let fail = |keep| counted(&calls, Err("down".into()), keep, Duration::ZERO);
        let hour = Duration::from_secs(3600);
        assert_eq!(
            cache.get(&"k", || fail(hour), "lost".into()).await,
            Err("down".into())
        );
        assert_eq!(
            cache.get(&"k", || fail(hour), "lost".into()).await,
            Err("down".into())
        );
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "the failure was remembered"
        );
        cache.forget(&"k");
        assert_eq!(cache.peek(&"k"), Peek::Missing);
        let _ = cache
            .get(&"z", || fail(Duration::ZERO), "lost".into())
            .await;
        assert_eq!(cache.peek(&"z"), Peek::Missing, "not kept");
    }

    #[actix_web::test]
    async fn a_caller_that_gives_up_does_not_cancel_the_load() {
        let cache: FlightCache<&str, u32, String> = FlightCache::new(10);
        let calls = Arc::new(AtomicUsize::new(0));
        let slow = || {
            counted(
                &calls,
                Ok(1),
                Duration::from_secs(60),
                Duration::from_millis(50),
            )
        };
        let early = cache
            .get_within(&"k", slow, "lost".into(), Duration::from_millis(1))
            .await;
        assert_eq!(early, None);
        assert_eq!(cache.peek(&"k"), Peek::Loading);
        let waited = cache
            .get(
                &"k",
                || counted(&calls, Ok(2), Duration::ZERO, Duration::ZERO),
                "lost".into(),
            )
            .await;
        assert_eq!(waited, Ok(1), "joined the first load");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[actix_web::test]
    async fn past_its_size_the_cache_drops_kept_results_not_loads() {
        let cache: FlightCache<u32, u32, String> = FlightCache::new(3);
        let calls = Arc::new(AtomicUsize::new(0));
        for key in 0..10 {
            let load = || counted(&calls, Ok(key), Duration::from_secs(60), Duration::ZERO);
            assert_eq!(cache.get(&key, load, "lost".into()).await, Ok(key));
        }
        assert!(cache.lock().len() <= 3, "{}", cache.lock().len());
    }

    #[actix_web::test]
    async fn remembered_failures_are_dropped_before_a_good_value() {
        let cache: FlightCache<u32, u32, String> = FlightCache::new(3);
        let calls = Arc::new(AtomicUsize::new(0));
        let hour = Duration::from_secs(3600);
        let good = || counted(&calls, Ok(1), hour, Duration::ZERO);
        assert_eq!(cache.get(&0, good, "lost".into()).await, Ok(1));
        for key in 1..20 {
            let fail = || counted(&calls, Err("gone".into()), hour, Duration::ZERO);
            assert!(cache.get(&key, fail, "lost".into()).await.is_err());
        }
        assert_eq!(cache.peek(&0), Peek::Ready(Ok(1)), "the good value stayed");
    }
}
