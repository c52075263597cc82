//! todo-connect: a Todo app inside Atlassian Confluence, as an Atlassian Connect app and as a
//! Forge app whose backend is this binary (Forge Remote).
//!
//! Layers, bottom up; a module uses only those below it:
//! `util` (URLs, bodies, escaping, time, outbound HTTP) → `config`, `error`, `site` → `db` → `metrics` →
//! `web` (HTTP plumbing) → `connect` (Connect) and `forge` (Forge Remote), neither with todo
//! knowledge nor knowing each other → `todo` (the domain) →
//! `app` (state, start-up, routes) → `ops`, `cli`. See `docs/architecture.md`.
//!
//! This library is the binary's inside, not a published API: its docs are read with private
//! items (`cargo doc --document-private-items`), so links to private items are meant.
#![allow(rustdoc::private_intra_doc_links)]

pub mod app;
#[cfg(test)]
mod architecture;
pub mod bookkeeping;
pub mod cli;
pub mod config;
pub mod connect;
pub mod db;
pub(crate) mod error;
pub(crate) mod forge;
#[doc(hidden)]
pub mod fuzzing;
pub(crate) mod metrics;
pub(crate) mod ops;
#[doc(hidden)]
pub mod seeding;
pub mod site;
pub mod todo;
pub mod users;
pub mod util;
pub(crate) mod web;

pub use app::{Application, StartupError};
