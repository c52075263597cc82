//! Which sites a request may wait for, and whether one already does: at most one waiting
//! request per site at a time, and none for a site that was slow within [`FAILURE_TTL`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use super::FAILURE_TTL;
use crate::site::SiteId;

/// Above this many sites, entries with nothing left to say are dropped.
const MAX_SITES: usize = 10_000;

#[derive(Default)]
struct SiteState {
    /// A request of this site is waiting for names now.
    waiting: bool,
    /// No request waits for this site before then (it was slow).
    slow_until: Option<Instant>,
}

impl SiteState {
    fn is_slow(&self, now: Instant) -> bool {
        self.slow_until.is_some_and(|until| now < until)
    }
}

/// Per-site waiting state, shared by all workers and by the lookups themselves.
#[derive(Default)]
pub(crate) struct SitePatience {
    sites: Mutex<HashMap<SiteId, SiteState>>,
}

/// The right to wait for a site's names; given back when dropped (also when the request is
/// abandoned mid-wait).
pub(crate) struct Turn {
    patience: Arc<SitePatience>,
    site: SiteId,
}

impl Drop for Turn {
    fn drop(&mut self) {
        let mut sites = self.patience.lock();
        if let Some(state) = sites.get_mut(&self.site) {
            state.waiting = false;
        }
    }
}

impl SitePatience {
    fn lock(&self) -> MutexGuard<'_, HashMap<SiteId, SiteState>> {
        self.sites.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The turn to wait for `site`, unless another request has it or the site is slow.
    pub(crate) fn take_turn(self: &Arc<Self>, site: SiteId) -> Option<Turn> {
        let now = Instant::now();
        let mut sites = self.lock();
        if sites.len() >= MAX_SITES {
            sites.retain(|_, state| state.waiting || state.is_slow(now));
        }
        let state = sites.entry(site).or_default();
        if state.waiting || state.is_slow(now) {
            return None;
        }
        state.waiting = true;
        Some(Turn {
            patience: self.clone(),
            site,
        })
    }

    /// A waiting request used up its whole budget: nobody waits for `site` for a while.
    pub(crate) fn too_slow(&self, site: SiteId) {
        let until = Instant::now() + FAILURE_TTL;
        self.lock().entry(site).or_default().slow_until = Some(until);
    }

    /// A lookup of `site` finished, within the budget or not.
    pub(crate) fn answered(&self, site: SiteId, in_time: bool) {
        if in_time {
            if let Some(state) = self.lock().get_mut(&site) {
                state.slow_until = None;
            }
        } else {
            self.too_slow(site);
        }
    }

    /// Whether a request of `site` would wait for its names now (for tests).
    #[cfg(test)]
    pub(crate) fn would_wait(&self, site: SiteId) -> bool {
        let sites = self.lock();
        sites
            .get(&site)
            .is_none_or(|s| !s.waiting && !s.is_slow(Instant::now()))
    }
}
