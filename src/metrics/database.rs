//! The database gauges, read when the metrics are scraped (no background loop): the pool's
//! connections (both backends), callers waiting for one (PostgreSQL) and the SQLite WAL size.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;

use crate::db::Db;

/// Reads the database's current state on each scrape.
pub(super) struct DatabaseGauges {
    db: Db,
}

impl DatabaseGauges {
    pub(super) fn new(db: Db) -> Self {
        Self { db }
    }
}

impl std::fmt::Debug for DatabaseGauges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DatabaseGauges")
    }
}

impl Collector for DatabaseGauges {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let pool = self.db.pool_state();
        gauge(
            &mut encoder,
            "db_pool_max_connections",
            "Connections the database pool keeps at most",
            pool.max,
        )?;
        gauge(
            &mut encoder,
            "db_pool_connections",
            "Connections the database pool holds open now",
            pool.open,
        )?;
        gauge(
            &mut encoder,
            "db_pool_in_use",
            "Connections of the database pool checked out now",
            pool.in_use,
        )?;
        if let Some(waiting) = pool.waiting {
            gauge(
                &mut encoder,
                "db_pool_waiting",
                "Callers waiting for a connection of the pool now (PostgreSQL)",
                waiting,
            )?;
        }
        if let Some(bytes) = self.db.wal_bytes() {
            let value = ConstGauge::new(i64::try_from(bytes).unwrap_or(i64::MAX));
            let metric = encoder.encode_descriptor(
                "sqlite_wal_bytes",
                "Size of the SQLite write-ahead log file now",
                None,
                value.metric_type(),
            )?;
            value.encode(metric)?;
        }
        Ok(())
    }
}

fn gauge(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    value: usize,
) -> Result<(), std::fmt::Error> {
    let value = ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX));
    let metric = encoder.encode_descriptor(name, help, None, value.metric_type())?;
    value.encode(metric)
}
