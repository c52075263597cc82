//! Process-wide instruments the lower layers record into — authentication refusals, outbound
//! calls, database statement errors, cache lookups and sizes, dropped bookkeeping notes — so
//! that a key fetch deep in `connect` or a failed statement in `db` is counted without a handle
//! threaded through every constructor. `metrics` registers them (see docs/metrics.md); recording is an atomic update
//! whether or not a listener serves them.
//!
//! Every label is one of a fixed list of enum variants below, so the series are the same with
//! 10 sites or 10,000, and every combination exists (at 0) from the first scrape, so a rate or
//! an alert never waits for a first event.

use std::sync::LazyLock;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// A fixed list of label values: each variant's text and every variant.
macro_rules! label_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vdoc])* $variant),+ }

        impl $name {
            /// Every value, in the order shown.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The label value.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }
    };
}

label_enum!(
    /// The way a refused request came in.
    Way {
        /// A Connect product request (HS256 token and qsh).
        Connect => "connect",
        /// A Forge Remote call (Forge Invocation Token).
        Forge => "forge",
        /// An install, uninstall, enable or disable callback, or a Forge lifecycle event.
        Lifecycle => "lifecycle",
    }
);

label_enum!(
    /// Why a request's authentication was refused.
    Refusal {
        /// No token at all.
        Missing => "missing",
        /// Not a token we can read: too large, not a JWT, a wrong algorithm or key id.
        Malformed => "malformed",
        /// Past its expiry, or issued too long ago.
        Expired => "expired",
        /// The signature does not hold.
        Signature => "signature",
        /// Signed, but a claim is wrong (audience, issued in the future, a body naming
        /// another site than its token, …).
        Claims => "claims",
        /// The query string hash is missing, does not match, or is a context qsh where none
        /// is declared.
        Qsh => "qsh",
        /// The issuer is no installed, enabled site (or its ids name two sites).
        UnknownSite => "unknown_site",
        /// The key the token names is not published.
        UnknownKey => "unknown_key",
        /// The keys to check it could not be fetched (Atlassian down or throttled).
        KeysUnavailable => "keys_unavailable",
    }
);

label_enum!(
    /// What an outbound call was for.
    Outbound {
        /// A Connect install key from Atlassian's key server.
        InstallKey => "install_key",
        /// A Forge key set (JWKS).
        ForgeKeys => "forge_keys",
        /// A call to Jira's REST API with an app system token.
        Jira => "jira",
    }
);

label_enum!(
    /// How an outbound call ended.
    Outcome {
        /// A success answer, read whole.
        Ok => "ok",
        /// No whole answer within the bound.
        Timeout => "timeout",
        /// The server answered with an error status.
        Refused => "refused",
        /// No answer (connection failed or reset) or an unusable one (too large, unreadable).
        Error => "error",
    }
);

label_enum!(
    /// What kind of database failure a statement or a connection hit.
    DbFailure {
        /// The database was busy: a lock wait ran out (SQLite) or a serialization or
        /// deadlock failure (PostgreSQL).
        Busy => "busy",
        /// A constraint refused the statement.
        Constraint => "constraint",
        /// No connection: the pool had none in time, or the server could not be reached.
        Connection => "connection",
        /// Anything else.
        Other => "other",
    }
);

label_enum!(
    /// A cache in front of a database read or an outbound call.
    Cache {
        /// Connect installations by client key.
        Installations => "installations",
        /// Forge identities' sites.
        ForgeSites => "forge_sites",
        /// Connect install keys by key id.
        InstallKeys => "install_keys",
        /// Forge key sets by URL.
        ForgeKeys => "forge_keys",
        /// Rendered macro pages per task.
        MacroPages => "macro_pages",
    }
);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusalLabels {
    way: &'static str,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutboundLabels {
    kind: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LookupLabels {
    cache: &'static str,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    cache: &'static str,
}

/// Upper bounds (seconds) of the outbound latency buckets: a few milliseconds (a key server
/// nearby) to the 5 s bound of every outbound call.
const OUTBOUND_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

type Latencies = Family<KindLabels, Histogram, fn() -> Histogram>;

/// The instruments, created (every label combination at 0) on first use.
struct Instruments {
    refusals: Family<RefusalLabels, Counter>,
    outbound: Family<OutboundLabels, Counter>,
    outbound_latency: Latencies,
    db_errors: Family<KindLabels, Counter>,
    lookups: Family<LookupLabels, Counter>,
    entries: Family<CacheLabels, Gauge>,
    bookkeeping_dropped: Counter,
}

static INSTRUMENTS: LazyLock<Instruments> = LazyLock::new(|| {
    let all = Instruments {
        refusals: Family::default(),
        outbound: Family::default(),
        outbound_latency: Family::new_with_constructor(|| Histogram::new(OUTBOUND_BUCKETS)),
        db_errors: Family::default(),
        lookups: Family::default(),
        entries: Family::default(),
        bookkeeping_dropped: Counter::default(),
    };
    for way in Way::ALL {
        for why in Refusal::ALL {
            all.refusals
                .get_or_create_owned(&refusal_labels(*way, *why));
        }
    }
    for kind in Outbound::ALL {
        for outcome in Outcome::ALL {
            all.outbound
                .get_or_create_owned(&outbound_labels(*kind, *outcome));
        }
        all.outbound_latency.get_or_create_owned(&KindLabels {
            kind: kind.as_str(),
        });
    }
    for kind in DbFailure::ALL {
        all.db_errors.get_or_create_owned(&KindLabels {
            kind: kind.as_str(),
        });
    }
    for cache in Cache::ALL {
        for hit in [true, false] {
            all.lookups.get_or_create_owned(&lookup_labels(*cache, hit));
        }
        all.entries.get_or_create_owned(&CacheLabels {
            cache: cache.as_str(),
        });
    }
    all
});

fn refusal_labels(way: Way, why: Refusal) -> RefusalLabels {
    RefusalLabels {
        way: way.as_str(),
        reason: why.as_str(),
    }
}

fn outbound_labels(kind: Outbound, outcome: Outcome) -> OutboundLabels {
    OutboundLabels {
        kind: kind.as_str(),
        outcome: outcome.as_str(),
    }
}

fn lookup_labels(cache: Cache, hit: bool) -> LookupLabels {
    LookupLabels {
        cache: cache.as_str(),
        result: if hit { "hit" } else { "miss" },
    }
}

/// Counts one authentication refusal (every 401 of a way in counts once).
pub fn refused(way: Way, why: Refusal) {
    INSTRUMENTS
        .refusals
        .get_or_create(&refusal_labels(way, why))
        .inc();
}

/// Counts one finished outbound call and its duration (from sending to the last byte read, or
/// to the failure).
pub fn outbound(kind: Outbound, outcome: Outcome, elapsed: Duration) {
    let all = &*INSTRUMENTS;
    all.outbound
        .get_or_create(&outbound_labels(kind, outcome))
        .inc();
    all.outbound_latency
        .get_or_create(&KindLabels {
            kind: kind.as_str(),
        })
        .observe(elapsed.as_secs_f64());
}

/// Counts one failed database statement or connection checkout.
pub fn db_error(kind: DbFailure) {
    INSTRUMENTS
        .db_errors
        .get_or_create(&KindLabels {
            kind: kind.as_str(),
        })
        .inc();
}

/// Counts one cache lookup: `hit` when the cache answered without the read or call behind it.
pub fn cache_lookup(cache: Cache, hit: bool) {
    INSTRUMENTS
        .lookups
        .get_or_create(&lookup_labels(cache, hit))
        .inc();
}

/// Shows a cache's current number of entries (set by the cache after it changed).
pub fn cache_entries(cache: Cache, entries: usize) {
    INSTRUMENTS
        .entries
        .get_or_create(&CacheLabels {
            cache: cache.as_str(),
        })
        .set(i64::try_from(entries).unwrap_or(i64::MAX));
}

/// Counts one bookkeeping note (a site's or a user's use) dropped because the writer's queue
/// was full: it is noted again on that site's or user's next request.
pub fn bookkeeping_dropped() {
    INSTRUMENTS.bookkeeping_dropped.inc();
}

/// Notes dropped so far in this process (for tests).
#[cfg(test)]
pub(crate) fn bookkeeping_dropped_so_far() -> u64 {
    INSTRUMENTS.bookkeeping_dropped.get()
}

/// Registers every instrument in `registry` (the metrics layer's, once per registry).
pub(crate) fn register(registry: &mut Registry) {
    let all = &*INSTRUMENTS;
    registry.register(
        "auth_refusals",
        "Requests refused authentication (each a 401), by way in and reason",
        all.refusals.clone(),
    );
    registry.register(
        "outbound_requests",
        "Calls to Atlassian finished, by what they were for and how they ended",
        all.outbound.clone(),
    );
    registry.register(
        "outbound_request_duration_seconds",
        "Duration of calls to Atlassian, from sending to the last byte or the failure",
        all.outbound_latency.clone(),
    );
    registry.register(
        "db_errors",
        "Database statements or connection checkouts that failed, by kind",
        all.db_errors.clone(),
    );
    registry.register(
        "cache_lookups",
        "Cache lookups, by cache and result (hit or miss)",
        all.lookups.clone(),
    );
    registry.register(
        "cache_entries",
        "Entries held now, by cache",
        all.entries.clone(),
    );
    registry.register(
        "bookkeeping_notes_dropped",
        "Bookkeeping notes (uses of sites and users) dropped with the writer's queue full",
        all.bookkeeping_dropped.clone(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_label_combination_is_shown_from_the_start_and_counts_move() {
        let mut registry = Registry::default();
        register(&mut registry);
        refused(Way::Forge, Refusal::Qsh);
        outbound(Outbound::Jira, Outcome::Timeout, Duration::from_millis(20));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        let count = |prefix: &str| text.lines().filter(|l| l.starts_with(prefix)).count();
        assert_eq!(
            count("auth_refusals_total{"),
            Way::ALL.len() * Refusal::ALL.len()
        );
        assert_eq!(
            count("outbound_requests_total{"),
            Outbound::ALL.len() * Outcome::ALL.len()
        );
        assert_eq!(count("db_errors_total{"), DbFailure::ALL.len());
        assert_eq!(count("cache_lookups_total{"), Cache::ALL.len() * 2);
        assert_eq!(count("cache_entries{"), Cache::ALL.len());
        assert_eq!(count("bookkeeping_notes_dropped_total "), 1);
        // Other tests in this process may count too, so only "at least one".
        let value = |line: &str| -> f64 {
            let found = text.lines().find(|l| l.starts_with(line)).unwrap();
            found.rsplit(' ').next().unwrap().parse().unwrap()
        };
        assert!(value("auth_refusals_total{way=\"forge\",reason=\"qsh\"}") >= 1.0);
        assert!(value("outbound_requests_total{kind=\"jira\",outcome=\"timeout\"}") >= 1.0);
    }

    #[test]
    fn label_values_are_lowercase_words() {
        let words = Way::ALL
            .iter()
            .map(|w| w.as_str())
            .chain(Refusal::ALL.iter().map(|r| r.as_str()))
            .chain(Outbound::ALL.iter().map(|o| o.as_str()))
            .chain(Outcome::ALL.iter().map(|o| o.as_str()))
            .chain(DbFailure::ALL.iter().map(|d| d.as_str()))
            .chain(Cache::ALL.iter().map(|c| c.as_str()));
        for word in words {
            assert!(
                word.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{word}"
            );
        }
    }
}
