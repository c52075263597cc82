//! The advisory lock keys todo-connect takes on PostgreSQL, in one place so no two collide:
//! each is eight ASCII letters read as a number.

/// The advisory lock migrations run under (`pg_advisory_xact_lock`): "todo-con" as a number.
pub(super) const MIGRATION_LOCK: i64 = 0x746f_646f_2d63_6f6e;

/// The advisory lock that serialises changes to which rows are which site ("todo-sit"): Connect
/// installs (which may merge a Forge-only site) and Forge resolutions (which may create one),
/// as SQLite's IMMEDIATE transactions do.
pub(crate) const SITES_LOCK: i64 = 0x746f_646f_2d73_6974;

/// The advisory lock every serving replica holds shared on its listener's session ("todo-srv"):
/// what `copy` takes exclusively to know no server uses the database, like SQLite's lock file.
pub(crate) const SERVING_LOCK: i64 = 0x746f_646f_2d73_7276;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_two_locks_share_a_key() {
        let keys = [MIGRATION_LOCK, SITES_LOCK, SERVING_LOCK];
        let distinct: std::collections::HashSet<i64> = keys.into_iter().collect();
        assert_eq!(distinct.len(), keys.len());
    }
}
