//! Mechanisms every layer shares, each written once: URLs and their rules, capped body
//! reading, HTML escaping, timestamps, the outbound HTTP client and calls to a site's REST API,
//! the gate in front of costly calls, Atlassian ecosystem ids, budgets per tenant, private files, secrets that never
//! print, YAML for generated files, the buffered log sink. Depends on nothing else in the crate.

pub mod ari;
pub mod body;
pub mod budget;
pub mod flight;
pub mod fs;
pub mod gate;
pub mod html;
pub mod http;
pub mod log_buffer;
pub mod secret;
pub mod site_api;
pub mod time;
pub mod url;
pub mod yaml;
