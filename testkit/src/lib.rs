//! What plays Atlassian in todo-connect's tests, benchmarks and example peers, in one home:
//! the install-key server ([`keys`]), Connect sites and their tokens ([`site`], [`tokens`]),
//! Forge's key set and invocation tokens ([`forge`]), the stand-in Confluence the app must never
//! call ([`stand_in`]), the realistic macro
//! request and the load peer ([`confluence`]), the app in-process ([`app`]), a throwaway
//! PostgreSQL cluster ([`postgres`]), a seeded database ([`seed`]), waiting on conditions
//! ([`wait`]), and the tools a test may lack, skipped visibly ([`tools`], [`skip`]). The app's
//! API it uses is listed in [`api`]. Dev-only: the main crate lists it under
//! `[dev-dependencies]`.

pub mod api;
pub mod app;
pub mod confluence;
pub mod forge;
pub mod keys;
pub mod net;
pub mod postgres;
pub mod rsa;
pub mod seed;
pub mod site;
pub mod skip;
pub mod stand_in;
pub mod tokens;
pub mod tools;
pub mod wait;

use std::time::{SystemTime, UNIX_EPOCH};

/// The public URL the app under test claims to be (`SITE_URL`), the `aud` of install tokens.
pub const SITE_URL: &str = "https://todo.example.test";
/// The app key under test (`ADDON_KEY`).
pub const ADDON_KEY: &str = "todo-connect-test";

/// Seconds since the epoch: what every token's `iat` and `exp` are counted from.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
