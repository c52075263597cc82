//! The Todo domain and how it shows up in Confluence: validated types, the site-scoped store,
//! the JSON API, the iframe pages, creators' display names and publishing.

pub mod api;
pub mod pages;
pub mod people;
pub mod publish;
pub mod store;
pub mod task;

use crate::db::Db;

/// What the task handlers share, built once; they find it as `web::Data<Todo>`.
pub struct Todo {
    pub db: Db,
    /// Creators' display names, in memory only.
    pub names: people::DisplayNames,
}

impl Todo {
    /// The Todo state around the database.
    pub fn new(db: Db) -> Self {
        Self {
            db,
            names: people::DisplayNames::default(),
        }
    }
}
