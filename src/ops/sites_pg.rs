//! The PostgreSQL twin of [`super::sites`]: the same rows from the same columns, read-only.

use time::OffsetDateTime;
use tokio_postgres::GenericClient;
use tokio_postgres::Row;

use super::OpsError;
use super::sites::{COLUMNS, NONE_INSTALLED, SiteRow};
use crate::config::DatabaseUrl;
use crate::db::postgres::{self, PgError};
use crate::site::SiteId;
use crate::site::ways_in::{SiteWays, State, WayIn};

fn site_row(r: &Row) -> Result<SiteRow, PgError> {
    let way = |i: usize| -> Result<WayIn, PgError> {
        Ok(WayIn {
            state: State::parse(r.try_get::<_, Option<String>>(i)?.as_deref()),
            installed_at: r.try_get::<_, Option<OffsetDateTime>>(i + 1)?,
            uninstalled_at: r.try_get::<_, Option<OffsetDateTime>>(i + 2)?,
            seen_at: r.try_get::<_, Option<OffsetDateTime>>(i + 3)?,
        })
    };
    Ok(SiteRow {
        id: SiteId(r.try_get(0)?),
        client_key: r.try_get(1)?,
        base_url: r.try_get(2)?,
        cloud_id: r.try_get(3)?,
        has_secret: r.try_get(4)?,
        ways: SiteWays {
            connect: way(5)?,
            forge: way(9)?,
        },
        tasks: r.try_get(13)?,
    })
}

/// Every site (or only those no way in reaches, `only_gone`), in id order; `for_update` locks
/// the rows read until the transaction ends (the purge's candidates).
pub async fn read_sites(
    client: &impl GenericClient,
    only_gone: bool,
    for_update: bool,
) -> Result<Vec<SiteRow>, PgError> {
    let filter = if only_gone { NONE_INSTALLED } else { "true" };
    let lock = if for_update { " FOR UPDATE" } else { "" };
    let sql = format!("SELECT {COLUMNS} FROM jwt_tokens WHERE {filter} ORDER BY id{lock}");
    client
        .query(&sql, &[])
        .await?
        .iter()
        .map(site_row)
        .collect()
}

/// Every site of the PostgreSQL database, in one read-only transaction.
pub fn list(url: &DatabaseUrl) -> Result<Vec<SiteRow>, OpsError> {
    let pool = postgres::PgPool::new(url, 1)?;
    postgres::block_on(move || async move {
        let mut client = pool.command_client().await?;
        super::purge_pg::check_version(&pool, &client).await?;
        let tx = client
            .build_transaction()
            .read_only(true)
            .start()
            .await
            .map_err(|e| pool.error(e))?;
        let sites = read_sites(&tx, false, false)
            .await
            .map_err(|e| pool.error(e))?;
        tx.commit().await.map_err(|e| pool.error(e))?;
        Ok(sites)
    })
}
