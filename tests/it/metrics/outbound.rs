//! Outbound calls in the metrics (install keys, Forge key sets, Jira), against the real binary and local servers that answer, refuse or stall.
