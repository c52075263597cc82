//! A site's last use through each way in (`connect_seen_at`, `forge_seen_at`), written on
//! either backend. Callers throttle it in memory ([`crate::site::seen::SeenSites`]).

use crate::db::{Db, Stamp};
use crate::error::Result;
use crate::site::SiteId;
use crate::site::ways_in::Way;

const CONNECT_SEEN: &str = "UPDATE jwt_tokens SET connect_seen_at = $1 WHERE id = $2";
const FORGE_SEEN: &str = "UPDATE jwt_tokens SET forge_seen_at = $1 WHERE id = $2";

/// Records a use of `site` through `way` now; `false` when the site's row is gone (purged
/// meanwhile: the caller resolves its identity again).
pub(crate) async fn record_seen(db: &Db, site: SiteId, way: Way) -> Result<bool> {
    let sql = match way {
        Way::Connect => CONNECT_SEEN,
        Way::Forge => FORGE_SEEN,
    };
    let now = Stamp::now();
    db.read(async move |tx| Ok(tx.execute(sql, &[&now, &site]).await? > 0))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(!record_seen(&db, SiteId(7), Way::Forge).await.unwrap());
    }
}
