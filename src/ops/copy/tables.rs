//! What `copy` moves, table by table and column by column, and how one value reads from and
//! writes to each backend. Porting a schema change to `copy` is a line here.

use rusqlite::types::ValueRef;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

use crate::util::time::rfc3339;

/// How a column is stored: SQLite's INTEGER/TEXT/0-1/RFC 3339 text, PostgreSQL's
/// bigint/text/boolean/timestamptz.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Int,
    Text,
    Bool,
    Time,
}

impl Kind {
    /// The PostgreSQL type of the column.
    pub(crate) fn pg_type(self) -> Type {
        match self {
            Self::Int => Type::INT8,
            Self::Text => Type::TEXT,
            Self::Bool => Type::BOOL,
            Self::Time => Type::TIMESTAMPTZ,
        }
    }
}

/// One table, its columns in order; parents before children (foreign keys).
pub(crate) struct Table {
    pub(crate) name: &'static str,
    pub(crate) columns: &'static [(&'static str, Kind)],
    /// Whether SQLite keeps its high-water mark in `sqlite_sequence` (AUTOINCREMENT).
    pub(crate) autoincrement: bool,
}

impl Table {
    /// `id, col2, …`.
    pub(crate) fn column_list(&self) -> String {
        self.columns
            .iter()
            .map(|(name, _)| *name)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

use Kind::{Bool, Int, Text, Time};

/// Every table `copy` moves, in the order it moves them (schema version 4).
pub(crate) const TABLES: &[Table] = &[
    Table {
        name: "jwt_tokens",
        columns: &[
            ("id", Int),
            ("addon_key", Text),
            ("client_key", Text),
            ("shared_secret", Text),
            ("base_url", Text),
            ("display_url", Text),
            ("product_type", Text),
            ("description", Text),
            ("oauth_client_id", Text),
            ("server_version", Text),
            ("plugins_version", Text),
            ("sen", Text),
            ("installation_id", Text),
            ("cloud_id", Text),
            ("api_base_url", Text),
            ("installed", Bool),
            ("enabled", Bool),
            ("installed_at", Time),
            ("updated_at", Time),
            ("uninstalled_at", Time),
            ("connect_state", Text),
            ("connect_installed_at", Time),
            ("connect_uninstalled_at", Time),
            ("connect_seen_at", Time),
            ("forge_state", Text),
            ("forge_installed_at", Time),
            ("forge_uninstalled_at", Time),
            ("forge_seen_at", Time),
        ],
        autoincrement: false,
    },
    Table {
        name: "forge_retired_installations",
        columns: &[
            ("id", Int),
            ("installation_id", Text),
            ("site_id", Int),
            ("retired_at", Time),
        ],
        autoincrement: false,
    },
    Table {
        name: "jwt_users",
        columns: &[
            ("id", Int),
            ("site_id", Int),
            ("account_id", Text),
            ("first_seen_at", Time),
            ("last_seen_at", Time),
        ],
        autoincrement: false,
    },
    Table {
        name: "tasks",
        columns: &[
            ("id", Int),
            ("site_id", Int),
            ("title", Text),
            ("done", Bool),
            ("created_by", Text),
            ("page_id", Text),
            ("issue_id", Text),
            ("issue_project_id", Text),
            ("issue_key", Text),
            ("created_at", Time),
            ("updated_at", Time),
        ],
        autoincrement: true,
    },
];

/// One stored value, whatever the backend.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Int(i64),
    Text(String),
    Bool(bool),
    Time(OffsetDateTime),
}

impl Value {
    /// Reads column `i` of a SQLite row as `kind`; `Err` names what is wrong with it.
    pub(crate) fn from_sqlite(
        row: &rusqlite::Row<'_>,
        i: usize,
        kind: Kind,
    ) -> Result<Self, String> {
        let raw = row.get_ref(i).map_err(|e| e.to_string())?;
        Ok(match (raw, kind) {
            (ValueRef::Null, _) => Self::Null,
            (ValueRef::Integer(n), Int) => Self::Int(n),
            (ValueRef::Integer(n), Bool) => Self::Bool(n != 0),
            (ValueRef::Text(t), Text) => Self::Text(String::from_utf8_lossy(t).into_owned()),
            (ValueRef::Text(t), Time) => {
                let text = String::from_utf8_lossy(t);
                Self::Time(
                    OffsetDateTime::parse(&text, &Rfc3339)
                        .map_err(|_| format!("{text:?} is not an RFC 3339 timestamp"))?,
                )
            }
            (other, kind) => return Err(format!("{other:?} is not a {kind:?} value")),
        })
    }

    /// Reads column `i` of a PostgreSQL row as `kind`.
    pub(crate) fn from_pg(row: &tokio_postgres::Row, i: usize, kind: Kind) -> Result<Self, String> {
        let err = |e: tokio_postgres::Error| e.to_string();
        let value = match kind {
            Int => row
                .try_get::<_, Option<i64>>(i)
                .map_err(err)?
                .map(Self::Int),
            Text => row
                .try_get::<_, Option<String>>(i)
                .map_err(err)?
                .map(Self::Text),
            Bool => row
                .try_get::<_, Option<bool>>(i)
                .map_err(err)?
                .map(Self::Bool),
            Time => row
                .try_get::<_, Option<OffsetDateTime>>(i)
                .map_err(err)?
                .map(Self::Time),
        };
        Ok(value.unwrap_or(Self::Null))
    }

    /// The value as SQLite stores it.
    pub(crate) fn to_sqlite(&self) -> rusqlite::types::Value {
        use rusqlite::types::Value as V;
        match self {
            Self::Null => V::Null,
            Self::Int(n) => V::Integer(*n),
            Self::Text(t) => V::Text(t.clone()),
            Self::Bool(b) => V::Integer(i64::from(*b)),
            Self::Time(t) => V::Text(rfc3339(*t)),
        }
    }
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Self::Null => Ok(IsNull::Yes),
            Self::Int(n) => n.to_sql(ty, out),
            Self::Text(t) => t.to_sql(ty, out),
            Self::Bool(b) => b.to_sql(ty, out),
            Self::Time(t) => t.to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        [Type::INT8, Type::TEXT, Type::BOOL, Type::TIMESTAMPTZ].contains(ty)
    }

    to_sql_checked!();
}
