//! A keyed cache with single flight: concurrent misses of one key share one load, which runs
//! as its own task (a caller that gives up — a timeout, a client that hangs up — never
//! cancels it, and its result still fills the cache); results live for the time the load
//! says, failures included (a negative cache). A cache built [`FlightCache::serving_stale`]
//! also serves a known value past its time without waiting — stale while revalidate: the
//! caller gets the value at once and one background load (single flight, through the
//! caller's own gate) refreshes it, up to a maximum age after which it is dropped. The one
//! implementation behind install keys and Forge's key set.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::util::telemetry::{self, Cache};

/// What a load produced and how long to keep it (zero: do not keep, only hand it to the
/// callers already waiting). For a failed refresh of a value served stale, `keep_for` is how
/// long the stale value is served before the next refresh is tried.
pub(crate) struct Loaded<V, E> {
    pub(crate) result: Result<V, E>,
    pub(crate) keep_for: Duration,
}

/// What the cache knows about a key, without loading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Peek<V, E> {
    /// A kept result within its time (a value, or a remembered failure).
    Ready(Result<V, E>),
    /// A load is under way.
    Loading,
    /// Nothing known (or only a value past its time).
    Missing,
}

/// How a cache serves a value past its time ([`FlightCache::serving_stale`]).
#[derive(Clone, Copy)]
struct StalePolicy<E> {
    /// A value older than this (since it was loaded) is never served.
    max_age: Duration,
    /// A refresh failing with an error this says yes to drops the known value (the server
    /// said the key is gone) instead of keeping it.
    drops: fn(&E) -> bool,
}

type Outcome<V, E> = Option<Result<V, E>>;

/// A value that may still be served while a newer one loads, and when it was loaded.
struct Known<V> {
    value: V,
    loaded: Instant,
}

enum Entry<V, E> {
    Ready {
        result: Result<V, E>,
        until: Instant,
        loaded: Instant,
    },
    Loading {
        receiver: watch::Receiver<Outcome<V, E>>,
        stale: Option<Known<V>>,
    },
}

/// The cache. `max_entries` bounds memory: past it, kept results are dropped (expired ones
/// first, then remembered failures, all of them if that is not enough); loads under way are
/// never dropped. A flood of failing keys thus never pushes out a good value.
pub(crate) struct FlightCache<K, V, E> {
    entries: Arc<Mutex<HashMap<K, Entry<V, E>>>>,
    /// Which cache this is in `cache_lookups_total` and `cache_entries`.
    cache: Cache,
    max_entries: usize,
    stale: Option<StalePolicy<E>>,
}

/// What [`FlightCache::join_or_start`] found: an answer now, or a load to wait for.
enum Found<V, E> {
    Now(Result<V, E>),
    Wait(watch::Receiver<Outcome<V, E>>),
}

impl<K, V, E> FlightCache<K, V, E>
where
    K: Eq + Hash + Clone + 'static,
    V: Clone + 'static,
    E: Clone + 'static,
{
    /// An empty cache holding at most about `max_entries` keys, counted in the metrics as
    /// `cache`.
    pub(crate) fn new(cache: Cache, max_entries: usize) -> Self {
        Self {
            entries: Arc::default(),
            cache,
            max_entries,
            stale: None,
        }
    }

    /// Serves a known value past its time at once while one background load refreshes it,
    /// until the value is `max_age` old; a refresh failing with an error `drops` says yes to
    /// drops it, any other failure keeps it (a key server that is down or slow is not a key
    /// that is gone).
    pub(crate) fn serving_stale(mut self, max_age: Duration, drops: fn(&E) -> bool) -> Self {
        self.stale = Some(StalePolicy { max_age, drops });
        self
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<K, Entry<V, E>>> {
        lock(&self.entries)
    }

    /// A value that may still be served stale: loaded within the policy's maximum age.
    fn servable(&self, value: &V, loaded: Instant) -> Option<Known<V>> {
        let policy = self.stale.as_ref()?;
        (loaded.elapsed() < policy.max_age).then(|| Known {
            value: value.clone(),
            loaded,
        })
    }

    /// The kept result, whether a load is under way, or nothing; never loads.
    pub(crate) fn peek(&self, key: &K) -> Peek<V, E> {
        match self.lock().get(key) {
            Some(Entry::Ready { result, until, .. }) if Instant::now() < *until => {
                Peek::Ready(result.clone())
            }
            Some(Entry::Loading { .. }) => Peek::Loading,
            _ => Peek::Missing,
        }
    }

    /// The kept result for `key`, or the result of the load under way, or of a new load
    /// started with `load` (spawned on the current runtime). On a cache serving stale values,
    /// a known value past its time is answered at once (and refreshed in the background).
    /// `lost` is what waiters get if the load task dies without answering.
    pub(crate) async fn get<F, Fut>(&self, key: &K, load: F, lost: E) -> Result<V, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Loaded<V, E>> + 'static,
    {
        match self.join_or_start(key, load, false) {
            Found::Now(result) => result,
            Found::Wait(receiver) => wait(receiver, lost).await,
        }
    }

    /// A new result for `key`, whatever is kept: waits for the load under way, or starts one
    /// (a key the kept value lacks). Callers go on being served the kept value meanwhile.
    pub(crate) async fn reload<F, Fut>(&self, key: &K, load: F, lost: E) -> Result<V, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Loaded<V, E>> + 'static,
    {
        match self.join_or_start(key, load, true) {
            Found::Now(result) => result,
            Found::Wait(receiver) => wait(receiver, lost).await,
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

    #[cfg(test)]
    /// How many keys are held (for tests of the bound).
    fn len(&self) -> usize {
        self.lock().len()
    }

    /// An answer now (a kept result, or a stale value while it is refreshed), or a receiver
    /// for the load under way (started here if needed). `reload` skips what is kept.
    ///
    /// Counted here, once per lookup: an answer now (a kept result, a remembered failure, or a
    /// stale value) is a hit; waiting for a load (joined or started, and every reload) a miss.
    fn join_or_start<F, Fut>(&self, key: &K, load: F, reload: bool) -> Found<V, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Loaded<V, E>> + 'static,
    {
        let found = self.find_or_start(key, load, reload);
        telemetry::cache_lookup(self.cache, matches!(found, Found::Now(_)));
        found
    }

    fn find_or_start<F, Fut>(&self, key: &K, load: F, reload: bool) -> Found<V, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Loaded<V, E>> + 'static,
    {
        let mut entries = self.lock();
        let stale = match entries.get(key) {
            Some(Entry::Loading { receiver, stale }) => {
                return match stale.as_ref().filter(|_| !reload) {
                    Some(known) if self.servable(&known.value, known.loaded).is_some() => {
                        Found::Now(Ok(known.value.clone()))
                    }
                    _ => Found::Wait(receiver.clone()),
                };
            }
            Some(Entry::Ready {
                result,
                until,
                loaded,
            }) => {
                if !reload && Instant::now() < *until {
                    return Found::Now(result.clone());
                }
                match result {
                    Ok(value) => self.servable(value, *loaded),
                    Err(_) => None,
                }
            }
            None => None,
        };
        if entries.len() >= self.max_entries {
            prune(&mut entries, self.stale.as_ref().map(|p| p.max_age));
        }
        let answer = match (&stale, reload) {
            (Some(known), false) => Some(known.value.clone()),
            _ => None,
        };
        let (sender, receiver) = watch::channel(None);
        let until = match entries.get(key) {
            Some(Entry::Ready { until, .. }) => *until,
            _ => Instant::now(),
        };
        let restore = stale.as_ref().map(|k| (k.value.clone(), k.loaded, until));
        entries.insert(
            key.clone(),
            Entry::Loading {
                receiver: receiver.clone(),
                stale,
            },
        );
        telemetry::cache_entries(self.cache, entries.len());
        drop(entries);
        let task = load();
        let settle = Settle {
            entries: self.entries.clone(),
            cache: self.cache,
            key: key.clone(),
            restore,
            drops: self.stale.as_ref().map(|p| p.drops),
            max_age: self.stale.as_ref().map(|p| p.max_age),
        };
        actix_web::rt::spawn(async move {
            // Settles the entry even if the load panics: the guard's drop does it then.
            let loaded = task.await;
            settle.settle(loaded, &sender);
        });
        match answer {
            Some(value) => Found::Now(Ok(value)),
            None => Found::Wait(receiver),
        }
    }
}

fn lock<K, V, E>(
    entries: &Mutex<HashMap<K, Entry<V, E>>>,
) -> MutexGuard<'_, HashMap<K, Entry<V, E>>> {
    entries.lock().unwrap_or_else(|e| e.into_inner())
}

/// The outcome of the load `receiver` follows, or `lost` if its task died.
async fn wait<V: Clone, E: Clone>(
    mut receiver: watch::Receiver<Outcome<V, E>>,
    lost: E,
) -> Result<V, E> {
    match receiver.wait_for(Option::is_some).await {
        Ok(outcome) => outcome.clone().unwrap_or(Err(lost)),
        Err(_) => Err(lost),
    }
}

mod settle;
#[cfg(test)]
mod tests;

use settle::{Settle, prune};
