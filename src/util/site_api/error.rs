//! Why a call to a site failed: each error names the site (its base URL) and the endpoint
//! (method and path, never the query) and never carries a token.

use super::MAX_RESPONSE_BYTES;

/// Why a call to a site failed. `site` is its base URL, `endpoint` the method and path.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HostError {
    #[error("{site}: {endpoint} is not on the site's base URL; refused without sending")]
    ForeignUrl { site: String, endpoint: String },
    #[error("{site}: {endpoint} timed out")]
    Timeout { site: String, endpoint: String },
    #[error("{site}: {endpoint} failed: {reason}")]
    Transport {
        site: String,
        endpoint: String,
        reason: String,
    },
    #[error("{site}: {endpoint} redirected ({status}); redirects are not followed")]
    Redirect {
        site: String,
        endpoint: String,
        status: u16,
    },
    #[error("{site}: {endpoint} answered {status}")]
    Status {
        site: String,
        endpoint: String,
        status: u16,
    },
    #[error("{site}: {endpoint} answered more than {MAX_RESPONSE_BYTES} bytes")]
    TooLarge { site: String, endpoint: String },
}

impl HostError {
    /// The HTTP status the site answered, when that is what failed.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}
