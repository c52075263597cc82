//! A site's last use through each way in (`connect_seen_at`, `forge_seen_at`), written on
//! either backend. Callers throttle it in memory ([`crate::site::seen::SeenSites`]) and write
//! it in the bookkeeping writer's batches ([`crate::bookkeeping`]), inside their transaction.

use crate::db::{Stamp, Tx};
use crate::error::Result;
use crate::site::SiteId;
use crate::site::ways_in::Way;

const CONNECT_SEEN: &str = "UPDATE jwt_tokens SET connect_seen_at = $1 WHERE id = $2";
const FORGE_SEEN: &str = "UPDATE jwt_tokens SET forge_seen_at = $1 WHERE id = $2";

/// Records a use of `site` through `way` at `now`, in the caller's transaction; `false` when
/// the site's row is gone (purged meanwhile: the caller tells the caches that map to it).
pub(crate) async fn record_seen(tx: &Tx<'_>, site: SiteId, way: Way, now: Stamp) -> Result<bool> {
    let sql = match way {
        Way::Connect => CONNECT_SEEN,
        Way::Forge => FORGE_SEEN,
    };
    Ok(tx.execute(sql, &[&now, &site]).await? > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Db;

    #[test]
    fn the_shared_statements_number_their_parameters_as_postgresql_does() {
        crate::db::assert_shared_sql(&[CONNECT_SEEN, FORGE_SEEN]);
    }

    #[actix_web::test]
    async fn the_write_reports_a_missing_site() {
        let dir = tempfile::tempdir().unwrap();
        let pool = crate::db::open_pool(&dir.path().join("seen.sqlite3"), 2).unwrap();
        crate::db::migrate(&mut pool.get().unwrap()).unwrap();
        let db = Db::new(pool);
        let now = Stamp::now();
        let written = db
            .write(async move |tx| record_seen(tx, SiteId(7), Way::Forge, now).await)
            .await;
        assert!(!written.unwrap());
    }
}
