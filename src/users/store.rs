//! The users store: `jwt_users`, the accounts seen per site, on either backend. Each operation
//! is one function; its SQL is written once and run by both.

use crate::db::{Db, Stamp, Tx};
use crate::error::Result;
use crate::site::SiteId;

/// Inserts an account of a site, or moves its last-seen time; nothing when the site's row is
/// gone (purged after the visit was noted), so one such note cannot fail the batch it shares
/// a transaction with. `$1..$n` appear in order, so SQLite numbers them as PostgreSQL does
/// (`tests` below); the parameters take the columns' types from the INSERT on PostgreSQL.
const RECORD_USER: &str = "INSERT INTO jwt_users (site_id, account_id, first_seen_at, last_seen_at)
     SELECT id, $1, $2, $2 FROM jwt_tokens WHERE id = $3
     ON CONFLICT (site_id, account_id) DO UPDATE SET last_seen_at = excluded.last_seen_at";

/// Records that `account` used the app on `site` at `now`, in the caller's transaction (the
/// bookkeeping writer's batch, [`crate::bookkeeping`]).
pub(crate) async fn record_user(
    tx: &Tx<'_>,
    site: SiteId,
    account: &str,
    now: Stamp,
) -> Result<()> {
    tx.execute(RECORD_USER, &[&account, &now, &site]).await?;
    Ok(())
}

/// Records that each `(site, account)` of `rows` used the app now, in one transaction of its
/// own, in the order given (what `benches/user_records.rs` compares the writer's batches with).
pub async fn record_users(db: &Db, rows: Vec<(SiteId, String)>) -> Result<()> {
    let now = Stamp::now();
    db.write(async move |tx| {
        for (site, account) in &rows {
            record_user(tx, *site, account, now).await?;
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
