//! `todo-connect sites [--json]`: every site with how it is reached, each way in's state and
//! times, and its task count — read-only, beside a running server, on either backend. The same
//! row reader feeds `purge` ([`read_sites`]), so what `sites` shows is what the purge rule
//! decides on.

use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::db::{Db, Dialect, Row, Stamp, Tx};
use crate::error::Result;
use crate::site::SiteId;
use crate::site::ways_in::{SiteWays, State, WayIn};
use crate::util::time::rfc3339;

/// One site as the operations see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SiteRow {
    pub(crate) id: SiteId,
    pub(crate) client_key: Option<String>,
    pub(crate) base_url: Option<String>,
    pub(crate) cloud_id: Option<String>,
    /// Whether a Connect shared secret is stored (never the secret itself).
    has_secret: bool,
    pub(crate) ways: SiteWays,
    pub(crate) tasks: i64,
}

/// The columns [`read_sites`] reads, in order.
const COLUMNS: &str = "id, client_key, base_url, cloud_id, shared_secret IS NOT NULL,
    connect_state, connect_installed_at, connect_uninstalled_at, connect_seen_at,
    forge_state, forge_installed_at, forge_uninstalled_at, forge_seen_at,
    (SELECT count(*) FROM tasks WHERE tasks.site_id = jwt_tokens.id)";

/// Only sites no way in reaches now (the purge's candidates).
const NONE_INSTALLED: &str = "(connect_state IS NULL OR connect_state <> 'installed')
    AND (forge_state IS NULL OR forge_state <> 'installed')";

/// Which sites [`read_sites`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Which {
    /// Every site (`sites`).
    All,
    /// Only sites no way in reaches now, locked until the transaction ends on PostgreSQL
    /// (`FOR UPDATE`; SQLite's IMMEDIATE transaction already excludes every other writer): the
    /// purge's candidates, which a reinstall racing the purge must wait for.
    GoneForPurge,
}

/// The statement [`read_sites`] runs: the row lock is the one thing SQLite cannot spell.
fn select_sites(which: Which, dialect: Dialect) -> String {
    let (filter, lock) = match (which, dialect) {
        (Which::All, _) => ("true", ""),
        (Which::GoneForPurge, Dialect::Sqlite) => (NONE_INSTALLED, ""),
        (Which::GoneForPurge, Dialect::Postgres) => (NONE_INSTALLED, " FOR UPDATE"),
    };
    format!("SELECT {COLUMNS} FROM jwt_tokens WHERE {filter} ORDER BY id{lock}")
}

fn site_row(row: &Row<'_>) -> Result<SiteRow> {
    let time = |i: usize| -> Result<Option<OffsetDateTime>> {
        Ok(row.get::<Option<Stamp>>(i)?.map(Stamp::time))
    };
    let way = |i: usize| -> Result<WayIn> {
        Ok(WayIn {
            state: State::parse(row.get::<Option<String>>(i)?.as_deref()),
            installed_at: time(i + 1)?,
            uninstalled_at: time(i + 2)?,
            seen_at: time(i + 3)?,
        })
    };
    Ok(SiteRow {
        id: row.get(0)?,
        client_key: row.get(1)?,
        base_url: row.get(2)?,
        cloud_id: row.get(3)?,
        has_secret: row.get(4)?,
        ways: SiteWays {
            connect: way(5)?,
            forge: way(9)?,
        },
        tasks: row.get(13)?,
    })
}

/// The sites `which` names, in id order, inside the caller's connection or transaction.
pub(crate) async fn read_sites(tx: &Tx<'_>, which: Which) -> Result<Vec<SiteRow>> {
    tx.query(&select_sites(which, tx.dialect()), &[], site_row)
        .await
}

/// Every site, read beside a running server (each statement on its own, nothing written).
pub(crate) async fn list_sites(db: &Db) -> Result<Vec<SiteRow>> {
    db.read(async |tx| read_sites(tx, Which::All).await).await
}

fn way_json(way: &WayIn) -> Value {
    let time = |t: Option<OffsetDateTime>| t.map(rfc3339);
    json!({
        "state": way.state.map(State::as_str),
        "installed_at": time(way.installed_at),
        "uninstalled_at": time(way.uninstalled_at),
        "seen_at": time(way.seen_at),
    })
}

/// The sites as a JSON array, for scripts.
pub(crate) fn to_json(sites: &[SiteRow]) -> Value {
    Value::Array(
        sites
            .iter()
            .map(|s| {
                json!({
                    "id": s.id.0,
                    "base_url": s.base_url,
                    "client_key": s.client_key.is_some(),
                    "shared_secret": s.has_secret,
                    "cloud_id": s.cloud_id,
                    "reached_by": s.ways.reached_by(),
                    "connect": way_json(&s.ways.connect),
                    "forge": way_json(&s.ways.forge),
                    "tasks": s.tasks,
                })
            })
            .collect(),
    )
}

/// The sites as a table, one line per site, columns aligned; times to the minute, UTC
/// (`C-` columns are Connect's, `F-` columns Forge's; `KEY`: a Connect client key is stored).
pub(crate) fn to_table(sites: &[SiteRow]) -> String {
    let short = |t: Option<OffsetDateTime>| t.map_or("-".to_string(), |t| rfc3339(t)[..16].into());
    let state = |w: &WayIn| w.state.map_or("-", State::as_str).to_string();
    let header = [
        "ID",
        "REACHED",
        "CONNECT",
        "C-INSTALLED",
        "C-UNINSTALLED",
        "C-SEEN",
        "FORGE",
        "F-INSTALLED",
        "F-UNINSTALLED",
        "F-SEEN",
        "TASKS",
        "KEY",
        "BASE URL",
        "CLOUD ID",
    ];
    let mut lines: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
    for s in sites {
        let (c, f) = (&s.ways.connect, &s.ways.forge);
        lines.push(vec![
            s.id.to_string(),
            s.ways.reached_by().into(),
            state(c),
            short(c.installed_at),
            short(c.uninstalled_at),
            short(c.seen_at),
            state(f),
            short(f.installed_at),
            short(f.uninstalled_at),
            short(f.seen_at),
            s.tasks.to_string(),
            if s.client_key.is_some() { "yes" } else { "no" }.into(),
            s.base_url.clone().unwrap_or_else(|| "-".into()),
            s.cloud_id.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            lines
                .iter()
                .map(|l| l[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for line in &lines {
        let cells: Vec<String> = line
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db;

    #[actix_web::test]
    async fn sites_are_read_with_their_ways_and_tasks_and_shown_both_ways() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        db::configure_connection(&mut conn).unwrap();
        db::migrate(&mut conn).unwrap();
        conn.execute_batch(
            "INSERT INTO jwt_tokens (addon_key, client_key, shared_secret, base_url,
                 product_type, installed_at, updated_at, connect_state, connect_installed_at,
                 installation_id, forge_state, forge_installed_at, forge_seen_at)
             VALUES ('app', 'ck', 's', 'https://a.example/wiki', 'confluence',
                 '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', 'installed',
                 '2026-01-01T00:00:00.000Z', 'inst', 'installed', '2026-02-01T00:00:00.000Z',
                 '2026-03-01T10:20:30.000Z');
             INSERT INTO tasks (site_id, title, created_at, updated_at) VALUES (1, 't', 'x', 'x');",
        )
        .unwrap();
        let tx = Tx::Sqlite(&conn);
        let sites = read_sites(&tx, Which::All).await.unwrap();
        assert_eq!(sites.len(), 1);
        assert_eq!((sites[0].tasks, sites[0].ways.reached_by()), (1, "both"));
        let gone = read_sites(&tx, Which::GoneForPurge).await.unwrap();
        assert!(gone.is_empty(), "nothing gone");
        let json = to_json(&sites);
        assert_eq!(json[0]["forge"]["seen_at"], "2026-03-01T10:20:30.000Z");
        assert_eq!(json[0]["client_key"], true);
        assert!(!json.to_string().contains("\"s\""), "no secret: {json}");
        let table = to_table(&sites);
        assert!(table.starts_with("ID  REACHED"), "{table}");
        assert!(table.contains("2026-03-01T10:20"), "{table}");
    }

    #[test]
    fn only_postgresql_locks_the_purge_candidates_and_both_dialects_accept_the_text() {
        let all = select_sites(Which::All, Dialect::Postgres);
        assert_eq!(all, select_sites(Which::All, Dialect::Sqlite));
        let sqlite = select_sites(Which::GoneForPurge, Dialect::Sqlite);
        let postgres = select_sites(Which::GoneForPurge, Dialect::Postgres);
        assert!(!sqlite.contains("FOR UPDATE") && postgres.ends_with(" FOR UPDATE"));
        db::assert_shared_sql(&[&all, &sqlite]);
    }
}
