//! `todo-connect sites [--json]`: every site with how it is reached, each way in's state and
//! times, and its task count — read-only, beside a running server. The same row reader feeds
//! `purge` ([`read_sites`]), so what `sites` shows is what the purge rule decides on.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::{OpsError, lock};
use crate::db;
use crate::site::SiteId;
use crate::site::ways_in::{SiteWays, State, WayIn};
use crate::util::time::{parse_rfc3339, rfc3339};

/// One site as the operations see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteRow {
    pub id: SiteId,
    pub client_key: Option<String>,
    pub base_url: Option<String>,
    pub cloud_id: Option<String>,
    /// Whether a Connect shared secret is stored (never the secret itself).
    pub has_secret: bool,
    pub ways: SiteWays,
    pub tasks: i64,
}

/// The columns [`read_sites`] and its PostgreSQL twin read, in order.
pub const COLUMNS: &str = "id, client_key, base_url, cloud_id, shared_secret IS NOT NULL,
    connect_state, connect_installed_at, connect_uninstalled_at, connect_seen_at,
    forge_state, forge_installed_at, forge_uninstalled_at, forge_seen_at,
    (SELECT count(*) FROM tasks WHERE tasks.site_id = jwt_tokens.id)";

/// Only sites no way in reaches now (the purge's candidates).
pub const NONE_INSTALLED: &str = "(connect_state IS NULL OR connect_state <> 'installed')
    AND (forge_state IS NULL OR forge_state <> 'installed')";

/// Every site (or only those no way in reaches, `only_gone`), in id order, on SQLite.
pub fn read_sites(conn: &Connection, only_gone: bool) -> rusqlite::Result<Vec<SiteRow>> {
    let filter = if only_gone { NONE_INSTALLED } else { "1 = 1" };
    let sql = format!("SELECT {COLUMNS} FROM jwt_tokens WHERE {filter} ORDER BY id");
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map([], |r| {
        let time = |i: usize| -> rusqlite::Result<Option<OffsetDateTime>> {
            Ok(r.get::<_, Option<String>>(i)?
                .as_deref()
                .and_then(parse_rfc3339))
        };
        let way = |i: usize| -> rusqlite::Result<WayIn> {
            Ok(WayIn {
                state: State::parse(r.get::<_, Option<String>>(i)?.as_deref()),
                installed_at: time(i + 1)?,
                uninstalled_at: time(i + 2)?,
                seen_at: time(i + 3)?,
            })
        };
        Ok(SiteRow {
            id: r.get(0)?,
            client_key: r.get(1)?,
            base_url: r.get(2)?,
            cloud_id: r.get(3)?,
            has_secret: r.get(4)?,
            ways: SiteWays {
                connect: way(5)?,
                forge: way(9)?,
            },
            tasks: r.get(13)?,
        })
    })?;
    rows.collect()
}

/// Every site of the SQLite database, read on a read-only connection.
pub fn list(database: &Path) -> Result<Vec<SiteRow>, OpsError> {
    if !database.is_file() {
        return Err(OpsError::Missing(database.display().to_string()));
    }
    let _lock = lock::shared(database)?;
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(database, flags).map_err(OpsError::sqlite(database))?;
    conn.busy_timeout(db::BUSY_TIMEOUT)
        .map_err(OpsError::sqlite(database))?;
    super::purge::check_version(&conn, database)?;
    read_sites(&conn, false).map_err(OpsError::sqlite(database))
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
pub fn to_json(sites: &[SiteRow]) -> Value {
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
pub fn to_table(sites: &[SiteRow]) -> String {
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

    #[test]
    fn sites_are_read_with_their_ways_and_tasks_and_shown_both_ways() {
        let mut conn = Connection::open_in_memory().unwrap();
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
        let sites = read_sites(&conn, false).unwrap();
        assert_eq!(sites.len(), 1);
        assert_eq!((sites[0].tasks, sites[0].ways.reached_by()), (1, "both"));
        assert!(read_sites(&conn, true).unwrap().is_empty(), "nothing gone");
        let json = to_json(&sites);
        assert_eq!(json[0]["forge"]["seen_at"], "2026-03-01T10:20:30.000Z");
        assert_eq!(json[0]["client_key"], true);
        assert!(!json.to_string().contains("\"s\""), "no secret: {json}");
        let table = to_table(&sites);
        assert!(table.starts_with("ID  REACHED"), "{table}");
        assert!(table.contains("2026-03-01T10:20"), "{table}");
    }
}
