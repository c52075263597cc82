//! The tenant: one Confluence site, however it reaches us. Every task and every recorded user
//! belongs to exactly one site, and every store query is scoped by its [`SiteId`].

pub(crate) mod forge_identity;
pub(crate) mod installed;
mod merging;
pub(crate) mod seen;
pub mod store;
pub(crate) mod ways_in;

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// A site's row id (`jwt_tokens.id`; `site_id` in `tasks` and `jwt_users`). Only ever taken
/// from a verified request, never from input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SiteId(pub i64);

impl fmt::Display for SiteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The changes to which site an identity names (an install, a Forge installation recorded or
/// retired, two rows of one site merged), shared by every way in. A cache that maps identities
/// to sites keeps, per entry, the count it was filled at and drops the entry once *its* site
/// changed since ([`SiteChanges::changed_since`]): one site's change costs the other tenants
/// nothing. [`SiteChanges::bump`] is the change of every site at once (a gap in hearing other
/// replicas, a change whose site is unknown).
#[derive(Debug, Clone, Default)]
pub(crate) struct SiteChanges(Arc<Changes>);

#[derive(Debug, Default)]
struct Changes {
    count: AtomicU64,
    log: RwLock<ChangeLog>,
}

/// The count at each site's last change; changes before `floor` are forgotten (every entry
/// filled before it is dropped).
#[derive(Debug, Default)]
struct ChangeLog {
    floor: u64,
    sites: HashMap<SiteId, u64>,
}

/// Sites whose last change is remembered one by one; past it, a change starts the log over.
const MAX_LOGGED_SITES: usize = 10_000;

impl SiteChanges {
    /// Records a change of every site (after its commit).
    pub(crate) fn bump(&self) {
        let mut log = self.0.log.write().unwrap_or_else(|e| e.into_inner());
        let count = self.0.count.fetch_add(1, Ordering::SeqCst) + 1;
        log.floor = count;
        log.sites.clear();
    }

    /// Records a change of one site (after its commit).
    pub(crate) fn site(&self, site: SiteId) {
        let mut log = self.0.log.write().unwrap_or_else(|e| e.into_inner());
        let count = self.0.count.fetch_add(1, Ordering::SeqCst) + 1;
        if log.sites.len() >= MAX_LOGGED_SITES {
            log.floor = count;
            log.sites.clear();
        } else {
            log.sites.insert(site, count);
        }
    }

    /// The count now; pass it to [`SiteChanges::changed_since`] later.
    pub(crate) fn current(&self) -> u64 {
        self.0.count.load(Ordering::SeqCst)
    }

    /// Whether `site` may have changed since the count was `at`.
    pub(crate) fn changed_since(&self, site: SiteId, at: u64) -> bool {
        if self.current() == at {
            return false;
        }
        let log = self.0.log.read().unwrap_or_else(|e| e.into_inner());
        log.floor > at || log.sites.get(&site).is_some_and(|changed| *changed > at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_site_change_concerns_that_site_and_a_bump_every_site() {
        let changes = SiteChanges::default();
        let at = changes.current();
        changes.site(SiteId(1));
        assert!(changes.changed_since(SiteId(1), at));
        assert!(!changes.changed_since(SiteId(2), at));
        let later = changes.current();
        assert!(!changes.changed_since(SiteId(1), later));
        changes.bump();
        assert!(changes.changed_since(SiteId(2), later));
    }

    #[test]
    fn the_log_of_changed_sites_is_bounded_and_forgets_towards_safety() {
        let changes = SiteChanges::default();
        let at = changes.current();
        for n in 0..=MAX_LOGGED_SITES as i64 {
            changes.site(SiteId(n));
        }
        let log = changes.0.log.read().unwrap();
        assert!(log.sites.len() <= MAX_LOGGED_SITES);
        drop(log);
        assert!(
            changes.changed_since(SiteId(-5), at),
            "an unlogged site counts as changed"
        );
    }
}
