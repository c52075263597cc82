//! What every integration test shares, under the names the tests use. What plays Atlassian
//! (the key server, Connect and Forge sites and their tokens, the in-process app, the
//! PostgreSQL cluster, waiting, visible skips) lives in the dev-only `testkit` crate, shared
//! with the benches and example peers, and is re-exported here; what only these tests need
//! stays beside: the binary as a child process ([`Binary`]), raw HTTP, looking into the
//! database, and the crate API the tests call ([`api`]).

pub mod api;
mod db;
mod process;
pub mod raw_http;

pub use crate::vals;
pub use db::{TestDb, ToVal, USE_COLUMNS, Val, db, dump, stored_secret};
pub use process::{Binary, Server, TEST_BUILD, stderr, stdout};
pub use testkit::app::{TestApp, spawn_app, spawn_app_with};
// `crate::harness::forge::…` stays a path, as it was when the module lived here.
#[allow(unused_imports)]
pub use testkit::forge;
pub use testkit::forge::{
    FIT_ISSUER, FORGE_APP_ARI, FORGE_APP_UUID, FORGE_KID, ForgeSite, JwksServer, OTHER_APP_ARI,
    adopted_payload, forge_env, forge_key, public_jwk, rotated_key, sign_fit, spawn_forge_app,
    spawn_forge_app_with,
};
pub use testkit::keys::{INSTALL_KID, KeyServer};
pub use testkit::net::{NOBODY, free_port, running_as_root};
pub use testkit::postgres::{self, on_postgres};
pub use testkit::rsa::new_rsa_keys;
pub use testkit::site::{Site, hs256_with, now};
pub use testkit::skip;
pub use testkit::wait::{PATIENCE, poll, poll_async, wait_until};
pub use testkit::{ADDON_KEY, SITE_URL};

/// The 50 published query-string-hash vectors.
pub const QSH_VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/connect-qsh-vectors.json"
);

/// Waits until `check` finds what the bookkeeping writer commits after a request (a site's
/// `*_seen_at`, a `jwt_users` row): a request never waits for it, so a test reading it right
/// after the response polls. Fails only when it never appears.
pub async fn wait_written<T>(what: &str, check: impl Fn() -> Option<T>) -> T {
    poll_async(PATIENCE, async || check())
        .await
        .unwrap_or_else(|| panic!("the bookkeeping writer never wrote {what}"))
}
