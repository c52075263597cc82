//! The tenant: one Confluence site, however it reaches us. Every task and every recorded user
//! belongs to exactly one site, and every store query is scoped by its [`SiteId`].

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A site's row id (`jwt_tokens.id`; `site_id` in `tasks` and `jwt_users`). Only ever taken
/// from a verified request, never from input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SiteId(pub i64);

impl fmt::Display for SiteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl rusqlite::ToSql for SiteId {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        self.0.to_sql()
    }
}

impl rusqlite::types::FromSql for SiteId {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        i64::column_result(value).map(Self)
    }
}

/// A counter of changes to which site an identity names (an install, an uninstall, a Forge
/// installation recorded, two rows of one site merged). Shared by every way in: a cache that
/// maps identities to sites keeps the count it was filled at and forgets everything once the
/// count moves, so a change made through one way in is seen by the other's cache.
#[derive(Debug, Clone, Default)]
pub struct SiteChanges(Arc<AtomicU64>);

impl SiteChanges {
    /// Records a change (after its commit).
    pub fn bump(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    /// The count now; a cache fill that started at another count must not be kept.
    pub fn current(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}
