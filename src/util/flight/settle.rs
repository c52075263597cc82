//! Where a load ends: its result replaces the loading entry (or, for a failed refresh of a
//! value served stale, that value comes back), also when the load panics; and the pruning
//! that keeps the cache within its size.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::{Entry, Loaded, Outcome, lock};
use crate::util::telemetry::{self, Cache};

/// Drops kept results: those no longer servable (past their time, or for a value served
/// stale, past `max_age`); else remembered failures; else all of them.
pub(super) fn prune<K: Eq + Hash, V, E>(
    entries: &mut HashMap<K, Entry<V, E>>,
    max_age: Option<Duration>,
) {
    let now = Instant::now();
    let before = entries.len();
    entries.retain(|_, e| match e {
        Entry::Ready {
            result: Ok(_),
            loaded,
            until,
        } => *until > now || max_age.is_some_and(|age| loaded.elapsed() < age),
        Entry::Ready { until, .. } => *until > now,
        Entry::Loading { .. } => true,
    });
    if entries.len() == before {
        entries.retain(|_, e| !matches!(e, Entry::Ready { result: Err(_), .. }));
    }
    if entries.len() == before {
        entries.retain(|_, e| matches!(e, Entry::Loading { .. }));
    }
}

/// Replaces the loading entry with the result — or, for a failed refresh of a value served
/// stale, with that value again — also when the load panics (then it is removed, or the stale
/// value restored).
pub(super) struct Settle<K: Eq + Hash, V, E> {
    pub(super) entries: Arc<Mutex<HashMap<K, Entry<V, E>>>>,
    pub(super) cache: Cache,
    pub(super) key: K,
    /// The value served stale during this load, when it was loaded, and until when it was
    /// fresh (a reload that fails leaves it as fresh as it was).
    pub(super) restore: Option<(V, Instant, Instant)>,
    pub(super) drops: Option<fn(&E) -> bool>,
    pub(super) max_age: Option<Duration>,
}

impl<K: Eq + Hash + Clone, V: Clone, E: Clone> Settle<K, V, E> {
    pub(super) fn settle(mut self, loaded: Loaded<V, E>, sender: &watch::Sender<Outcome<V, E>>) {
        {
            let mut entries = lock(&self.entries);
            let now = Instant::now();
            let restore = match &loaded.result {
                Err(err) if !self.drops.is_some_and(|drops| drops(err)) => self.restore.take(),
                _ => None,
            };
            if let (Some((value, at, fresh_until)), Some(max_age)) = (restore, self.max_age) {
                // Served as it was until the next try, never past its maximum age.
                let until = fresh_until.max(now + loaded.keep_for).min(at + max_age);
                let result = Ok(value);
                let entry = Entry::Ready {
                    result,
                    until,
                    loaded: at,
                };
                entries.insert(self.key.clone(), entry);
            } else if loaded.keep_for.is_zero() {
                entries.remove(&self.key);
            } else {
                let until = now + loaded.keep_for;
                let result = loaded.result.clone();
                let entry = Entry::Ready {
                    result,
                    until,
                    loaded: now,
                };
                entries.insert(self.key.clone(), entry);
            }
            self.restore = None;
            telemetry::cache_entries(self.cache, entries.len());
        }
        let _ = sender.send(Some(loaded.result));
        // Drop runs next: it finds no loading entry (and nothing to restore) and does nothing.
    }
}

impl<K: Eq + Hash, V, E> Drop for Settle<K, V, E> {
    fn drop(&mut self) {
        let mut entries = lock(&self.entries);
        if !matches!(entries.get(&self.key), Some(Entry::Loading { .. })) {
            return;
        }
        match self.restore.take() {
            // The load died: the stale value is served again; the next caller retries.
            Some((value, loaded, _)) => {
                let until = Instant::now();
                let result = Ok(value);
                let entry = Entry::Ready {
                    result,
                    until,
                    loaded,
                };
                if let Some(slot) = entries.get_mut(&self.key) {
                    *slot = entry;
                }
            }
            None => {
                entries.remove(&self.key);
                telemetry::cache_entries(self.cache, entries.len());
            }
        }
    }
}
