//! A concurrency budget per key (a site): at most `per_key` pieces of work at once for one key,
//! a short, bounded wait for a place, then a refusal. One tenant flooding the app then holds
//! at most `per_key` database connections and cores, and every other tenant keeps its share.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The limits of a [`KeyedBudget`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct BudgetLimits {
    /// Pieces of work one key may have running at once.
    pub(crate) per_key: usize,
    /// Callers of one key that may wait for a place; more are refused at once.
    pub(crate) waiting: usize,
    /// How long a caller waits for a place before it is refused.
    pub(crate) patience: Duration,
}

struct Places {
    running: Arc<Semaphore>,
    waiting: AtomicUsize,
}

/// Budgets by key. Keys come from verified requests only (a site id). An idle key's entry
/// (nothing running, nobody waiting) is the same as none, so past [`MAX_IDLE_KEYS`] entries
/// the idle ones go: the map holds at most that many plus the keys busy at that moment
/// (bounded by the requests in flight), about 0.15 KiB each.
pub(crate) struct KeyedBudget<K> {
    limits: BudgetLimits,
    places: Mutex<HashMap<K, Arc<Places>>>,
    max_keys: usize,
}

/// Keys kept before idle ones are swept: 10,000 active sites with room to spare.
const MAX_IDLE_KEYS: usize = 20_000;

/// A place in a key's budget, given back when dropped.
pub(crate) struct Place(#[allow(dead_code)] OwnedSemaphorePermit);

impl<K: Eq + Hash + Clone> KeyedBudget<K> {
    /// An empty set of budgets.
    pub(crate) fn new(limits: BudgetLimits) -> Self {
        Self {
            limits,
            places: Mutex::default(),
            max_keys: MAX_IDLE_KEYS,
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.places.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// A place for `key`: at once if one is free, else after a bounded wait; `None` when
    /// too many already wait or no place came free in time.
    pub(crate) async fn enter(&self, key: &K) -> Option<Place> {
        let places = {
            let mut all = self.places.lock().unwrap_or_else(|e| e.into_inner());
            if all.len() >= self.max_keys && !all.contains_key(key) {
                // Idle: no place handed out (each holds the semaphore) and nobody in `enter`.
                all.retain(|_, p| Arc::strong_count(p) > 1 || Arc::strong_count(&p.running) > 1);
            }
            all.entry(key.clone())
                .or_insert_with(|| {
                    Arc::new(Places {
                        running: Arc::new(Semaphore::new(self.limits.per_key)),
                        waiting: AtomicUsize::new(0),
                    })
                })
                .clone()
        };
        if let Ok(permit) = places.running.clone().try_acquire_owned() {
            return Some(Place(permit));
        }
        if places.waiting.fetch_add(1, Ordering::SeqCst) >= self.limits.waiting {
            places.waiting.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        let acquired = actix_web::rt::time::timeout(
            self.limits.patience,
            places.running.clone().acquire_owned(),
        )
        .await;
        places.waiting.fetch_sub(1, Ordering::SeqCst);
        acquired.ok()?.ok().map(Place)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(per_key: usize, waiting: usize) -> KeyedBudget<u32> {
        KeyedBudget::new(BudgetLimits {
            per_key,
            waiting,
            patience: Duration::from_millis(50),
        })
    }

    #[actix_web::test]
    async fn a_key_over_its_budget_waits_then_is_refused_while_others_go_ahead() {
        let budget = budget(2, 1);
        let held = [
            budget.enter(&1).await.unwrap(),
            budget.enter(&1).await.unwrap(),
        ];
        assert!(
            budget.enter(&1).await.is_none(),
            "no place came free in time"
        );
        assert!(
            budget.enter(&2).await.is_some(),
            "another key is not affected"
        );
        drop(held);
        assert!(budget.enter(&1).await.is_some());
    }

    #[actix_web::test]
    async fn idle_keys_are_swept_past_the_cap_and_busy_ones_kept() {
        let mut budget = budget(1, 1);
        budget.max_keys = 10;
        let busy = budget.enter(&0).await.unwrap();
        for key in 1..50 {
            drop(budget.enter(&key).await.unwrap());
            assert!(budget.len() <= 10, "{}", budget.len());
        }
        assert!(
            budget.enter(&0).await.is_none(),
            "the busy key kept its count: its one place is still taken"
        );
        drop(busy);
        assert!(budget.enter(&0).await.is_some());
    }

    #[actix_web::test]
    async fn a_waiting_caller_gets_the_place_given_back_and_extra_waiters_are_refused() {
        let budget = budget(1, 1);
        let held = budget.enter(&1).await.unwrap();
        let waiter = budget.enter(&1);
        let (got, refused) = futures_util::future::join(waiter, async {
            let refused = budget.enter(&1).await.is_none();
            drop(held);
            refused
        })
        .await;
        assert!(refused, "a second waiter is refused at once");
        assert!(got.is_some(), "the waiter got the place given back");
    }
}
