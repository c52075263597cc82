//! `jwt_users` SQL (SQLite): the accounts seen per site.

use rusqlite::{Connection, params};

use crate::site::SiteId;

/// Records that an account used the app on a site.
pub fn record_user(
    conn: &Connection,
    site: SiteId,
    account_id: &str,
    now: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO jwt_users (site_id, account_id, first_seen_at, last_seen_at) VALUES (?1, ?2, ?3, ?3)
         ON CONFLICT (site_id, account_id) DO UPDATE SET last_seen_at = excluded.last_seen_at",
    )?
    .execute(params![site, account_id, now])?;
    Ok(())
}
