//! Mechanisms every layer shares, each written once: URLs and their rules, capped body
//! reading, HTML escaping, timestamps, the outbound HTTP client, the buffered log sink. Depends on nothing else in the
//! crate.

pub mod body;
pub mod flight;
pub mod html;
pub mod http;
pub mod log_buffer;
pub mod time;
pub mod url;
