//! The public keys that sign install tokens, fetched by `kid` from the key server and cached:
//! one fetch in flight per `kid`, shared by everyone waiting for it; a missing key is
//! remembered, a failed fetch briefly; and every fetch passes one [`Gate`] (a few in flight,
//! a small rate), so a flood of made-up `kid`s — which anyone can send, unsigned — costs
//! Atlassian's key server almost nothing, and cannot get us blocked there.

use std::time::Duration;

use jsonwebtoken::DecodingKey;

use super::jwt::{TokenError, valid_kid};
use crate::util::flight::{FlightCache, Loaded};
use crate::util::gate::{Gate, GateLimits};
use crate::util::http::{GetError, get_capped};
use crate::util::url::BaseUrl;

/// How long a fetched key is trusted before it is fetched again.
const KEY_TTL: Duration = Duration::from_secs(60 * 60);
/// How long a key the server does not have (404, 410) is remembered as missing: Atlassian
/// publishes a key before it signs with it, so a missing one stays missing.
const MISSING_KEY_TTL: Duration = Duration::from_secs(10 * 60);
/// How long any other failure (timeout, 5xx, not a key) is remembered: short, since it may
/// be the key server's passing trouble.
const FAILED_FETCH_TTL: Duration = Duration::from_secs(30);
/// About this many keys (and remembered failures) are cached at most; failures go first.
const MAX_CACHED_KEYS: usize = 1024;
/// The key server sees at most this: 4 fetches in flight, 10 back to back, then one every
/// 2 s. Real installs need one fetch per key per hour.
const FETCH_LIMITS: GateLimits = GateLimits {
    in_flight: 4,
    burst: 10,
    refill_every: Duration::from_secs(2),
};
/// A PEM public key is well under this; anything larger is not a key.
const MAX_KEY_BYTES: usize = 16 * 1024;

/// Fetches and caches install-token public keys.
pub(crate) struct InstallKeys {
    base_url: String,
    http: reqwest::Client,
    cache: FlightCache<String, DecodingKey, TokenError>,
    gate: std::sync::Arc<Gate>,
}

impl InstallKeys {
    /// A key store reading from `base_url` (`CONNECT_KEYS_URL`) with a shared HTTP client.
    pub(crate) fn new(base_url: &BaseUrl, http: reqwest::Client) -> Self {
        Self {
            base_url: base_url.as_str().to_string(),
            http,
            cache: FlightCache::new(MAX_CACHED_KEYS),
            gate: std::sync::Arc::new(Gate::new(FETCH_LIMITS)),
        }
    }

    /// The key named `kid`, from the cache or the key server.
    pub(crate) async fn get(&self, kid: &str) -> Result<DecodingKey, TokenError> {
        if !valid_kid(kid) {
            return Err(TokenError::BadKeyId);
        }
        let url = format!("{}/{kid}", self.base_url);
        let http = self.http.clone();
        let gate = self.gate.clone();
        let load = move || async move {
            let Some(_pass) = gate.try_enter() else {
                // Not asked, so nothing learnt about this kid: not remembered.
                return Loaded {
                    result: Err(TokenError::KeyUnavailable(
                        "key fetches are throttled".into(),
                    )),
                    keep_for: Duration::ZERO,
                };
            };
            match fetch(&http, &url).await {
                Ok(key) => Loaded {
                    result: Ok(key),
                    keep_for: KEY_TTL,
                },
                Err((err, keep_for)) => Loaded {
                    result: Err(err),
                    keep_for,
                },
            }
        };
        let lost = TokenError::KeyUnavailable("the key fetch was abandoned".into());
        self.cache.get(&kid.to_string(), load, lost).await
    }
}

/// Fetches one PEM key: 2xx only, at most [`MAX_KEY_BYTES`], parsed as an RSA public key.
/// A failure comes with how long to remember it.
async fn fetch(http: &reqwest::Client, url: &str) -> Result<DecodingKey, (TokenError, Duration)> {
    fetch_key(http, url).await.map_err(|(err, missing)| {
        let keep_for = if missing {
            MISSING_KEY_TTL
        } else {
            FAILED_FETCH_TTL
        };
        (err, keep_for)
    })
}

/// The fetch itself; a failure says whether the server answered that it has no such key.
async fn fetch_key(http: &reqwest::Client, url: &str) -> Result<DecodingKey, (TokenError, bool)> {
    let unavailable = |what: String| TokenError::KeyUnavailable(format!("{url}: {what}"));
    let pem = get_capped(http, url, MAX_KEY_BYTES).await.map_err(|e| {
        let missing = matches!(&e, GetError::Status(s) if matches!(s.as_u16(), 404 | 410));
        (unavailable(e.to_string()), missing)
    })?;
    DecodingKey::from_rsa_pem(&pem)
        .map_err(|e| (unavailable(format!("not an RSA public key: {e}")), false))
}
