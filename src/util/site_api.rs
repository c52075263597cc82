//! One call to a site's REST API as the app, under the outbound rules (today's one caller is
//! Forge's app-system-token client writing Jira progress; Connect sites are never called):
//! only URLs on the site's own base URL (same origin, under its path; anything else refused
//! before a byte is sent), the shared client's timeouts (or a tighter one), redirects answered
//! as errors, responses capped at [`MAX_RESPONSE_BYTES`], and errors that name the site and the endpoint (method and path,
//! never the query) but never a token. How a call authenticates is the caller's business.

mod error;

pub use error::HostError;

use std::time::Duration;

use reqwest::header::ACCEPT;
use reqwest::{Method, StatusCode, Url};

use super::http::{Failure, exchange};
use super::telemetry::Outbound;
use super::url::BaseUrl;

/// Responses larger than this are abandoned mid-stream.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// The status of a successful (2xx) answer. Its body is read up to [`MAX_RESPONSE_BYTES`] (so
/// the connection is reused) and dropped: no caller needs it.
pub type HostResponse = StatusCode;

/// A site's REST API at its base URL, reached through the shared client.
#[derive(Clone)]
pub(crate) struct SiteApi {
    http: reqwest::Client,
    base: BaseUrl,
    timeout: Duration,
    /// What its calls count as in the metrics.
    kind: Outbound,
}

impl SiteApi {
    /// `http` must not follow redirects (see [`super::http::client`]); every call is bounded
    /// by `timeout` and counted in the metrics as a call for `kind`.
    pub(crate) fn new(
        http: reqwest::Client,
        base: BaseUrl,
        timeout: Duration,
        kind: Outbound,
    ) -> Self {
        Self {
            http,
            base,
            timeout,
            kind,
        }
    }

    fn site(&self) -> String {
        self.base.to_string()
    }

    /// The absolute URL of `target` (a path below the base URL, or an absolute URL on it) and
    /// its label for errors, or a refusal when it is not on the base URL.
    pub(crate) fn resolve(
        &self,
        method: &Method,
        target: &str,
    ) -> Result<(Url, String), HostError> {
        match self.base.resolve(target) {
            Ok(url) => {
                let endpoint = format!("{method} {}", url.path());
                Ok((url, endpoint))
            }
            Err(shown) => Err(HostError::ForeignUrl {
                site: self.site(),
                endpoint: format!("{method} {shown}"),
            }),
        }
    }

    /// A request to `url` (from [`SiteApi::resolve`]) asking for JSON, with `body` as JSON.
    pub(crate) fn request(
        &self,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
    ) -> reqwest::RequestBuilder {
        let request = self.bounded(self.http.request(method, url));
        match body {
            Some(body) => request.json(body),
            None => request,
        }
    }

    /// Bounds a request of this caller by the timeout, asking for JSON.
    fn bounded(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        request
            .timeout(self.timeout)
            .header(ACCEPT, "application/json")
    }

    /// Sends (one call counted as this API's kind), refuses redirects and non-2xx answers,
    /// and reads the body up to the cap.
    pub(crate) async fn send(
        &self,
        request: reqwest::RequestBuilder,
        endpoint: String,
    ) -> Result<HostResponse, HostError> {
        let answer = exchange(self.kind, request, MAX_RESPONSE_BYTES, self.timeout).await;
        let site = self.site();
        match answer {
            Ok((status, _)) => Ok(status),
            Err(Failure::Status(status)) if status.is_redirection() => Err(HostError::Redirect {
                site,
                endpoint,
                status: status.as_u16(),
            }),
            Err(Failure::Status(status)) => Err(HostError::Status {
                site,
                endpoint,
                status: status.as_u16(),
            }),
            Err(Failure::TimedOut) => Err(HostError::Timeout { site, endpoint }),
            Err(Failure::TooLarge) => Err(HostError::TooLarge { site, endpoint }),
            Err(Failure::Transport(err)) => {
                // The URL (and its query) stays out of the message.
                let err = err.without_url();
                let reason = match std::error::Error::source(&err) {
                    Some(source) => format!("{err}: {source}"),
                    None => err.to_string(),
                };
                Err(HostError::Transport {
                    site,
                    endpoint,
                    reason,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests;
