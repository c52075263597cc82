//! Per-request bookkeeping — a site's last use through each way in (`connect_seen_at`,
//! `forge_seen_at`) and a user's last visit (`jwt_users`) — noted in memory by the request and
//! written by one background writer in batches ([`writer`]): no request ever waits for it.
//!
//! Why: after a start, the first request of each site wrote its `*_seen_at` in a transaction
//! of its own and waited for its user row's commit; spread over thousands of sites (the scale
//! round of issue 22), those commits queued on SQLite's write lock and the requests with them
//! (p99 150–450 ms with 200 sites). Now a request takes a throttle decision and a queue push.
//! What a crash loses: the notes not yet committed (at most one batch interval's), which only
//! leaves a last-seen time a little older. Both ways in share one instance, so a user seen
//! through Connect is not written again when it comes through Forge within the window.

mod writer;

use std::sync::Arc;

use crate::db::Db;
use crate::site::ways_in::Way;
use crate::site::{SiteChanges, SiteId};

use writer::{Note, What};

/// The bookkeeping of both ways in: the throttles and the one writer.
#[derive(Clone)]
pub struct Bookkeeping {
    inner: Arc<writer::Inner>,
}

impl Bookkeeping {
    /// Writes through `db`, with caches that do not follow any site change (benchmarks).
    pub fn new(db: Db) -> Self {
        Self::following(db, SiteChanges::default())
    }

    /// Writes through `db`; a site whose row turned out to be gone is reported to `changes`,
    /// so the caches of identities drop it.
    pub(crate) fn following(db: Db, changes: SiteChanges) -> Self {
        Self {
            inner: Arc::new(writer::Inner::new(db, changes, writer::MAX_QUEUED)),
        }
    }

    /// Notes a verified use of `site` through `way` (written at most once per few minutes per
    /// site and way). Never waits.
    pub(crate) fn site_used(&self, site: SiteId, way: Way) {
        let inner = &self.inner;
        if inner.sites.should_record(site, way) && !inner.note(Note::new(site, What::Seen(way))) {
            inner.sites.forget(site, way);
        }
    }

    /// Notes that `account` used the app on `site` (written at most once per few minutes per
    /// user and site). Never waits.
    pub fn user_seen(&self, site: SiteId, account: &str) {
        let inner = &self.inner;
        if inner.users.should_record(site, account)
            && !inner.note(Note::new(site, What::User(account.to_string())))
        {
            inner.users.forget(site, account);
        }
    }

    /// Forgets that `site`'s use through `way` was written (it was uninstalled), so its next
    /// use is noted at once: a use right after an uninstall must be on record.
    pub(crate) fn forget_site(&self, site: SiteId, way: Way) {
        self.inner.sites.forget(site, way);
    }

    /// Waits until every note taken so far is committed (or failed), for at most
    /// [`writer::FLUSH_LIMIT`]: what the server does once it stopped taking requests.
    pub async fn flush(&self) {
        self.inner.flush().await;
    }
}
