//! What every integration test shares: the app in-process ([`spawn_app`]) or as a child
//! process ([`Binary`]), a real key server, Confluence sites that sign their requests, raw
//! HTTP, looking into the database, and waiting on conditions instead of the clock.

pub mod api;
mod app;
mod db;
pub mod forge;
pub mod postgres;
mod process;
pub mod raw_http;
mod rsa;
mod site;
mod wait;

pub use crate::vals;
pub use app::{INSTALL_KID, KeyServer, TestApp, spawn_app, spawn_app_with};
pub use db::{TestDb, ToVal, USE_COLUMNS, Val, db, dump, stored_secret};
pub use forge::{
    FIT_ISSUER, FORGE_APP_ARI, FORGE_APP_UUID, FORGE_KID, ForgeSite, JwksServer, OTHER_APP_ARI,
    adopted_payload, forge_env, forge_key, public_jwk, rotated_key, sign_fit, spawn_forge_app,
    spawn_forge_app_with,
};
pub use postgres::on_postgres;
pub use process::{Binary, NOBODY, Server, TEST_BUILD, free_port, running_as_root, stderr, stdout};
pub use rsa::new_rsa_keys;
pub use site::{Site, hs256_with, now};
pub use wait::{PATIENCE, poll, poll_async, wait_until};

/// The public URL the test server claims to be (`SITE_URL`), the `aud` of install tokens.
pub const SITE_URL: &str = "https://todo.example.test";
/// The app key in tests.
pub const ADDON_KEY: &str = "todo-connect-test";

/// The 50 published query-string-hash vectors.
pub const QSH_VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/connect-qsh-vectors.json"
);
