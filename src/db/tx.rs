//! [`Tx`]: one connection (or transaction) as a store operation sees it, whichever backend
//! serves it. A store operation is written once, as an `async` body over a `&Tx`, with SQL
//! written once in PostgreSQL's `$1..$n` placeholders; [`Db::read`], [`Db::write`] and
//! [`Db::read_point`] run that body on SQLite (on the blocking pool, where every call
//! completes at once) or on PostgreSQL (awaiting the server, under [`PgPool::run`]'s deadline).
//!
//! SQLite numbers a `$k` parameter by its first appearance, so a statement must name `$1`
//! first, `$2` next, and so on (`db::assert_shared_sql`, a test helper, checks a store's statements).
//! What the dialects spell differently is rare and stays in the store, asked of
//! [`Tx::dialect`].
//!
//! [`PgPool::run`]: super::postgres::PgPool::run

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use deadpool_postgres::GenericClient;
use rusqlite::types::FromSql;
use tokio_postgres::types::{FromSql as PgFromSql, ToSql as PgToSql};

use super::{Db, Pools};
use crate::error::{AppError, Result};

/// A value a statement binds: anything both drivers can bind (`i64`, `&str`, `String`,
/// `bool`, `Option<…>` of those, [`super::Stamp`], [`crate::site::SiteId`]).
pub trait Param: rusqlite::ToSql + PgToSql + Sync {}
impl<T: rusqlite::ToSql + PgToSql + Sync> Param for T {}

/// A value a column reads as, on both drivers.
pub trait Column: FromSql + for<'a> PgFromSql<'a> {}
impl<T: FromSql + for<'a> PgFromSql<'a>> Column for T {}

/// Which SQL dialect a [`Tx`] speaks, for the few statements spelled differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

/// One connection or transaction of a store operation.
pub enum Tx<'t> {
    Sqlite(&'t rusqlite::Connection),
    Postgres(&'t deadpool_postgres::Client),
    PostgresTx(&'t deadpool_postgres::Transaction<'t>),
}

/// One result row, read by position.
pub(crate) enum Row<'r> {
    Sqlite(&'r rusqlite::Row<'r>),
    Postgres(&'r tokio_postgres::Row),
}

impl Row<'_> {
    /// Column `index` (from 0) as a `T`; a NULL or a value of another type is an error (read
    /// an `Option<T>` where NULL is allowed).
    pub(crate) fn get<T: Column>(&self, index: usize) -> Result<T> {
        match self {
            Row::Sqlite(row) => Ok(row.get(index)?),
            Row::Postgres(row) => Ok(row.try_get(index)?),
        }
    }
}

fn sqlite_params<'p>(params: &'p [&'p dyn Param]) -> Vec<&'p dyn rusqlite::ToSql> {
    params.iter().map(|p| *p as &dyn rusqlite::ToSql).collect()
}

fn pg_params<'p>(params: &'p [&'p dyn Param]) -> Vec<&'p (dyn PgToSql + Sync)> {
    params.iter().map(|p| *p as &(dyn PgToSql + Sync)).collect()
}

/// One statement's rows on PostgreSQL, on a pooled connection or inside its transaction alike
/// (through the connection's statement cache).
async fn pg_rows(
    client: &impl GenericClient,
    sql: &str,
    params: &[&dyn Param],
) -> Result<Vec<tokio_postgres::Row>> {
    let stmt = client.prepare_cached(sql).await?;
    Ok(client.query(&stmt, &pg_params(params)).await?)
}

/// One statement on PostgreSQL; the number of rows it changed.
async fn pg_execute(client: &impl GenericClient, sql: &str, params: &[&dyn Param]) -> Result<u64> {
    let stmt = client.prepare_cached(sql).await?;
    Ok(client.execute(&stmt, &pg_params(params)).await?)
}

/// `rows` read by `read`, in order.
fn read_pg<T>(
    rows: &[tokio_postgres::Row],
    read: impl Fn(&Row<'_>) -> Result<T>,
) -> Result<Vec<T>> {
    rows.iter().map(|row| read(&Row::Postgres(row))).collect()
}

impl Tx<'_> {
    /// The dialect of this connection.
    pub(crate) fn dialect(&self) -> Dialect {
        match self {
            Tx::Sqlite(_) => Dialect::Sqlite,
            Tx::Postgres(_) | Tx::PostgresTx(_) => Dialect::Postgres,
        }
    }

    /// Runs a statement; the number of rows it changed.
    pub async fn execute(&self, sql: &str, params: &[&dyn Param]) -> Result<u64> {
        match self {
            Tx::Sqlite(conn) => {
                let changed = conn
                    .prepare_cached(sql)?
                    .execute(sqlite_params(params).as_slice())?;
                Ok(changed as u64)
            }
            Tx::Postgres(client) => pg_execute(*client, sql, params).await,
            Tx::PostgresTx(tx) => pg_execute(*tx, sql, params).await,
        }
    }

    /// Every row of a query, each read by `read`.
    pub(crate) async fn query<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        read: impl Fn(&Row<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        match self {
            Tx::Sqlite(conn) => {
                let mut stmt = conn.prepare_cached(sql)?;
                let mut rows = stmt.query(sqlite_params(params).as_slice())?;
                let mut out = Vec::new();
                while let Some(row) = rows.next()? {
                    out.push(read(&Row::Sqlite(row))?);
                }
                Ok(out)
            }
            Tx::Postgres(client) => read_pg(&pg_rows(*client, sql, params).await?, read),
            Tx::PostgresTx(tx) => read_pg(&pg_rows(*tx, sql, params).await?, read),
        }
    }

    /// The row of a query that yields at most one (a lookup by key, an `INSERT/UPDATE/DELETE
    /// … RETURNING`), if any, read by `read`. On SQLite the statement is stepped to its end:
    /// SQLite runs its WAL hook (the automatic checkpoint) only when `sqlite3_step` itself
    /// returns `SQLITE_DONE`, so an autocommit write answered from its first row and then reset
    /// (what `query_row` does) would commit without ever checkpointing, and the WAL would grow
    /// without bound.
    pub(crate) async fn query_opt<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        read: impl Fn(&Row<'_>) -> Result<T>,
    ) -> Result<Option<T>> {
        match self {
            Tx::Sqlite(conn) => {
                let mut stmt = conn.prepare_cached(sql)?;
                let mut rows = stmt.query(sqlite_params(params).as_slice())?;
                let first = rows
                    .next()?
                    .map(|row| read(&Row::Sqlite(row)))
                    .transpose()?;
                while rows.next()?.is_some() {}
                Ok(first)
            }
            // Every row is received either way; the statement yields at most one.
            Tx::Postgres(client) => Ok(read_pg(&pg_rows(*client, sql, params).await?, read)?
                .into_iter()
                .next()),
            Tx::PostgresTx(tx) => Ok(read_pg(&pg_rows(*tx, sql, params).await?, read)?
                .into_iter()
                .next()),
        }
    }

    /// The one value of a query that always returns one row (a count, `EXISTS`).
    pub async fn value<T: Column>(&self, sql: &str, params: &[&dyn Param]) -> Result<T> {
        self.query_opt(sql, params, |row| row.get(0))
            .await?
            .ok_or_else(|| AppError::internal(format!("no row from {sql}")))
    }

    /// Serialises this transaction with every other one that changes which rows are which
    /// site (an install, a Forge resolution, a purge): on PostgreSQL the sites advisory lock
    /// until commit; on SQLite nothing, as [`Db::write`]'s IMMEDIATE transaction already holds
    /// the only write lock.
    pub(crate) async fn lock_sites(&self) -> Result<()> {
        match self {
            Tx::Sqlite(_) => Ok(()),
            Tx::Postgres(_) | Tx::PostgresTx(_) => {
                self.execute(
                    "SELECT pg_advisory_xact_lock($1)",
                    &[&super::postgres::SITES_LOCK],
                )
                .await?;
                Ok(())
            }
        }
    }

    /// Tells every replica, once this transaction commits, that `site` changed (they forget
    /// its Forge cache entries): on PostgreSQL a `NOTIFY` on
    /// [`super::postgres::SITE_CHANGES_CHANNEL`]; on SQLite nothing, as one server has no other
    /// replica to tell.
    pub(crate) async fn notify_site_id_changed(&self, site: crate::site::SiteId) -> Result<()> {
        self.notify_site_changed(&super::postgres::site_payload(site))
            .await
    }

    /// Tells every replica, once this transaction commits, that a task of `site` (`Some(id)`)
    /// or any of its tasks (`None`) changed, so they forget its rendered macro: on PostgreSQL
    /// a `NOTIFY` ([`super::postgres::tasks_payload`]); on SQLite nothing.
    pub(crate) async fn notify_tasks_changed(
        &self,
        site: crate::site::SiteId,
        task: Option<i64>,
    ) -> Result<()> {
        match self {
            Tx::Sqlite(_) => Ok(()),
            Tx::Postgres(_) | Tx::PostgresTx(_) => {
                self.notify_site_changed(&super::postgres::tasks_payload(site, task))
                    .await
            }
        }
    }

    /// [`Tx::notify_site_id_changed`] with the payload given: a Connect client key (forget that
    /// installation), or [`super::postgres::site_payload`] of a site id.
    pub(crate) async fn notify_site_changed(&self, payload: &str) -> Result<()> {
        match self {
            Tx::Sqlite(_) => Ok(()),
            Tx::Postgres(_) | Tx::PostgresTx(_) => {
                self.execute(
                    "SELECT pg_notify($1, $2)",
                    &[&super::postgres::SITE_CHANGES_CHANNEL, &payload],
                )
                .await?;
                Ok(())
            }
        }
    }
}

/// Runs a future that can only complete at once — a store body on SQLite, whose every call is
/// synchronous — to its end on this thread.
fn complete_now<T>(work: impl Future<Output = Result<T>>) -> Result<T> {
    let mut work = pin!(work);
    match work.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(value) => value,
        Poll::Pending => Err(AppError::internal(
            "a store body waited on something other than SQLite",
        )),
    }
}

impl Db {
    /// Runs `op` with a connection, outside any explicit transaction (each statement commits
    /// on its own): for reads, and single-statement writes.
    pub async fn read<T, F>(&self, op: F) -> Result<T>
    where
        T: Send + 'static,
        F: AsyncFnOnce(&Tx<'_>) -> Result<T> + Send + 'static,
    {
        match &self.backend {
            Pools::Sqlite(pool) => {
                super::run_sqlite(pool, move |conn| complete_now(op(&Tx::Sqlite(conn)))).await
            }
            Pools::Postgres(pg) => pg.run(async |client| op(&Tx::Postgres(client)).await).await,
        }
    }

    /// Runs `op` in one transaction, committed when it returns `Ok` and rolled back otherwise.
    /// On SQLite the transaction is IMMEDIATE: it takes the write lock first, so a
    /// read-then-write never fails half-way on a busy database.
    pub(crate) async fn write<T, F>(&self, op: F) -> Result<T>
    where
        T: Send + 'static,
        F: AsyncFnOnce(&Tx<'_>) -> Result<T> + Send + 'static,
    {
        match &self.backend {
            Pools::Sqlite(pool) => {
                super::run_sqlite(pool, move |conn| {
                    let tx =
                        conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                    let value = complete_now(op(&Tx::Sqlite(&tx)))?;
                    tx.commit()?;
                    Ok(value)
                })
                .await
            }
            Pools::Postgres(pg) => {
                pg.run(async |client| {
                    let tx = client.transaction().await?;
                    let value = op(&Tx::PostgresTx(&tx)).await?;
                    tx.commit().await?;
                    Ok(value)
                })
                .await
            }
        }
    }

    /// Runs `op` — **one statement finding at most one row through an index** — on SQLite on
    /// the calling async worker's own read-only connection ([`Db::read_point_sqlite`]); on
    /// PostgreSQL like [`Db::read`].
    pub(crate) async fn read_point<T, F>(&self, op: F) -> Result<T>
    where
        T: Send + 'static,
        F: AsyncFn(&Tx<'_>) -> Result<T> + Clone + Send + 'static,
    {
        match &self.backend {
            Pools::Sqlite(pool) => {
                self.read_point_sqlite(pool, move |conn| complete_now(op(&Tx::Sqlite(conn))))
                    .await
            }
            Pools::Postgres(pg) => pg.run(async |client| op(&Tx::Postgres(client)).await).await,
        }
    }
}

impl Db {
    /// Whether other replicas may share this database (PostgreSQL): a cache of its rows then
    /// trusts itself only while it hears their changes ([`Db::listen`]).
    pub(crate) fn replicated(&self) -> bool {
        matches!(self.backend, Pools::Postgres(_))
    }

    /// On PostgreSQL, starts hearing `channel` on the current runtime, calling `on_event` for
    /// each event ([`super::postgres::listen`]); on SQLite (one server) there is nothing to hear.
    pub(crate) fn listen(
        &self,
        channel: &'static str,
        on_event: impl Fn(super::postgres::listen::Event<'_>) + 'static,
    ) {
        if let Pools::Postgres(pool) = &self.backend {
            super::postgres::listen::spawn(pool, channel, on_event);
        }
    }
}
