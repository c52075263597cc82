//! PostgreSQL's schema versions: the twins of the SQLite migrations (same names, same
//! versions) in `db/migrations/postgres/`, applied under an advisory lock so that replicas
//! starting together apply each exactly once, with the version in `schema_migrations`.

use tokio_postgres::Client;

use super::locks::MIGRATION_LOCK;
use super::{Describe, PgError};
use crate::db::DbError;

/// Versioned schema changes for PostgreSQL, in order: the twin of each SQLite migration, with
/// the same name, so a schema version means the same tables on both backends.
const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_initial",
        include_str!("../../../db/migrations/postgres/0001_initial.sql"),
    ),
    (
        "0002_site_id",
        include_str!("../../../db/migrations/postgres/0002_site_id.sql"),
    ),
    (
        "0003_forge",
        include_str!("../../../db/migrations/postgres/0003_forge.sql"),
    ),
    (
        "0004_ways_in",
        include_str!("../../../db/migrations/postgres/0004_ways_in.sql"),
    ),
    (
        "0005_jira_issues",
        include_str!("../../../db/migrations/postgres/0005_jira_issues.sql"),
    ),
];

/// The schema version recorded in the database (0 before the first migration).
pub(crate) async fn schema_version(
    client: &impl tokio_postgres::GenericClient,
) -> std::result::Result<i64, PgError> {
    let exists: bool = client
        .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])
        .await?
        .get(0);
    if !exists {
        return Ok(0);
    }
    let row = client
        .query_one(
            "SELECT COALESCE(max(version), 0)::bigint FROM schema_migrations",
            &[],
        )
        .await?;
    Ok(row.get(0))
}

/// Applies every pending migration, each in its own transaction together with its row in
/// `schema_migrations`, under a transaction-scoped advisory lock: replicas starting at once
/// queue on the lock, and each finds the work done by the one before. Returns what it applied.
pub(crate) async fn migrate(
    client: &mut Client,
) -> std::result::Result<Vec<&'static str>, DbError> {
    apply(client, MIGRATIONS).await
}

async fn apply(
    client: &mut Client,
    migrations: &[(&'static str, &'static str)],
) -> std::result::Result<Vec<&'static str>, DbError> {
    let err = |e: PgError| DbError::Postgres {
        url: String::new(),
        message: e.describe(),
    };
    let known = migrations.len() as i64;
    let mut applied = Vec::new();
    loop {
        let tx = client.transaction().await.map_err(err)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(err)?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version    integer     PRIMARY KEY,
                 name       text        NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now()
             )",
        )
        .await
        .map_err(err)?;
        let found = schema_version(&tx).await.map_err(err)?;
        if found > known {
            return Err(DbError::TooNew { found, known });
        }
        if found == known {
            tx.commit().await.map_err(err)?;
            return Ok(applied);
        }
        let (name, sql) = migrations[found as usize];
        let version = (found + 1) as i32;
        let result = async {
            tx.batch_execute(sql).await?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                &[&version, &name],
            )
            .await
        }
        .await;
        if let Err(e) = result {
            return Err(DbError::Postgres {
                url: String::new(),
                message: format!("migration {name} failed: {}", e.describe()),
            });
        }
        tx.commit().await.map_err(err)?;
        applied.push(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sqlite_migration_has_a_postgres_twin_of_the_same_name() {
        let sqlite: Vec<&str> = crate::db::migrate::MIGRATIONS.iter().map(|m| m.0).collect();
        let postgres: Vec<&str> = MIGRATIONS.iter().map(|m| m.0).collect();
        assert_eq!(sqlite, postgres);
    }
}
