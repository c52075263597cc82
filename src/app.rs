//! The application on top of every layer: its state and start-up, the route table, the
//! operational pages (landing, liveness, readiness, assets), and the Forge manifest (which
//! describes all of it).

pub(crate) mod manifest;
mod pages;
pub mod routes;
pub mod startup;

pub(crate) use startup::AppState;
pub use startup::{Application, StartupError};
