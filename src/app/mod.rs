//! The application on top of every layer: its state and start-up, the route table, and the
//! operational pages (landing, liveness, readiness, assets).

pub mod pages;
pub mod routes;
pub mod startup;

pub use startup::{AppState, Application, StartupError, app};
