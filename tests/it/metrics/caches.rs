//! Database errors and caches in the metrics, against the real binary.
