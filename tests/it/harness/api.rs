//! Every item of the crate's public API that the integration tests use, imported here and only
//! here: when `src/` is restructured, this is the one file whose paths change.

pub use todo_connect::config::DatabaseUrl;
pub use todo_connect::config::{AppEnv, Settings};
pub use todo_connect::connect::qsh;
pub use todo_connect::db::postgres::open as open_postgres;
pub use todo_connect::db::{Db, configure_connection, latest_version, open_pool};
pub use todo_connect::seeding::{SeedSite, SeedTask, Seeder};
pub use todo_connect::site::SiteId;
pub use todo_connect::todo::store;
pub use todo_connect::todo::store::Created;
pub use todo_connect::todo::task::TaskTitle;
pub use todo_connect::util::url::BaseUrl;

/// The path of a base URL without its trailing slash (`""` for a root URL).
pub fn url_path(url: &str) -> String {
    BaseUrl::parse(url, false)
        .expect("a base URL")
        .path()
        .to_string()
}
