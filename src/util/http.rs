//! The one outbound HTTP client every call shares (key server, Confluence, the authorization
//! server): bounded in time, never following redirects; and [`get_capped`], the one way a
//! small document (a key, a key set) is fetched with it.

use std::time::Duration;

use bytes::Bytes;

use super::body::{BodyError, read_capped};

/// Bound of one outbound call, connection to last byte.
pub(crate) const OUTBOUND_TIMEOUT: Duration = Duration::from_secs(5);
/// Bound of establishing the connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

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

/// Why [`get_capped`] got no body; its text never holds the URL or its query.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum GetError {
    /// The server answered, but not with a success.
    #[error("status {0}")]
    Status(reqwest::StatusCode),
    /// No answer, or not a whole one within the cap and [`OUTBOUND_TIMEOUT`].
    #[error("{0}")]
    Failed(String),
}

/// GETs `url` with `http` and reads the body: 2xx only, at most `cap` bytes, whole within
/// [`OUTBOUND_TIMEOUT`] (however steadily it trickles).
pub(crate) async fn get_capped(
    http: &reqwest::Client,
    url: &str,
    cap: usize,
) -> Result<Bytes, GetError> {
    let failed = |e: reqwest::Error| GetError::Failed(e.without_url().to_string());
    let response = http.get(url).send().await.map_err(failed)?;
    if !response.status().is_success() {
        return Err(GetError::Status(response.status()));
    }
    let declared = response.content_length();
    read_capped(response.bytes_stream(), declared, cap, OUTBOUND_TIMEOUT)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge(_) => GetError::Failed("response too large".into()),
            BodyError::TimedOut(_) => GetError::Failed("response too slow".into()),
            BodyError::Read(e) => failed(e),
        })
}
