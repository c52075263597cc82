//! The SQLite file as every connection sees it: the pool, the pragmas each connection gets
//! (busy timeout, WAL with `synchronous=FULL`, foreign keys, checkpoint and journal limits).

use std::path::Path;
use std::time::Duration;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::Connection;

use super::{DbError, refuse_foreign};

/// The shared pool of connections to the database file.
pub type Pool = r2d2::Pool<SqliteConnectionManager>;

/// How long a connection waits for another writer before giving up with `SQLITE_BUSY`.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// WAL pages after which a commit checkpoints (SQLite's default, stated so it is a decision).
const WAL_AUTOCHECKPOINT_PAGES: u32 = 1000;
/// What the WAL file is truncated back to once a checkpoint has reset it: a burst of writes
/// (or a long reader that held checkpoints back) must not leave a large file behind for good.
const JOURNAL_SIZE_LIMIT_BYTES: i64 = 8 * 1024 * 1024;
/// Page cache per connection, in KiB (SQLite's `cache_size` takes a negative number as KiB).
/// SQLite's default is 2 MiB; with the pool and the workers' read connections that is 20 MiB
/// once a large database has been read all over (the 10,000-site load round). 1 MiB still holds
/// the interior pages of the tasks tree for millions of rows; a leaf not cached is one `pread`
/// served by the OS's file cache.
pub(crate) const CACHE_KIB: i64 = 1024;

/// Applies the pragmas every connection needs.
pub fn configure_connection(conn: &mut Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;",
    )?;
    conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES)?;
    conn.pragma_update(None, "journal_size_limit", JOURNAL_SIZE_LIMIT_BYTES)?;
    conn.pragma_update(None, "cache_size", -CACHE_KIB)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// Opens (creating if needed) the database file and its parent folder, as a pool.
pub fn open_pool(path: &Path, max_size: u32) -> Result<Pool, DbError> {
    crate::util::fs::refuse_other_names(path).map_err(|why| DbError::Link {
        path: path.display().to_string(),
        why,
    })?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| DbError::CreateDir {
            path: parent.display().to_string(),
            source,
        })?;
    }
    // Private from the first byte: the file holds every site's shared secret.
    crate::util::fs::create_private(path).map_err(|source| DbError::CreateDir {
        path: path.display().to_string(),
        source,
    })?;
    refuse_foreign(path)?;
    let manager = SqliteConnectionManager::file(path).with_init(configure_connection);
    let pool = r2d2::Pool::builder()
        .max_size(max_size)
        .connection_timeout(Duration::from_secs(5))
        // SQLite connections do not go stale; r2d2's default check runs a query per checkout.
        .test_on_check_out(false)
        .build(manager)?;
    Ok(pool)
}

/// An in-memory database with the server's pragmas, not yet migrated, for unit tests.
#[cfg(test)]
pub(crate) fn memory() -> Connection {
    let mut conn = Connection::open_in_memory().unwrap();
    configure_connection(&mut conn).unwrap();
    conn
}
