//! The Grafana dashboard and the alert rules in docs/: they parse, their queries are valid PromQL, and every metric they name is in a real scrape.
