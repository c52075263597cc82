//! The one outbound HTTP client every call shares (key server, Confluence, the authorization
//! server): bounded in time, never following redirects.

use std::time::Duration;

/// Bound of one outbound call, connection to last byte.
pub const OUTBOUND_TIMEOUT: Duration = Duration::from_secs(5);
/// Bound of establishing the connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Builds the shared client: timeouts, no redirects (a redirect is answered as an error by
/// the caller), our user agent.
pub fn client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(OUTBOUND_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("todo-connect/", env!("CARGO_PKG_VERSION")))
        .build()
}
