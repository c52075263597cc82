//! The public keys that sign install tokens, fetched by `kid` from the key server and cached:
//! one fetch in flight per `kid`, shared by everyone waiting for it.

use std::time::Duration;

use jsonwebtoken::DecodingKey;

use super::jwt::{TokenError, valid_kid};
use crate::util::body::{BodyError, read_capped};
use crate::util::flight::{FlightCache, Loaded};
use crate::util::http::OUTBOUND_TIMEOUT;
use crate::util::url::BaseUrl;

/// How long a fetched key is trusted before it is fetched again.
pub const KEY_TTL: Duration = Duration::from_secs(60 * 60);
/// About this many keys are cached at most.
pub const MAX_CACHED_KEYS: usize = 64;
/// A PEM public key is well under this; anything larger is not a key.
pub const MAX_KEY_BYTES: usize = 16 * 1024;

/// Fetches and caches install-token public keys.
pub struct InstallKeys {
    base_url: String,
    http: reqwest::Client,
    cache: FlightCache<String, DecodingKey, TokenError>,
}

impl InstallKeys {
    /// A key store reading from `base_url` (`CONNECT_KEYS_URL`) with a shared HTTP client.
    pub fn new(base_url: &BaseUrl, http: reqwest::Client) -> Self {
        Self {
            base_url: base_url.as_str().to_string(),
            http,
            cache: FlightCache::new(MAX_CACHED_KEYS),
        }
    }

    /// The key named `kid`, from the cache or the key server.
    pub async fn get(&self, kid: &str) -> Result<DecodingKey, TokenError> {
        if !valid_kid(kid) {
            return Err(TokenError::BadKeyId);
        }
        let url = format!("{}/{kid}", self.base_url);
        let http = self.http.clone();
        let load = move || async move {
            match fetch(&http, &url).await {
                Ok(key) => Loaded {
                    result: Ok(key),
                    keep_for: KEY_TTL,
                },
                Err(err) => Loaded {
                    result: Err(err),
                    keep_for: Duration::ZERO,
                },
            }
        };
        let lost = TokenError::KeyUnavailable("the key fetch was abandoned".into());
        self.cache.get(&kid.to_string(), load, lost).await
    }
}

/// Fetches one PEM key: 2xx only, at most [`MAX_KEY_BYTES`], parsed as an RSA public key.
async fn fetch(http: &reqwest::Client, url: &str) -> Result<DecodingKey, TokenError> {
    let unavailable = |what: String| TokenError::KeyUnavailable(format!("{url}: {what}"));
    let response = http
        .get(url)
        .send()
        .await
        .map_err(|e| unavailable(e.without_url().to_string()))?;
    if !response.status().is_success() {
        return Err(unavailable(format!("status {}", response.status())));
    }
    let declared = response.content_length();
    let pem = read_capped(
        response.bytes_stream(),
        declared,
        MAX_KEY_BYTES,
        OUTBOUND_TIMEOUT,
    )
    .await
    .map_err(|e| match e {
        BodyError::TooLarge(_) => unavailable("response too large".into()),
        BodyError::TimedOut(_) => unavailable("response too slow".into()),
        BodyError::Read(e) => unavailable(e.without_url().to_string()),
    })?;
    DecodingKey::from_rsa_pem(&pem)
        .map_err(|e| TokenError::KeyUnavailable(format!("not an RSA public key: {e}")))
}
