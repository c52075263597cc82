//! The one outbound HTTP client every call shares (key server, Confluence, the authorization
//! server): bounded in time, never following redirects; [`exchange`], the one place a call is
//! sent, read and counted in the metrics by its kind and outcome; and [`get_capped`], the one
//! way a small document (a key, a key set) is fetched with it.

use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::StatusCode;

use super::body::{BodyError, read_capped};
use super::telemetry::{self, Outbound, Outcome};

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

/// Why an [`exchange`] brought no usable answer, told apart as far as callers and the metrics
/// need.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The server answered, but not with a success (a redirect included: none is followed).
    Status(StatusCode),
    /// No whole answer within the bound (the request's timeout or the body's deadline).
    TimedOut,
    /// The answer was larger than the cap.
    TooLarge,
    /// No answer (connection refused or reset) or an unreadable one.
    Transport(reqwest::Error),
}

impl From<reqwest::Error> for Failure {
    fn from(err: reqwest::Error) -> Self {
        if err.is_timeout() {
            Self::TimedOut
        } else {
            Self::Transport(err)
        }
    }
}

/// Sends `request` (bounded by its own timeout) as one call for `kind`, and reads a 2xx body
/// up to `cap` bytes, whole within `bound`. Every call sent is counted once, with its outcome
/// and its duration from sending to the last byte (or the failure); a request that cannot be
/// built sends nothing and is not counted.
pub(crate) async fn exchange(
    kind: Outbound,
    request: reqwest::RequestBuilder,
    cap: usize,
    bound: Duration,
) -> Result<(StatusCode, Bytes), Failure> {
    let (http, request) = request.build_split();
    let request = request.map_err(Failure::Transport)?;
    let started = Instant::now();
    let result = send_and_read(&http, request, cap, bound).await;
    telemetry::outbound(kind, outcome(&result), started.elapsed());
    result
}

async fn send_and_read(
    http: &reqwest::Client,
    request: reqwest::Request,
    cap: usize,
    bound: Duration,
) -> Result<(StatusCode, Bytes), Failure> {
    let response = http.execute(request).await?;
    let status = response.status();
    if !status.is_success() {
        return Err(Failure::Status(status));
    }
    let declared = response.content_length();
    let body = read_capped(response.bytes_stream(), declared, cap, bound)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge(_) => Failure::TooLarge,
            BodyError::TimedOut(_) => Failure::TimedOut,
            BodyError::Read(e) => Failure::from(e),
        })?;
    Ok((status, body))
}

/// How a call ended, as the metrics name it: the one place outcomes are told apart.
pub(super) fn outcome<T>(result: &Result<T, Failure>) -> Outcome {
    match result {
        Ok(_) => Outcome::Ok,
        Err(Failure::Status(_)) => Outcome::Refused,
        Err(Failure::TimedOut) => Outcome::Timeout,
        Err(Failure::TooLarge | Failure::Transport(_)) => Outcome::Error,
    }
}

/// Why [`get_capped`] got no body; its text never holds the URL or its query.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum GetError {
    /// The server answered, but not with a success.
    #[error("status {0}")]
    Status(StatusCode),
    /// No whole answer within [`OUTBOUND_TIMEOUT`].
    #[error("no answer within {OUTBOUND_TIMEOUT:?}")]
    TimedOut,
    /// No answer, or an unusable one (too large, unreadable).
    #[error("{0}")]
    Failed(String),
}

/// GETs `url` with `http` as one call for `kind` and reads the body: 2xx only, at most `cap`
/// bytes, whole within [`OUTBOUND_TIMEOUT`] (however steadily it trickles).
pub(crate) async fn get_capped(
    kind: Outbound,
    http: &reqwest::Client,
    url: &str,
    cap: usize,
) -> Result<Bytes, GetError> {
    match exchange(kind, http.get(url), cap, OUTBOUND_TIMEOUT).await {
        Ok((_, body)) => Ok(body),
        Err(Failure::Status(status)) => Err(GetError::Status(status)),
        Err(Failure::TimedOut) => Err(GetError::TimedOut),
        Err(Failure::TooLarge) => Err(GetError::Failed("response too large".into())),
        Err(Failure::Transport(e)) => Err(GetError::Failed(e.without_url().to_string())),
    }
}
