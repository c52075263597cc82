//! Mechanisms every layer shares, each written once: URLs and their rules, capped body
//! reading, HTML escaping, timestamps, the outbound HTTP client and calls to a site's REST API,
//! the gate in front of costly calls, Atlassian ecosystem ids, budgets per tenant, what a failed JWT check means, private files, secrets that never
//! print, YAML for generated files, the buffered log sink and the JSON log line, request ids, text made one line for an error, the process-wide counters lower layers record (`telemetry`). Depends on nothing else in the crate.

pub(crate) mod ari;
pub(crate) mod body;
pub(crate) mod budget;
pub(crate) mod flight;
pub(crate) mod fs;
pub(crate) mod gate;
pub(crate) mod html;
pub mod http;
pub(crate) mod jwt;
pub mod log_buffer;
pub mod log_format;
pub(crate) mod request_id;
pub(crate) mod secret;
pub(crate) mod site_api;
pub mod telemetry;
pub mod text;
pub(crate) mod time;
pub mod url;
pub mod yaml;
