//! The sites by way-in state (`sites{connect, forge}`): counted by one query at scrape time,
//! kept for [`FRESH_FOR`] and refreshed by one scrape at a time, so a flood of scrapes costs
//! the database one `GROUP BY` per interval. Every one of the nine state pairs is always
//! shown (0 when none), so the series never depend on the data.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::gauge::ConstGauge;

use crate::db::Db;
use crate::site::store::census;
use crate::site::ways_in::State;

/// How long one count is shown before a scrape counts again.
const FRESH_FOR: Duration = Duration::from_secs(10);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WayLabels {
    connect: &'static str,
    forge: &'static str,
}

/// A way in's state as a label: `installed`, `uninstalled`, or `never` (the site never had it,
/// or an unknown stored text).
fn label(state: Option<State>) -> &'static str {
    state.map_or("never", State::as_str)
}

const LABELS: [&str; 3] = ["installed", "uninstalled", "never"];

/// One count: when it was taken, and the sites per pair of states.
type Count = (Instant, Vec<(WayLabels, i64)>);

/// The last count and how to take the next.
pub(super) struct SiteCounts {
    db: Db,
    last: Mutex<Option<Count>>,
    /// Held while counting, so concurrent scrapes wait for one count instead of each running it.
    counting: tokio::sync::Mutex<()>,
}

impl SiteCounts {
    pub(super) fn new(db: Db) -> Self {
        Self {
            db,
            last: Mutex::new(None),
            counting: tokio::sync::Mutex::new(()),
        }
    }

    fn fresh(&self) -> bool {
        let last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        last.as_ref()
            .is_some_and(|(at, _)| at.elapsed() < FRESH_FOR)
    }

    /// Counts again when the last count is older than [`FRESH_FOR`]; a failed count keeps the
    /// last one (and says so in the log).
    pub(super) async fn refresh(&self) {
        let _one = self.counting.lock().await;
        if self.fresh() {
            return;
        }
        match census::count_by_state(&self.db).await {
            Ok(rows) => {
                let mut counts = Vec::new();
                for connect in LABELS {
                    for forge in LABELS {
                        let n = rows
                            .iter()
                            .filter(|(c, f, _)| label(*c) == connect && label(*f) == forge)
                            .map(|(_, _, n)| n)
                            .sum();
                        counts.push((WayLabels { connect, forge }, n));
                    }
                }
                *self.last.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some((Instant::now(), counts));
            }
            Err(err) => log::warn!("metrics: counting the sites failed: {err}"),
        }
    }
}

impl std::fmt::Debug for SiteCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SiteCounts")
    }
}

impl Collector for SiteCounts {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let Some((_, counts)) = last.as_ref() else {
            return Ok(());
        };
        let mut metric = encoder.encode_descriptor(
            "sites",
            "Sites by the state of each way in (counted at most every 10 s)",
            None,
            MetricType::Gauge,
        )?;
        for (labels, n) in counts {
            ConstGauge::new(*n).encode(metric.encode_family(labels)?)?;
        }
        Ok(())
    }
}
