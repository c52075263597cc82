//! Every item of the app's public API that the test support uses, imported here and only here:
//! when `src/` is restructured, this is the one file of `testkit` whose paths change (as
//! `tests/it/harness/api.rs` is for the tests).

pub use todo_connect::Application;
pub use todo_connect::config::Settings;
pub use todo_connect::connect::installations::NewInstallation;
pub use todo_connect::connect::jwt::Secret;
pub use todo_connect::connect::qsh;
pub use todo_connect::db::{Db, Pool, migrate, open_pool};
pub use todo_connect::site::SiteId;
pub use todo_connect::site::store::connect::install;
pub use todo_connect::util::url::BaseUrl;
