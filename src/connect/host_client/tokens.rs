//! Access tokens per (site, account, scopes), with at most one exchange in flight per key: later
//! callers wait for the one running and share its token (or its error). Locks are never held
//! across an await, and an exchange dropped midway hands over to the next caller.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use super::{HostError, REFRESH_MARGIN};
use crate::connect::jwt::Secret;

/// Above this many cached keys, expired ones are dropped.
const MAX_CACHED_TOKENS: usize = 10_000;

/// (client key, account id, upper-cased sorted scopes joined by spaces).
pub(super) type TokenKey = (String, String, String);

/// The cache; one per [`super::HostClients`].
#[derive(Default)]
pub(super) struct TokenCache {
    slots: Mutex<HashMap<TokenKey, Arc<Slot>>>,
}

#[derive(Default)]
struct Slot(Mutex<SlotState>);

#[derive(Default)]
struct SlotState {
    token: Option<(Secret, Instant)>,
    in_flight: bool,
    /// Bumped whenever an exchange ends (done, failed or abandoned); waiters watch it.
    round: u64,
    failure: Option<HostError>,
    waiters: Vec<Waker>,
}

impl SlotState {
    fn fresh_token(&self) -> Option<Secret> {
        self.token
            .as_ref()
            .filter(|(_, until)| Instant::now() < *until)
            .map(|(token, _)| token.clone())
    }
}

impl Slot {
    fn lock(&self) -> MutexGuard<'_, SlotState> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Kept when the cache is pruned: in use, exchanging, or holding a fresh token.
    fn is_live(self: &Arc<Self>) -> bool {
        Arc::strong_count(self) > 1 || {
            let state = self.lock();
            state.in_flight || state.fresh_token().is_some()
        }
    }

    /// Resolves once the exchange running in `round` has ended.
    async fn round_ended(&self, round: u64) {
        std::future::poll_fn(|cx| {
            let mut state = self.lock();
            if state.round != round {
                return Poll::Ready(());
            }
            if !state.waiters.iter().any(|w| w.will_wake(cx.waker())) {
                state.waiters.push(cx.waker().clone());
            }
            Poll::Pending
        })
        .await
    }
}

/// Ends the round of the exchange it guards, also when that exchange is dropped midway.
struct Flight<'a> {
    slot: &'a Slot,
    outcome: Option<Result<(Secret, Duration), HostError>>,
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        let mut state = self.slot.lock();
        state.in_flight = false;
        state.round += 1;
        state.failure = None;
        match self.outcome.take() {
            Some(Ok((token, lifetime))) => {
                let usable = lifetime.saturating_sub(REFRESH_MARGIN.min(lifetime / 2));
                state.token = (!usable.is_zero()).then(|| (token, Instant::now() + usable));
            }
            Some(Err(err)) => state.failure = Some(err),
            None => {}
        }
        for waker in state.waiters.drain(..) {
            waker.wake();
        }
    }
}

impl TokenCache {
    fn slot(&self, key: &TokenKey) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if slots.len() > MAX_CACHED_TOKENS {
            slots.retain(|_, slot| slot.is_live());
        }
        slots.entry(key.clone()).or_default().clone()
    }

    pub(super) fn forget(&self, key: &TokenKey) {
        self.slot(key).lock().token = None;
    }

    pub(super) async fn get_or_exchange<F, Fut>(
        &self,
        key: &TokenKey,
        exchange: F,
    ) -> Result<Secret, HostError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(Secret, Duration), HostError>>,
    {
        let slot = self.slot(key);
        loop {
            let waiting_on = {
                let mut state = slot.lock();
                if let Some(token) = state.fresh_token() {
                    return Ok(token);
                }
                if state.in_flight {
                    Some(state.round)
                } else {
                    state.in_flight = true;
                    None
                }
            };
            let Some(round) = waiting_on else {
                let mut flight = Flight {
                    slot: &slot,
                    outcome: None,
                };
                let outcome = exchange().await;
                let token = outcome
                    .as_ref()
                    .map(|(t, _)| t.clone())
                    .map_err(Clone::clone);
                flight.outcome = Some(outcome);
                drop(flight);
                return token;
            };
            slot.round_ended(round).await;
            let failure = slot.lock().failure.clone();
            if let Some(err) = failure {
                return Err(err);
            }
        }
    }
}
