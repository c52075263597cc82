//! Sites by Forge installation id, in memory, so a verified request reads no row for its site.
//! Each entry remembers the [`SiteChanges`] count it was filled at and is dropped once its own
//! site changed since: a reinstall, a merge or a retired id on one site costs the other tenants
//! nothing (before, any change emptied the whole cache).

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use super::fit::Identity;
use crate::site::{SiteChanges, SiteId};
use crate::util::telemetry::{self, Cache};

/// What the cache keeps per installation id: its site, the site's cloud id, and the change
/// count the entry was filled at.
struct Entry {
    site: SiteId,
    cloud_id: Option<String>,
    filled_at: u64,
    /// When it was filled: past [`MAX_AGE`] it is resolved again.
    at: Instant,
}

/// Sites by installation id, following the shared [`SiteChanges`].
pub(crate) struct TenantCache {
    changes: SiteChanges,
    entries: RwLock<HashMap<String, Entry>>,
    max_entries: usize,
    max_age: Duration,
}

/// Installation ids kept at most: 10,000 active sites with room to spare (an entry is about
/// 0.2 KiB: two uuids and counters). Past it, entries past [`MAX_AGE`] go, then all of them
/// (each site then resolves once more).
const MAX_ENTRIES: usize = 20_000;
/// How long an entry answers: the memory of a site that stopped calling is given back, at the
/// cost of one resolution an hour for a site that keeps calling.
const MAX_AGE: Duration = Duration::from_secs(60 * 60);

impl TenantCache {
    /// An empty cache following `changes`.
    pub(crate) fn new(changes: SiteChanges) -> Self {
        Self {
            changes,
            entries: RwLock::new(HashMap::new()),
            max_entries: MAX_ENTRIES,
            max_age: MAX_AGE,
        }
    }

    /// The site of an identity, when the cache alone can answer safely: the installation id is
    /// known, its site did not change since, and the token's cloud id (if any) is the site's.
    pub(crate) fn get(&self, identity: &Identity) -> Option<SiteId> {
        let found = self.lookup(identity);
        telemetry::cache_lookup(Cache::ForgeSites, found.is_some());
        found
    }

    fn lookup(&self, identity: &Identity) -> Option<SiteId> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        let entry = entries.get(&identity.installation_id)?;
        if entry.at.elapsed() >= self.max_age {
            return None;
        }
        if self.changes.changed_since(entry.site, entry.filled_at) {
            return None;
        }
        match (&identity.cloud_id, &entry.cloud_id) {
            (None, _) => Some(entry.site),
            (Some(wanted), Some(known)) if wanted == known => Some(entry.site),
            _ => None,
        }
    }

    /// The count to pass to [`TenantCache::insert`] after a database read.
    pub(crate) fn generation(&self) -> u64 {
        self.changes.current()
    }

    /// Keeps a resolution made at `generation`, unless its site changed since.
    pub(crate) fn insert(&self, generation: u64, identity: &Identity, site: SiteId) {
        if self.changes.changed_since(site, generation) {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= self.max_entries {
            let max_age = self.max_age;
            entries.retain(|_, e| e.at.elapsed() < max_age);
            if entries.len() >= self.max_entries {
                entries.clear();
            }
        }
        let entry = Entry {
            site,
            cloud_id: identity.cloud_id.clone(),
            filled_at: generation,
            at: Instant::now(),
        };
        entries.insert(identity.installation_id.clone(), entry);
        telemetry::cache_entries(Cache::ForgeSites, entries.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(installation: &str, cloud: Option<&str>) -> Identity {
        Identity {
            installation_id: installation.into(),
            cloud_id: cloud.map(str::to_string),
            api_base_url: None,
            product: None,
            confluence_api_base_url: None,
            account_id: None,
            issue: None,
        }
    }

    #[test]
    fn the_cache_answers_only_for_the_same_cloud() {
        let changes = SiteChanges::default();
        let cache = TenantCache::new(changes.clone());
        let a = who("i-a", Some("cloud-a"));
        cache.insert(cache.generation(), &a, SiteId(1));
        assert_eq!(cache.get(&a), Some(SiteId(1)));
        assert_eq!(cache.get(&who("i-a", None)), Some(SiteId(1)));
        assert_eq!(cache.get(&who("i-a", Some("cloud-b"))), None);
        // What the bookkeeping writer tells when the site's row turned out to be gone.
        changes.site(SiteId(1));
        assert_eq!(cache.get(&a), None);
    }

    #[test]
    fn a_change_of_one_site_drops_that_sites_entries_and_keeps_the_others() {
        let changes = SiteChanges::default();
        let cache = TenantCache::new(changes.clone());
        let (a, b) = (who("i-a", Some("cloud-a")), who("i-b", Some("cloud-b")));
        cache.insert(cache.generation(), &a, SiteId(1));
        cache.insert(cache.generation(), &b, SiteId(2));
        changes.site(SiteId(1));
        assert_eq!(cache.get(&a), None);
        assert_eq!(
            cache.get(&b),
            Some(SiteId(2)),
            "another site's entry survives"
        );
        changes.bump();
        assert_eq!(
            cache.get(&b),
            None,
            "a change of every site drops everything"
        );
    }

    #[test]
    fn the_cache_holds_no_more_than_its_cap_and_entries_past_their_age_go() {
        let mut cache = TenantCache::new(SiteChanges::default());
        cache.max_entries = 100;
        for n in 0..250 {
            let id = format!("i-{n}");
            cache.insert(cache.generation(), &who(&id, None), SiteId(n));
            assert!(cache.entries.read().unwrap().len() <= 100);
        }
        assert_eq!(cache.get(&who("i-249", None)), Some(SiteId(249)));
        cache.max_age = Duration::ZERO;
        assert_eq!(cache.get(&who("i-249", None)), None, "past its age");
    }

    #[test]
    fn a_fill_that_raced_a_change_of_its_site_is_not_kept() {
        let changes = SiteChanges::default();
        let cache = TenantCache::new(changes.clone());
        let a = who("i-a", Some("cloud-a"));
        let stale = cache.generation();
        changes.site(SiteId(1));
        cache.insert(stale, &a, SiteId(1));
        assert_eq!(cache.get(&a), None);
        cache.insert(stale, &who("i-b", None), SiteId(2));
        assert_eq!(
            cache.get(&who("i-b", None)),
            Some(SiteId(2)),
            "other sites fill"
        );
    }
}
