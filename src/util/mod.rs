//! Mechanisms every layer shares, each written once: URLs and their rules, capped body
//! reading, HTML escaping, timestamps, the outbound HTTP client, private files. Depends on nothing else in the
//! crate.

pub mod body;
pub mod flight;
pub mod fs;
pub mod html;
pub mod http;
pub mod time;
pub mod url;
