//! Looking into the app's database from the test, for assertions, on either backend: the SQLite
//! file, or the PostgreSQL database standing in for it. SQL is written once, with `?1`-style
//! parameters; values come back as [`Val`]s, rendered the same on both backends (booleans as
//! 1/0, timestamps as the RFC 3339 text SQLite stores), so a dump from one backend equals a
//! dump of the same rows from the other.

use std::path::Path;

use testkit::app::TestApp;
use testkit::postgres::{self, on_postgres};

/// One stored value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Val {
    Null,
    Int(i64),
    Text(String),
    Bool(bool),
}

impl Val {
    /// The rendering used by [`dump`].
    pub fn render(&self) -> String {
        match self {
            Self::Null => "NULL".into(),
            Self::Int(n) => n.to_string(),
            Self::Text(t) => t.clone(),
            Self::Bool(b) => i64::from(*b).to_string(),
        }
    }

    /// As an SQL literal (PostgreSQL: untyped, so it takes the column's type).
    fn literal(&self) -> String {
        match self {
            Self::Null => "NULL".into(),
            Self::Int(n) => n.to_string(),
            Self::Text(t) => format!("'{}'", t.replace('\'', "''")),
            Self::Bool(b) => b.to_string(),
        }
    }
}

/// What a query parameter can be.
pub trait ToVal {
    fn to_val(&self) -> Val;
}

impl ToVal for i64 {
    fn to_val(&self) -> Val {
        Val::Int(*self)
    }
}
impl ToVal for bool {
    fn to_val(&self) -> Val {
        Val::Bool(*self)
    }
}
impl ToVal for str {
    fn to_val(&self) -> Val {
        Val::Text(self.to_string())
    }
}
impl ToVal for String {
    fn to_val(&self) -> Val {
        Val::Text(self.clone())
    }
}
impl<T: ToVal> ToVal for Option<T> {
    fn to_val(&self) -> Val {
        self.as_ref().map_or(Val::Null, ToVal::to_val)
    }
}
impl<T: ToVal + ?Sized> ToVal for &T {
    fn to_val(&self) -> Val {
        (**self).to_val()
    }
}

/// Query parameters: `()`, an array of one type, or [`vals!`](crate::vals).
pub trait Params {
    fn vals(self) -> Vec<Val>;
}
impl Params for () {
    fn vals(self) -> Vec<Val> {
        Vec::new()
    }
}
/// `[]` (no parameters, as with rusqlite) is the one array of length 0.
impl Params for [&str; 0] {
    fn vals(self) -> Vec<Val> {
        Vec::new()
    }
}
macro_rules! array_params {
    ($($n:literal)*) => {$(
        impl<T: ToVal> Params for [T; $n] {
            fn vals(self) -> Vec<Val> {
                self.iter().map(ToVal::to_val).collect()
            }
        }
    )*};
}
array_params!(1 2 3 4 5 6 7 8);
impl Params for Vec<Val> {
    fn vals(self) -> Vec<Val> {
        self
    }
}

/// Parameters of mixed types: `vals![id, "text", true]`.
#[macro_export]
macro_rules! vals {
    ($($value:expr),* $(,)?) => {
        vec![$($crate::harness::ToVal::to_val(&$value)),*]
    };
}

/// A value that can be read out of a [`Val`].
pub trait FromVal: Sized {
    fn from_val(val: &Val) -> Result<Self, String>;
}
impl FromVal for i64 {
    fn from_val(val: &Val) -> Result<Self, String> {
        match val {
            Val::Int(n) => Ok(*n),
            other => Err(format!("{other:?} is not an integer")),
        }
    }
}
impl FromVal for bool {
    fn from_val(val: &Val) -> Result<Self, String> {
        match val {
            Val::Bool(b) => Ok(*b),
            Val::Int(n) => Ok(*n != 0),
            other => Err(format!("{other:?} is not a boolean")),
        }
    }
}
impl FromVal for String {
    fn from_val(val: &Val) -> Result<Self, String> {
        match val {
            Val::Text(t) => Ok(t.clone()),
            other => Err(format!("{other:?} is not text")),
        }
    }
}
impl<T: FromVal> FromVal for Option<T> {
    fn from_val(val: &Val) -> Result<Self, String> {
        match val {
            Val::Null => Ok(None),
            other => T::from_val(other).map(Some),
        }
    }
}

/// One result row.
#[derive(Debug, Clone)]
pub struct TestRow(pub Vec<Val>);

impl TestRow {
    /// Column `i`, converted.
    pub fn get<T: FromVal>(&self, i: usize) -> Result<T, String> {
        let val = self.0.get(i).ok_or_else(|| format!("no column {i}"))?;
        T::from_val(val)
    }
}

/// The columns that record a site's use (any verified call, whatever becomes of its body, like
/// `jwt_users`): not data a refused request may be said to have changed.
pub const USE_COLUMNS: &[&str] = &["connect_seen_at", "forge_seen_at"];

/// A way into a database under test.
pub enum TestDb {
    Sqlite(rusqlite::Connection),
    Postgres(String),
}

impl TestDb {
    /// The database a test gave the path `path` to: that SQLite file, or on a PostgreSQL run
    /// the database standing in for it.
    pub fn at(path: &Path) -> Self {
        if on_postgres() {
            Self::Postgres(postgres::database_for(path))
        } else {
            Self::Sqlite(rusqlite::Connection::open(path).unwrap())
        }
    }

    /// Every row of a query.
    pub fn rows(&self, sql: &str, params: impl Params) -> Result<Vec<TestRow>, String> {
        let vals = params.vals();
        match self {
            Self::Sqlite(conn) => {
                let mut stmt = conn.prepare(sql).map_err(|e| e.to_string())?;
                let cols = stmt.column_count();
                let bound: Vec<rusqlite::types::Value> = vals.iter().map(sqlite_value).collect();
                stmt.query_map(rusqlite::params_from_iter(bound), |row| {
                    (0..cols)
                        .map(|i| {
                            Ok(match row.get_ref(i)? {
                                rusqlite::types::ValueRef::Null => Val::Null,
                                rusqlite::types::ValueRef::Integer(n) => Val::Int(n),
                                rusqlite::types::ValueRef::Text(t) => {
                                    Val::Text(String::from_utf8_lossy(t).into_owned())
                                }
                                other => Val::Text(format!("{other:?}")),
                            })
                        })
                        .collect::<rusqlite::Result<Vec<_>>>()
                        .map(TestRow)
                })
                .map_err(|e| e.to_string())?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(|e| e.to_string())
            }
            Self::Postgres(url) => {
                let sql = inline(sql, &vals);
                postgres::run(url, move |client| async move {
                    let rows = client.query(&sql, &[]).await?;
                    Ok(rows.iter().map(pg_row).collect())
                })
                .map_err(|e| format!("{e:?}"))
            }
        }
    }

    /// The first row of a query, mapped; an error when there is none.
    pub fn query_row<T>(
        &self,
        sql: &str,
        params: impl Params,
        map: impl FnOnce(&TestRow) -> Result<T, String>,
    ) -> Result<T, String> {
        let rows = self.rows(sql, params)?;
        let first = rows.first().ok_or("no rows")?;
        map(first)
    }

    /// Runs a statement; the number of rows it changed.
    pub fn execute(&self, sql: &str, params: impl Params) -> Result<u64, String> {
        let vals = params.vals();
        match self {
            Self::Sqlite(conn) => {
                let bound: Vec<rusqlite::types::Value> = vals.iter().map(sqlite_value).collect();
                conn.execute(sql, rusqlite::params_from_iter(bound))
                    .map(|n| n as u64)
                    .map_err(|e| e.to_string())
            }
            Self::Postgres(url) => {
                let sql = inline(sql, &vals);
                postgres::run(
                    url,
                    move |client| async move { client.execute(&sql, &[]).await },
                )
                .map_err(|e| format!("{e:?}"))
            }
        }
    }

    /// Stores `n` tasks for site `site` straight into the database, in one statement either
    /// backend runs (fast, and not what a test tests); titles `<prefix>0..n`, oldest first.
    pub fn fill_tasks(&self, site: i64, n: i64, prefix: &str) {
        assert!(!prefix.contains('\''), "a plain title prefix");
        let stored = self
            .execute(
                &format!(
                    "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?2)
                     INSERT INTO tasks (site_id, title, created_at, updated_at)
                     SELECT ?1, '{prefix}' || i, '2026-01-01T00:00:00.000Z',
                            '2026-01-01T00:00:00.000Z'
                     FROM n ORDER BY i"
                ),
                [site, n],
            )
            .unwrap();
        assert_eq!(stored, n as u64);
    }

    /// The columns of a table, by name (the backends may order them differently: PostgreSQL
    /// adds a column at the end, SQLite rebuilds the table).
    pub fn columns(&self, table: &str) -> Vec<String> {
        let sql = match self {
            Self::Sqlite(_) => {
                format!("SELECT name FROM pragma_table_info('{table}') ORDER BY name")
            }
            Self::Postgres(_) => format!(
                "SELECT column_name::text FROM information_schema.columns
                 WHERE table_schema = current_schema() AND table_name = '{table}'
                 ORDER BY column_name"
            ),
        };
        self.rows(&sql, ())
            .unwrap_or_default()
            .iter()
            .map(|r| r.get(0).unwrap())
            .collect()
    }

    /// A snapshot of every row of every table (ids ascending, columns by name), to assert
    /// nothing changed, or that two databases hold the same rows.
    pub fn dump(&self) -> String {
        self.dump_except(&[])
    }

    /// [`TestDb::dump`] without the `skipped` columns.
    pub fn dump_except(&self, skipped: &[&str]) -> String {
        let mut out = String::new();
        for table in ["jwt_tokens", "jwt_users", "tasks"] {
            let mut columns = self.columns(table);
            columns.retain(|c| !skipped.contains(&c.as_str()));
            if columns.is_empty() {
                continue;
            }
            let rows = self
                .rows(
                    &format!("SELECT {} FROM {table} ORDER BY id", columns.join(", ")),
                    (),
                )
                .unwrap_or_default();
            for row in rows {
                let vals: Vec<String> = row.0.iter().map(Val::render).collect();
                out.push_str(table);
                out.push(':');
                out.push_str(&vals.join("|"));
                out.push('\n');
            }
        }
        out
    }

    /// Something that changes whenever anything is written to the database: SQLite's
    /// `data_version` (which moves on another connection's commit), PostgreSQL's row versions.
    pub fn change_marker(&self) -> String {
        match self {
            Self::Sqlite(conn) => conn
                .query_row("PRAGMA data_version", [], |r| r.get::<_, i64>(0))
                .unwrap()
                .to_string(),
            Self::Postgres(_) => ["jwt_tokens", "jwt_users", "tasks"]
                .iter()
                .map(|t| {
                    self.rows(&format!("SELECT id, xmin::text FROM {t} ORDER BY id"), ())
                        .unwrap()
                        .iter()
                        .map(|r| format!("{t}:{}:{}", r.0[0].render(), r.0[1].render()))
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .collect::<Vec<_>>()
                .join(";"),
        }
    }
}

fn sqlite_value(val: &Val) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    match val {
        Val::Null => V::Null,
        Val::Int(n) => V::Integer(*n),
        Val::Text(t) => V::Text(t.clone()),
        Val::Bool(b) => V::Integer(i64::from(*b)),
    }
}

/// `?N` placeholders replaced by the literals of their values (test code only).
fn inline(sql: &str, vals: &[Val]) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '?' && chars.peek().is_some_and(char::is_ascii_digit) {
            let mut digits = String::new();
            while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                digits.push(*d);
                chars.next();
            }
            let n: usize = digits.parse().unwrap();
            out.push_str(&vals[n - 1].literal());
        } else {
            out.push(c);
        }
    }
    out
}

fn pg_row(row: &tokio_postgres::Row) -> TestRow {
    use tokio_postgres::types::Type;
    let vals = row
        .columns()
        .iter()
        .enumerate()
        .map(|(i, column)| {
            let ty = column.type_();
            if *ty == Type::INT8 {
                row.get::<_, Option<i64>>(i).map_or(Val::Null, Val::Int)
            } else if *ty == Type::INT4 {
                row.get::<_, Option<i32>>(i)
                    .map_or(Val::Null, |n| Val::Int(n.into()))
            } else if *ty == Type::BOOL {
                row.get::<_, Option<bool>>(i).map_or(Val::Null, Val::Bool)
            } else if *ty == Type::TIMESTAMPTZ {
                row.get::<_, Option<time::OffsetDateTime>>(i)
                    .map_or(Val::Null, |t| Val::Text(rfc3339(t)))
            } else {
                row.get::<_, Option<String>>(i).map_or(Val::Null, Val::Text)
            }
        })
        .collect();
    TestRow(vals)
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC)
        .format(&time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        ))
        .unwrap()
}

/// The database of an in-process app.
pub fn db(app: &TestApp) -> TestDb {
    TestDb::at(&app.db_path)
}

/// The stored secret of a site (None when uninstalled or unknown).
pub fn stored_secret(app: &TestApp, client_key: &str) -> Option<String> {
    db(app)
        .query_row(
            "SELECT shared_secret FROM jwt_tokens WHERE client_key = ?1",
            [client_key],
            |r| r.get(0),
        )
        .unwrap_or(None)
}

/// A snapshot of every row of every table, to assert nothing changed — once the bookkeeping
/// of the requests before it is written (it lands after their responses).
pub async fn dump(app: &TestApp) -> String {
    app.settle().await;
    db(app).dump()
}
