//! The tenant: one Confluence site, however it reaches us. Every task and every recorded user
//! belongs to exactly one site, and every store query is scoped by its [`SiteId`].

use std::fmt;

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
