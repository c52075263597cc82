//! Every item of the crate's public API that the integration tests use, imported here and only
//! here: when `src/` is restructured, this is the one file whose paths change.

pub use todo_connect::Application;
pub use todo_connect::config::{AppEnv, Settings, url_path};
pub use todo_connect::connect::Installation;
pub use todo_connect::connect::host_client::{HostClients, HostError};
pub use todo_connect::connect::installations::find_installed;
pub use todo_connect::connect::qsh;
pub use todo_connect::db::configure_connection;
pub use todo_connect::http_client;
