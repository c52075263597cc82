//! The values every store binds, one type each on both backends: [`crate::site::SiteId`] (a
//! `bigint`/`INTEGER`) and [`Stamp`], the one timestamp type: whole milliseconds, UTC. It binds and
//! reads as RFC 3339 text on SQLite (`2026-11-28T16:39:53.123Z`, which orders as text in time
//! order) and as `timestamptz` on PostgreSQL, so a store operation passes the same value to
//! either backend and reads the same value back.

use std::fmt;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSqlOutput, ValueRef};
use time::OffsetDateTime;
use tokio_postgres::types::{FromSql as PgFromSql, IsNull, ToSql as PgToSql, Type, to_sql_checked};

use crate::site::SiteId;
use crate::util::time::{now_millis, parse_rfc3339, rfc3339};

/// An instant as the database stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Stamp(OffsetDateTime);

impl Stamp {
    /// Now, at the stored precision.
    pub(crate) fn now() -> Self {
        Self(now_millis())
    }

    /// `at` cut to the stored precision (whole milliseconds, UTC).
    fn at(at: OffsetDateTime) -> Self {
        let utc = at.to_offset(time::UtcOffset::UTC);
        Self(
            utc.replace_nanosecond(utc.millisecond() as u32 * 1_000_000)
                .unwrap_or(utc),
        )
    }

    /// The instant itself.
    pub(crate) fn time(self) -> OffsetDateTime {
        self.0
    }

    /// The stored text form (RFC 3339, UTC, milliseconds).
    pub(crate) fn rfc3339(self) -> String {
        rfc3339(self.0)
    }
}

impl fmt::Display for Stamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

impl rusqlite::ToSql for Stamp {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.rfc3339()))
    }
}

impl FromSql for Stamp {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = value.as_str()?;
        parse_rfc3339(text).map(Self::at).ok_or_else(|| {
            FromSqlError::Other(format!("not an RFC 3339 timestamp: {text:?}").into())
        })
    }
}

/// PostgreSQL binds and reads `$ty` as the `$inner` it wraps (`$wrap` makes one from it).
macro_rules! postgres_as {
    ($ty:ty, $inner:ty, $wrap:expr) => {
        impl PgToSql for $ty {
            fn to_sql(
                &self,
                ty: &Type,
                out: &mut bytes::BytesMut,
            ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
                self.0.to_sql(ty, out)
            }

            fn accepts(ty: &Type) -> bool {
                <$inner as PgToSql>::accepts(ty)
            }

            to_sql_checked!();
        }

        impl<'a> PgFromSql<'a> for $ty {
            fn from_sql(
                ty: &Type,
                raw: &'a [u8],
            ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
                <$inner as PgFromSql>::from_sql(ty, raw).map($wrap)
            }

            fn accepts(ty: &Type) -> bool {
                <$inner as PgFromSql>::accepts(ty)
            }
        }
    };
}

postgres_as!(Stamp, OffsetDateTime, Stamp::at);
postgres_as!(SiteId, i64, SiteId);

impl rusqlite::ToSql for SiteId {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        rusqlite::ToSql::to_sql(&self.0)
    }
}

impl FromSql for SiteId {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        i64::column_result(value).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_round_trips_through_sqlite_as_ordered_text() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let earlier = Stamp::at(OffsetDateTime::now_utc() - time::Duration::days(3));
        let now = Stamp::now();
        let (text, back): (String, Stamp) = conn
            .query_row("SELECT ?1, ?1", [now], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap();
        assert_eq!(back, now);
        assert_eq!(text, now.rfc3339());
        assert!(earlier.rfc3339() < text, "text order is time order");
        let bad: rusqlite::Result<Stamp> = conn.query_row("SELECT 'yesterday'", [], |r| r.get(0));
        assert!(bad.is_err());
    }

    #[test]
    fn a_stamp_keeps_whole_milliseconds_in_utc() {
        let odd = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789)
            .unwrap()
            .to_offset(time::UtcOffset::from_hms(2, 0, 0).unwrap());
        let stamp = Stamp::at(odd);
        assert_eq!(stamp.rfc3339(), "2023-11-14T22:13:20.123Z");
        assert_eq!(stamp.time().nanosecond(), 123_000_000);
    }
}
