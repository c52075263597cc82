//! The public keys that sign install tokens, fetched by `kid` from the key server and cached.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;

use super::jwt::{TokenError, valid_kid};
use crate::util::body::{BodyError, read_capped};
use crate::util::url::BaseUrl;

/// How long a fetched key is trusted before it is fetched again.
pub const KEY_TTL: Duration = Duration::from_secs(60 * 60);
/// At most this many keys are cached; the oldest goes first.
pub const MAX_CACHED_KEYS: usize = 64;
/// A PEM public key is well under this; anything larger is not a key.
pub const MAX_KEY_BYTES: usize = 16 * 1024;

/// Fetches and caches install-token public keys.
pub struct InstallKeys {
    base_url: String,
    http: reqwest::Client,
    cache: Mutex<HashMap<String, (DecodingKey, Instant)>>,
}

impl InstallKeys {
    /// A key store reading from `base_url` (`CONNECT_KEYS_URL`) with a shared HTTP client.
    pub fn new(base_url: &BaseUrl, http: reqwest::Client) -> Self {
        Self {
            base_url: base_url.as_str().to_string(),
            http,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The key named `kid`, from the cache or the key server.
    pub async fn get(&self, kid: &str) -> Result<DecodingKey, TokenError> {
        if !valid_kid(kid) {
            return Err(TokenError::BadKeyId);
        }
        if let Some(key) = self.cached(kid) {
            return Ok(key);
        }
        let pem = self.fetch(kid).await?;
        let key = DecodingKey::from_rsa_pem(&pem)
            .map_err(|e| TokenError::KeyUnavailable(format!("not an RSA public key: {e}")))?;
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= MAX_CACHED_KEYS {
            let oldest = cache
                .iter()
                .min_by_key(|(_, (_, at))| *at)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                cache.remove(&oldest);
            }
        }
        cache.insert(kid.to_string(), (key.clone(), Instant::now()));
        Ok(key)
    }

    fn cached(&self, kid: &str) -> Option<DecodingKey> {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .get(kid)
            .filter(|(_, at)| at.elapsed() < KEY_TTL)
            .map(|(key, _)| key.clone())
    }

    async fn fetch(&self, kid: &str) -> Result<Vec<u8>, TokenError> {
        let url = format!("{}/{kid}", self.base_url);
        let unavailable = |what: String| TokenError::KeyUnavailable(format!("{url}: {what}"));
        let response = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| unavailable(e.without_url().to_string()))?;
        if !response.status().is_success() {
            return Err(unavailable(format!("status {}", response.status())));
        }
        let declared = response.content_length();
        read_capped(response.bytes_stream(), declared, MAX_KEY_BYTES)
            .await
            .map(|body| body.to_vec())
            .map_err(|e| match e {
                BodyError::TooLarge(_) => unavailable("response too large".into()),
                BodyError::Read(e) => unavailable(e.without_url().to_string()),
            })
    }
}
