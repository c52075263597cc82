//! Timestamps as every timestamp column stores them: RFC 3339, UTC, milliseconds
//! (`2026-11-28T16:39:53.123Z`), so that comparing them as text orders them in time.

use time::OffsetDateTime;
use time::format_description::BorrowedFormatItem;

const RFC3339_MILLIS: &[BorrowedFormatItem<'static>] = time::macros::format_description!(
    "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
);

/// `at` (converted to UTC) in the stored format.
pub(crate) fn rfc3339(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    at.format(RFC3339_MILLIS)
        .unwrap_or_else(|_| at.unix_timestamp().to_string())
}

#[cfg(test)]
/// The current time in the stored format.
pub(crate) fn now_rfc3339() -> String {
    rfc3339(OffsetDateTime::now_utc())
}

/// The current time at the stored precision (whole milliseconds, UTC), for a backend that
/// stores timestamps natively (PostgreSQL's `timestamptz`): read back and formatted with
/// [`rfc3339`], it gives exactly the text SQLite would have stored.
pub(crate) fn now_millis() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(now.millisecond() as u32 * 1_000_000)
        .unwrap_or(now)
}

/// A stored timestamp read back (any RFC 3339 text); `None` when it is not one.
pub(crate) fn parse_rfc3339(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
}

/// The current Unix time in seconds (JWT `iat`/`exp`).
pub(crate) fn unix_now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc_with_millis() {
        let ts = now_rfc3339();
        assert_eq!(ts.len(), "2026-11-28T16:39:53.123Z".len(), "{ts}");
        assert!(ts.ends_with('Z') && ts.as_bytes()[10] == b'T', "{ts}");
    }

    #[test]
    fn text_order_is_time_order() {
        let earlier = OffsetDateTime::now_utc() - time::Duration::days(3);
        assert!(rfc3339(earlier) < now_rfc3339());
    }
}
