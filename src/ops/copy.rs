//! `copy --to <target>`: moves every installation, recorded user and task, with their ids, from
//! the configured database to another one: SQLite → PostgreSQL (the move from one box to
//! several replicas) or back to a SQLite file.
//!
//! The source is read in one snapshot (a read transaction; `REPEATABLE READ` on PostgreSQL)
//! and must be at this binary's schema version; the target is created or migrated to it and
//! must hold no rows. Everything is written in one target transaction, in pages, so a failure
//! leaves the target empty. Afterwards the id sequences stand past every copied id (and past
//! SQLite's AUTOINCREMENT high-water mark, so a deleted task's id is never handed out again),
//! and the target's row counts must equal the source's. Nothing may be writing meanwhile:
//! a SQLite end is locked against servers, a PostgreSQL end against replicas (the serving
//! advisory lock every replica holds shared).

mod tables;

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use tokio_postgres::Client;

use super::{OpsError, lock};
use crate::config::DatabaseUrl;
use crate::db::{self, postgres};
use tables::{TABLES, Table, Value};

/// Rows read and written per round trip.
const PAGE: i64 = 5_000;

/// One end of a copy.
#[derive(Debug, Clone)]
pub(crate) enum Endpoint {
    Sqlite(PathBuf),
    Postgres(Box<DatabaseUrl>),
}

impl Endpoint {
    /// A `postgres://` URL, or else a SQLite file path.
    pub(crate) fn parse(target: &str) -> Result<Self, OpsError> {
        let lower = target.to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            let url = DatabaseUrl::parse(target).map_err(|e| OpsError::Invalid {
                path: "--to".into(),
                message: e.message,
            })?;
            Ok(Self::Postgres(Box::new(url)))
        } else if target.trim().is_empty() {
            Err(OpsError::Invalid {
                path: "--to".into(),
                message: "needs a postgres:// URL or a SQLite file path".into(),
            })
        } else {
            Ok(Self::Sqlite(PathBuf::from(target)))
        }
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "{}", path.display()),
            Self::Postgres(url) => write!(f, "{url}"),
        }
    }
}

/// What a copy moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CopyReport {
    /// Rows per table, in [`tables::TABLES`] order (equal on both ends).
    pub(crate) counts: Vec<(&'static str, i64)>,
    /// The id the target hands to the next task.
    pub(crate) next_task_id: i64,
}

/// Copies everything from `from` to `to`.
pub(crate) fn copy(from: Endpoint, to: Endpoint) -> Result<CopyReport, OpsError> {
    if same_database(&from, &to) {
        return Err(OpsError::Invalid {
            path: to.to_string(),
            message: "is the source database itself".into(),
        });
    }
    // Another application's database is not migrated into, nor a lock file left beside it
    // (the lock below refuses a path through a link).
    if let Endpoint::Sqlite(path) = &to {
        db::refuse_foreign(path)?;
    }
    let _locks = [&from, &to]
        .into_iter()
        .filter_map(|end| match end {
            Endpoint::Sqlite(path) => Some(path),
            Endpoint::Postgres(_) => None,
        })
        .map(|path| lock::exclusive(path, "copy"))
        .collect::<Result<Vec<_>, _>>()?;
    if let Endpoint::Sqlite(path) = &from
        && !path.is_file()
    {
        return Err(OpsError::Missing(path.display().to_string()));
    }
    // Migrates a PostgreSQL target on the way (a new SQLite target is migrated below).
    let target_pool = match &to {
        Endpoint::Postgres(url) => Some(postgres::open(url, 1)?),
        Endpoint::Sqlite(_) => None,
    };
    let source_pool = match &from {
        Endpoint::Postgres(url) => Some(postgres::PgPool::new(url, 1)?),
        Endpoint::Sqlite(_) => None,
    };
    postgres::block_on(move || async move {
        let mut source = Side::open(&from, source_pool.as_ref(), true).await?;
        let mut target = Side::open(&to, target_pool.as_ref(), false).await?;
        let result = run(&mut source, &mut target).await;
        if result.is_err() {
            target.rollback().await;
        }
        source.rollback().await;
        result
    })
}

async fn run(source: &mut Side, target: &mut Side) -> Result<CopyReport, OpsError> {
    let mut counts = Vec::new();
    for table in TABLES {
        let held = target.count(table).await?;
        if held > 0 {
            return Err(target.invalid(format!(
                "is not empty ({held} rows in {}); copy needs an empty database",
                table.name
            )));
        }
        counts.push((table.name, source.count(table).await?));
    }
    for table in TABLES {
        let mut after = 0i64;
        loop {
            let rows = source.read_page(table, after).await?;
            let Some(last) = rows.last() else { break };
            after = match last.first() {
                Some(Value::Int(id)) => *id,
                _ => return Err(source.invalid(format!("{}: a row without an id", table.name))),
            };
            target.write_page(table, &rows).await?;
        }
    }
    let mut next_task_id = 1;
    for table in TABLES {
        let high = source.high_water(table).await?;
        let next = target.set_high_water(table, high).await?;
        if table.name == "tasks" {
            next_task_id = next;
        }
    }
    target.commit().await?;
    for (table, (name, expected)) in TABLES.iter().zip(&counts) {
        let copied = target.count(table).await?;
        if copied != *expected {
            return Err(target.invalid(format!(
                "holds {copied} rows in {name} after the copy, the source {expected}"
            )));
        }
    }
    Ok(CopyReport {
        counts,
        next_task_id,
    })
}

fn same_database(a: &Endpoint, b: &Endpoint) -> bool {
    match (a, b) {
        (Endpoint::Sqlite(a), Endpoint::Sqlite(b)) => match (a.canonicalize(), b.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => a == b,
        },
        (Endpoint::Postgres(a), Endpoint::Postgres(b)) => a.to_string() == b.to_string(),
        _ => false,
    }
}

/// One open end, inside its transaction.
enum Side {
    Sqlite { conn: Connection, path: PathBuf },
    Postgres { client: Client, name: String },
}

impl Side {
    /// Opens an end and starts its transaction: a read snapshot for the source, a write
    /// transaction for the target. Checks the schema version and other users.
    async fn open(
        end: &Endpoint,
        pool: Option<&postgres::PgPool>,
        source: bool,
    ) -> Result<Self, OpsError> {
        let side = match (end, pool) {
            (Endpoint::Sqlite(path), _) => Self::open_sqlite(path, source)?,
            (Endpoint::Postgres(url), Some(pool)) => {
                let client = pool.command_client().await?;
                let side = Self::Postgres {
                    client,
                    name: url.to_string(),
                };
                side.refuse_other_sessions().await?;
                side
            }
            (Endpoint::Postgres(url), None) => {
                return Err(OpsError::Db(db::DbError::Postgres {
                    url: url.to_string(),
                    message: "no pool".into(),
                }));
            }
        };
        let version = side.schema_version().await?;
        if version != db::latest_version() {
            let advice = if source && version < db::latest_version() {
                "; run `todo-connect migrate` on it first"
            } else {
                ""
            };
            return Err(side.invalid(format!(
                "is at schema version {version}, this binary copies version {}{advice}",
                db::latest_version()
            )));
        }
        side.begin(source).await?;
        Ok(side)
    }

    fn open_sqlite(path: &Path, source: bool) -> Result<Self, OpsError> {
        let conn = if source {
            super::open_existing(path)?
        } else {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(OpsError::io(parent))?;
            }
            // Private from the first byte, like the live file: it will hold every secret.
            crate::util::fs::create_private(path).map_err(OpsError::io(path))?;
            let mut conn = Connection::open(path).map_err(OpsError::sqlite(path))?;
            db::configure_connection(&mut conn).map_err(OpsError::sqlite(path))?;
            db::migrate(&mut conn)?;
            conn
        };
        Ok(Self::Sqlite {
            conn,
            path: path.to_path_buf(),
        })
    }

    fn invalid(&self, message: String) -> OpsError {
        OpsError::Invalid {
            path: self.name(),
            message,
        }
    }

    fn name(&self) -> String {
        match self {
            Self::Sqlite { path, .. } => path.display().to_string(),
            Self::Postgres { name, .. } => name.clone(),
        }
    }

    fn pg_error(&self, err: impl postgres::Describe) -> OpsError {
        OpsError::Db(db::DbError::Postgres {
            url: self.name(),
            message: err.describe(),
        })
    }

    fn sqlite_error(&self, err: rusqlite::Error) -> OpsError {
        OpsError::Sqlite {
            path: self.name(),
            source: err,
        }
    }

    /// Replicas writing while we copy would make the copy incomplete or collide with it: every
    /// serving replica holds the serving lock shared, so taking it exclusively (for as long as
    /// this session lasts) proves there is none, and keeps one from starting meanwhile.
    async fn refuse_other_sessions(&self) -> Result<(), OpsError> {
        let Self::Postgres { client, .. } = self else {
            return Ok(());
        };
        let alone: bool = client
            .query_one(
                "SELECT pg_try_advisory_lock($1)",
                &[&postgres::SERVING_LOCK],
            )
            .await
            .map_err(|e| self.pg_error(e))?
            .get(0);
        if !alone {
            return Err(self.invalid(
                "is in use by a running todo-connect server; stop every server using it first"
                    .into(),
            ));
        }
        Ok(())
    }

    async fn schema_version(&self) -> Result<i64, OpsError> {
        match self {
            Self::Sqlite { conn, .. } => db::schema_version(conn).map_err(|e| self.sqlite_error(e)),
            Self::Postgres { client, .. } => postgres::schema_version(client)
                .await
                .map_err(|e| self.pg_error(e)),
        }
    }

    async fn begin(&self, read_only: bool) -> Result<(), OpsError> {
        match self {
            Self::Sqlite { conn, .. } => {
                let sql = if read_only {
                    "BEGIN DEFERRED"
                } else {
                    "BEGIN IMMEDIATE"
                };
                conn.execute_batch(sql).map_err(|e| self.sqlite_error(e))
            }
            Self::Postgres { client, .. } => {
                let sql = if read_only {
                    "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
                } else {
                    "BEGIN"
                };
                client
                    .batch_execute(sql)
                    .await
                    .map_err(|e| self.pg_error(e))
            }
        }
    }

    async fn commit(&self) -> Result<(), OpsError> {
        match self {
            Self::Sqlite { conn, .. } => conn
                .execute_batch("COMMIT")
                .map_err(|e| self.sqlite_error(e)),
            Self::Postgres { client, .. } => client
                .batch_execute("COMMIT")
                .await
                .map_err(|e| self.pg_error(e)),
        }
    }

    async fn rollback(&self) {
        match self {
            Self::Sqlite { conn, .. } => {
                if !conn.is_autocommit() {
                    let _ = conn.execute_batch("ROLLBACK");
                }
            }
            Self::Postgres { client, .. } => {
                let _ = client.batch_execute("ROLLBACK").await;
            }
        }
    }

    async fn count(&self, table: &Table) -> Result<i64, OpsError> {
        let sql = format!("SELECT count(*) FROM {}", table.name);
        match self {
            Self::Sqlite { conn, .. } => conn
                .query_row(&sql, [], |r| r.get(0))
                .map_err(|e| self.sqlite_error(e)),
            Self::Postgres { client, .. } => Ok(client
                .query_one(&sql, &[])
                .await
                .map_err(|e| self.pg_error(e))?
                .get(0)),
        }
    }

    /// Up to [`PAGE`] rows with an id above `after`, in id order.
    async fn read_page(&self, table: &Table, after: i64) -> Result<Vec<Vec<Value>>, OpsError> {
        let columns = table.column_list();
        let bad = |id: &str, column: &str, why: String| {
            self.invalid(format!("{} id {id}, {column}: {why}", table.name))
        };
        match self {
            Self::Sqlite { conn, .. } => {
                let sql = format!(
                    "SELECT {columns} FROM {} WHERE id > ?1 ORDER BY id LIMIT ?2",
                    table.name
                );
                let mut stmt = conn.prepare(&sql).map_err(|e| self.sqlite_error(e))?;
                let mut rows = stmt
                    .query(rusqlite::params![after, PAGE])
                    .map_err(|e| self.sqlite_error(e))?;
                let mut page = Vec::new();
                while let Some(row) = rows.next().map_err(|e| self.sqlite_error(e))? {
                    let id: i64 = row.get(0).map_err(|e| self.sqlite_error(e))?;
                    let values = table
                        .columns
                        .iter()
                        .enumerate()
                        .map(|(i, (column, kind))| {
                            Value::from_sqlite(row, i, *kind)
                                .map_err(|why| bad(&id.to_string(), column, why))
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    page.push(values);
                }
                Ok(page)
            }
            Self::Postgres { client, .. } => {
                let sql = format!(
                    "SELECT {columns} FROM {} WHERE id > $1 ORDER BY id LIMIT $2",
                    table.name
                );
                let rows = client
                    .query(&sql, &[&after, &PAGE])
                    .await
                    .map_err(|e| self.pg_error(e))?;
                rows.iter()
                    .map(|row| {
                        table
                            .columns
                            .iter()
                            .enumerate()
                            .map(|(i, (column, kind))| {
                                Value::from_pg(row, i, *kind).map_err(|why| bad("?", column, why))
                            })
                            .collect::<Result<Vec<_>, _>>()
                    })
                    .collect()
            }
        }
    }

    async fn write_page(&self, table: &Table, rows: &[Vec<Value>]) -> Result<(), OpsError> {
        let columns = table.column_list();
        match self {
            Self::Sqlite { conn, .. } => {
                let marks: Vec<String> =
                    (1..=table.columns.len()).map(|i| format!("?{i}")).collect();
                let sql = format!(
                    "INSERT INTO {} ({columns}) VALUES ({})",
                    table.name,
                    marks.join(", ")
                );
                let mut stmt = conn
                    .prepare_cached(&sql)
                    .map_err(|e| self.sqlite_error(e))?;
                for row in rows {
                    let values: Vec<rusqlite::types::Value> =
                        row.iter().map(Value::to_sqlite).collect();
                    stmt.execute(rusqlite::params_from_iter(values))
                        .map_err(|e| self.sqlite_error(e))?;
                }
                Ok(())
            }
            Self::Postgres { client, .. } => {
                // Binary COPY writes the given ids into the identity columns as they are.
                let sql = format!("COPY {} ({columns}) FROM STDIN (FORMAT binary)", table.name);
                let sink = client
                    .copy_in::<_, bytes::Bytes>(&sql)
                    .await
                    .map_err(|e| self.pg_error(e))?;
                let types: Vec<_> = table
                    .columns
                    .iter()
                    .map(|(_, kind)| kind.pg_type())
                    .collect();
                let writer = tokio_postgres::binary_copy::BinaryCopyInWriter::new(sink, &types);
                let mut writer = std::pin::pin!(writer);
                for row in rows {
                    let values: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = row
                        .iter()
                        .map(|v| v as &(dyn tokio_postgres::types::ToSql + Sync))
                        .collect();
                    writer
                        .as_mut()
                        .write(&values)
                        .await
                        .map_err(|e| self.pg_error(e))?;
                }
                writer
                    .as_mut()
                    .finish()
                    .await
                    .map_err(|e| self.pg_error(e))?;
                Ok(())
            }
        }
    }

    /// The highest id this table has handed out (for AUTOINCREMENT / sequences, which may be
    /// above the highest id still stored).
    async fn high_water(&self, table: &Table) -> Result<i64, OpsError> {
        let max_id = format!("SELECT COALESCE(max(id), 0) FROM {}", table.name);
        match self {
            Self::Sqlite { conn, .. } => {
                let mut high: i64 = conn
                    .query_row(&max_id, [], |r| r.get(0))
                    .map_err(|e| self.sqlite_error(e))?;
                if table.autoincrement {
                    let seq: Option<i64> = conn
                        .query_row(
                            "SELECT seq FROM sqlite_sequence WHERE name = ?1",
                            [table.name],
                            |r| r.get(0),
                        )
                        .ok();
                    high = high.max(seq.unwrap_or(0));
                }
                Ok(high)
            }
            Self::Postgres { client, .. } => {
                let row = client
                    .query_one(
                        &format!(
                            "SELECT GREATEST(({max_id}), COALESCE(pg_sequence_last_value(
                                 pg_get_serial_sequence('{}', 'id')::regclass), 0))",
                            table.name
                        ),
                        &[],
                    )
                    .await
                    .map_err(|e| self.pg_error(e))?;
                Ok(row.get(0))
            }
        }
    }

    /// Makes sure the next id handed out is above `high` and above every stored id; returns
    /// that next id.
    async fn set_high_water(&self, table: &Table, high: i64) -> Result<i64, OpsError> {
        match self {
            Self::Sqlite { conn, .. } => {
                let max_id: i64 = conn
                    .query_row(
                        &format!("SELECT COALESCE(max(id), 0) FROM {}", table.name),
                        [],
                        |r| r.get(0),
                    )
                    .map_err(|e| self.sqlite_error(e))?;
                let high = high.max(max_id);
                if table.autoincrement && high > 0 {
                    let updated = conn
                        .execute(
                            "UPDATE sqlite_sequence SET seq = max(seq, ?2) WHERE name = ?1",
                            rusqlite::params![table.name, high],
                        )
                        .map_err(|e| self.sqlite_error(e))?;
                    if updated == 0 {
                        conn.execute(
                            "INSERT INTO sqlite_sequence (name, seq) VALUES (?1, ?2)",
                            rusqlite::params![table.name, high],
                        )
                        .map_err(|e| self.sqlite_error(e))?;
                    }
                }
                Ok(high + 1)
            }
            Self::Postgres { client, .. } => {
                let row = client
                    .query_one(
                        &format!(
                            "WITH high AS (SELECT GREATEST($1::bigint,
                                 (SELECT COALESCE(max(id), 0) FROM {0})) AS n)
                             SELECT CASE WHEN n > 0
                                 THEN setval(pg_get_serial_sequence('{0}', 'id'), n, true)
                                 ELSE setval(pg_get_serial_sequence('{0}', 'id'), 1, false) - 1
                             END FROM high",
                            table.name
                        ),
                        &[&high],
                    )
                    .await
                    .map_err(|e| self.pg_error(e))?;
                let set: i64 = row.get(0);
                Ok(set + 1)
            }
        }
    }
}
