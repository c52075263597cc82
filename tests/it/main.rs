//! The integration tests, in one binary: the real server in-process on port 0 or the real
//! binary as a child process, real SQLite files, a real key server, stand-in Confluence
//! sites, and a real browser. `harness` is what they share; each other module is one area.

mod harness;

mod abuse;
mod browser;
mod calls_back;
mod connect;
mod forge;
mod forge_ui;
mod foundation;
mod hardening;
mod macro_pages;
mod metrics;
mod ops;
mod properties;
mod replicas;
mod seeding;
mod sites;
mod todo_api;
