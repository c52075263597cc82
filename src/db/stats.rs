//! What the metrics read of the database at scrape time: the pool's connections and the
//! SQLite write-ahead log's size. Read on demand, never polled in the background.

use super::{Db, Pools};

/// The pool's connections at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PoolState {
    /// Connections the pool keeps at most.
    pub(crate) max: usize,
    /// Connections open now.
    pub(crate) open: usize,
    /// Connections checked out now.
    pub(crate) in_use: usize,
    /// Callers waiting for a connection now; `None` where the pool does not say (SQLite's
    /// r2d2 pool keeps no such count).
    pub(crate) waiting: Option<usize>,
}

impl Db {
    /// The pool's connections now.
    pub(crate) fn pool_state(&self) -> PoolState {
        match &self.backend {
            Pools::Sqlite(pool) => {
                let state = pool.state();
                let open = state.connections as usize;
                PoolState {
                    max: pool.max_size() as usize,
                    open,
                    in_use: open.saturating_sub(state.idle_connections as usize),
                    waiting: None,
                }
            }
            Pools::Postgres(pool) => {
                let status = pool.status();
                PoolState {
                    max: status.max_size,
                    open: status.size,
                    in_use: status.size.saturating_sub(status.available),
                    waiting: Some(status.waiting),
                }
            }
        }
    }

    /// Bytes in the SQLite write-ahead log now (0 when it does not exist); `None` on
    /// PostgreSQL and for an in-memory database. A WAL that keeps growing means checkpoints
    /// cannot finish (a reader that never ends).
    pub(crate) fn wal_bytes(&self) -> Option<u64> {
        let wal = self.wal.as_ref()?;
        Some(std::fs::metadata(wal).map_or(0, |m| m.len()))
    }

    /// Which backend this is, for the `build_info` metric: `sqlite` or `postgres`.
    pub(crate) fn backend_name(&self) -> &'static str {
        match &self.backend {
            Pools::Sqlite(_) => "sqlite",
            Pools::Postgres(_) => "postgres",
        }
    }
}
