//! A site's tasks page by page, newest first, examining a bounded number of rows per request:
//! the one store operation whose SQL is spelled per dialect ([`listing`]).

use std::sync::LazyLock;

use super::from_row;
use crate::db::{Db, Dialect, Param};
use crate::error::Result;
use crate::site::SiteId;
use crate::todo::task::Task;

/// Rows of its own a site's listing examines at most per request: a search (`q`) or a
/// `done` filter that matches little would otherwise read every task of the site. Past it the
/// page ends early, with a cursor to go on from (`next_before`), so a request costs at most
/// this many rows (about a millisecond), however large the site.
const SCAN_ROWS: u32 = 5_000;

/// Filters and paging for [`list`].
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub limit: u32,
    /// Only tasks with an id below this (the cursor from the previous page).
    pub before: Option<i64>,
    pub done: Option<bool>,
    /// Case-insensitive substring of the title: ASCII letters fold on SQLite (`LIKE`), every
    /// letter the database's ctype knows on PostgreSQL (`ILIKE`, all of Unicode under a UTF-8
    /// locale). The one documented difference between the backends.
    pub search: Option<String>,
}

/// The site's (`$1`) tasks below the cursor (`$2`; none: all), as a range of the
/// `(site_id, id)` index. On PostgreSQL written as row comparisons, which only that index can
/// serve: written as an equality, a generic plan (the server's plan for a prepared statement
/// after a few executions, made without the site's value) may walk the primary key backwards
/// and filter by site instead — measured on 22,050 tasks, listing a 50-task site then read
/// every other site's newer rows (22,000 of them, 4 ms) before its own, and the cost of a
/// listing would grow with every other tenant's tasks. SQLite serves row comparisons by
/// `site_id` alone (then tests the `id` of every row of the site above the cursor) and the
/// equality by `(site_id, id)`, so there it is the equality.
const SITE_ROWS_SQLITE: &str =
    "site_id = $1 AND id < COALESCE(CAST($2 AS bigint), 9223372036854775807)";
const SITE_ROWS_POSTGRES: &str = "(site_id, id) > ($1, 0)
     AND (site_id, id) < ($1, COALESCE(CAST($2 AS bigint), 9223372036854775807))";

/// A listing's two statements in one dialect: the page, and the probe past a bounded scan.
pub(super) struct Listing {
    /// `$1` site, `$2` cursor, `$3` rows to examine, `$4` done, `$5` title pattern, `$6` rows
    /// to return. The inner LIMIT bounds what the filters run over.
    pub(crate) page: String,
    /// `$1` site, `$2` cursor, `$3` offset of the last row examined.
    pub(crate) edge: String,
}

impl Listing {
    fn new(site_rows: &str, like: &str) -> Self {
        let columns = columns!();
        Self {
            page: format!(
                "SELECT {columns} FROM (
                     SELECT site_id, {columns} FROM tasks WHERE {site_rows}
                     ORDER BY site_id DESC, id DESC LIMIT $3) AS examined
                 WHERE (CAST($4 AS boolean) IS NULL OR done = $4)
                   AND (CAST($5 AS text) IS NULL OR title {like} $5 ESCAPE '\\')
                 ORDER BY site_id DESC, id DESC LIMIT $6"
            ),
            edge: format!(
                "SELECT id FROM tasks WHERE {site_rows}
                 ORDER BY site_id DESC, id DESC LIMIT 2 OFFSET $3"
            ),
        }
    }
}

/// The listing's statements for `dialect`: they differ in the site's range and the search.
pub(super) fn listing(dialect: Dialect) -> &'static Listing {
    static SQLITE: LazyLock<Listing> = LazyLock::new(|| Listing::new(SITE_ROWS_SQLITE, "LIKE"));
    static POSTGRES: LazyLock<Listing> =
        LazyLock::new(|| Listing::new(SITE_ROWS_POSTGRES, "ILIKE"));
    match dialect {
        Dialect::Sqlite => &SQLITE,
        Dialect::Postgres => &POSTGRES,
    }
}

/// Newest first; returns one page and the cursor for the next (`None` on the last page).
/// Looks at no more than [`SCAN_ROWS`] of the site's tasks: when the filters found less than
/// a page among them, the cursor points past the rows examined.
pub async fn list(db: &Db, site: SiteId, query: ListQuery) -> Result<(Vec<Task>, Option<i64>)> {
    list_within(db, site, query, SCAN_ROWS).await
}

pub(super) async fn list_within(
    db: &Db,
    site: SiteId,
    query: ListQuery,
    scan: u32,
) -> Result<(Vec<Task>, Option<i64>)> {
    let pattern = query
        .search
        .as_deref()
        .map(|s| format!("%{}%", escape_like(s)));
    let (limit, fetch, scan) = (
        query.limit as usize,
        i64::from(query.limit) + 1,
        i64::from(scan),
    );
    let (before, done) = (query.before, query.done);
    db.read(async move |tx| {
        let sql = listing(tx.dialect());
        let params: [&dyn Param; 6] = [&site, &before, &scan, &done, &pattern, &fetch];
        let mut tasks = tx.query(&sql.page, &params, from_row).await?;
        if tasks.len() > limit {
            tasks.truncate(limit);
            let next = tasks.last().map(|t| t.id);
            return Ok((tasks, next));
        }
        // Less than a page: either the site has no more tasks, or the scan stopped at its
        // bound with more beyond (then go on from the last row examined).
        let beyond: Vec<i64> = tx
            .query(&sql.edge, &[&site, &before, &(scan - 1)], |row| row.get(0))
            .await?;
        let next = (beyond.len() == 2).then(|| beyond[0]);
        Ok((tasks, next))
    })
    .await
}

fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
