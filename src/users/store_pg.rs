//! `jwt_users` SQL on PostgreSQL: the twin of [`super::store`], same arguments and results.

use time::OffsetDateTime;

use crate::db::postgres::{GenericClient, PgError};
use crate::site::SiteId;

/// Records that an account used the app on a site.
pub async fn record_user(
    client: &impl GenericClient,
    site: SiteId,
    account_id: &str,
    now: OffsetDateTime,
) -> Result<(), PgError> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO jwt_users (site_id, account_id, first_seen_at, last_seen_at)
             VALUES ($1, $2, $3, $3)
             ON CONFLICT (site_id, account_id) DO UPDATE SET last_seen_at = excluded.last_seen_at",
        )
        .await?;
    client.execute(&stmt, &[&site.0, &account_id, &now]).await?;
    Ok(())
}
