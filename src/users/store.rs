//! The users store: `jwt_users`, the accounts seen per site, on either backend. Each operation
//! is one function; its SQL is written once and run by both.

use crate::db::{Db, Stamp};
use crate::error::Result;
use crate::site::SiteId;

/// Inserts an account of a site, or moves its last-seen time. `$1..$n` appear in order, so
/// SQLite numbers them as PostgreSQL does (`tests` below).
const RECORD_USER: &str =
    "INSERT INTO jwt_users (site_id, account_id, first_seen_at, last_seen_at) VALUES ($1, $2, $3, $3)
     ON CONFLICT (site_id, account_id) DO UPDATE SET last_seen_at = excluded.last_seen_at";

/// Records that each `(site, account)` of `rows` used the app now, in one transaction, in the
/// order given (callers sort them, so two replicas writing overlapping batches cannot deadlock).
pub async fn record_users(db: &Db, rows: Vec<(SiteId, String)>) -> Result<()> {
    let now = Stamp::now();
    db.write(async move |tx| {
        for (site, account) in &rows {
            tx.execute(RECORD_USER, &[site, account, &now]).await?;
        }
        Ok(())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shared_statement_numbers_its_parameters_as_postgresql_does() {
        crate::db::assert_shared_sql(&[RECORD_USER]);
    }
}
