//! Authentication refusals in the metrics, by way in and reason, against the real binary.
