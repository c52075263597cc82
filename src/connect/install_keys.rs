//! The public keys that sign install tokens, fetched by `kid` from the key server and cached:
//! one fetch in flight per `kid`, shared by everyone waiting for it; a missing key is
//! remembered, a failed fetch briefly; and every fetch passes one [`Gate`] (a few in flight,
//! a small rate), so a flood of made-up `kid`s — which anyone can send, unsigned — costs
//! Atlassian's key server almost nothing, and cannot get us blocked there. A key already
//! known is answered from memory without waiting, also past [`KEY_TTL`]: it is then refetched
//! in the background (one fetch, through the gate) and served as it is until it is
//! [`KEY_MAX_AGE`] old, unless the key server answers that it no longer publishes it. Only a
//! `kid` never seen waits for the key server (bounded by the gate and the client's timeout).

use std::time::Duration;

use jsonwebtoken::DecodingKey;

use super::jwt::{TokenError, valid_kid};
use crate::util::flight::{FlightCache, Loaded};
use crate::util::gate::{Gate, GateLimits};
use crate::util::http::{GetError, get_capped};
use crate::util::telemetry::{Cache, Outbound};
use crate::util::url::BaseUrl;

/// How long a fetched key is used before it is refetched (in the background).
const KEY_TTL: Duration = Duration::from_secs(60 * 60);
/// While refetches fail (the key server down or slow), a known key is served until it is this
/// old; then it is dropped and the next install with it waits for the key server. An install
/// key is public and long-lived; what this bounds is how long a key Atlassian withdrew while
/// we could not reach it stays usable.
const KEY_MAX_AGE: Duration = Duration::from_secs(6 * 60 * 60);
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
    key_ttl: Duration,
}

impl InstallKeys {
    /// A key store reading from `base_url` (`CONNECT_KEYS_URL`) with a shared HTTP client.
    pub(crate) fn new(base_url: &BaseUrl, http: reqwest::Client) -> Self {
        Self {
            base_url: base_url.as_str().to_string(),
            http,
            cache: FlightCache::new(Cache::InstallKeys, MAX_CACHED_KEYS)
                .serving_stale(KEY_MAX_AGE, not_published),
            gate: std::sync::Arc::new(Gate::new(FETCH_LIMITS)),
            key_ttl: KEY_TTL,
        }
    }

    #[cfg(test)]
    /// The same, with keys refetched after `ttl` (tests of what happens past it).
    fn with_key_ttl(mut self, ttl: Duration) -> Self {
        self.key_ttl = ttl;
        self
    }

    /// The key named `kid`, from the cache or the key server.
    pub(crate) async fn get(&self, kid: &str) -> Result<DecodingKey, TokenError> {
        if !valid_kid(kid) {
            return Err(TokenError::BadKeyId);
        }
        let url = format!("{}/{kid}", self.base_url);
        let http = self.http.clone();
        let gate = self.gate.clone();
        let key_ttl = self.key_ttl;
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
                    keep_for: key_ttl,
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

/// Whether a failed refetch drops the known key: only when the server says it is gone.
fn not_published(err: &TokenError) -> bool {
    matches!(err, TokenError::KeyNotPublished(_))
}

/// The fetch itself; a failure says whether the server answered that it has no such key.
async fn fetch_key(http: &reqwest::Client, url: &str) -> Result<DecodingKey, (TokenError, bool)> {
    let unavailable = |what: String| TokenError::KeyUnavailable(format!("{url}: {what}"));
    let pem = get_capped(Outbound::InstallKey, http, url, MAX_KEY_BYTES)
        .await
        .map_err(|e| {
            if matches!(&e, GetError::Status(s) if matches!(s.as_u16(), 404 | 410)) {
                (TokenError::KeyNotPublished(format!("{url}: {e}")), true)
            } else {
                (unavailable(e.to_string()), false)
            }
        })?;
    DecodingKey::from_rsa_pem(&pem)
        .map_err(|e| (unavailable(format!("not an RSA public key: {e}")), false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;
    use testkit::keys::{INSTALL_KID, KeyServer, install_keys};

    /// Keys from `server`, refetched after a millisecond, and one already known past that time.
    async fn known_past_its_time(server: &KeyServer) -> InstallKeys {
        let base = BaseUrl::parse(&server.url, false).unwrap();
        let keys = InstallKeys::new(&base, crate::util::http::client().unwrap())
            .with_key_ttl(Duration::from_millis(1));
        assert!(keys.get(INSTALL_KID).await.is_ok());
        actix_web::rt::time::sleep(Duration::from_millis(5)).await;
        keys
    }

    /// Whether `key` verifies a token signed with the install key.
    fn verifies(key: &DecodingKey) -> bool {
        let claims = serde_json::json!({"iss": "site", "exp": testkit::now() + 60});
        let token =
            testkit::tokens::sign_rs256(&claims, &install_keys().private_pem, Some(INSTALL_KID))
                .unwrap();
        let mut rules = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        rules.validate_aud = false;
        jsonwebtoken::decode::<serde_json::Value>(&token, key, &rules).is_ok()
    }

    async fn asked_twice(server: &KeyServer) {
        while server.hits_for(INSTALL_KID) < 2 {
            actix_web::rt::time::sleep(Duration::from_millis(2)).await;
        }
    }

    #[actix_web::test]
    async fn a_known_key_past_its_time_is_answered_at_once_while_the_key_server_is_slow() {
        let server = KeyServer::start();
        let keys = known_past_its_time(&server).await;
        *server.delay.lock().unwrap() = Duration::from_secs(2);
        for _ in 0..10 {
            // Ready on its first poll: nothing was waited for.
            let key = keys.get(INSTALL_KID).now_or_never();
            assert!(matches!(&key, Some(Ok(k)) if verifies(k)));
        }
        asked_twice(&server).await;
        assert_eq!(
            server.hits_for(INSTALL_KID),
            2,
            "one refetch, in the background"
        );
    }

    /// Waits until the background refetch settled.
    async fn settled(keys: &InstallKeys) {
        let kid = INSTALL_KID.to_string();
        while matches!(keys.cache.peek(&kid), crate::util::flight::Peek::Loading) {
            actix_web::rt::time::sleep(Duration::from_millis(2)).await;
        }
    }

    #[actix_web::test]
    async fn a_known_key_outlives_a_failed_refetch() {
        let server = KeyServer::start();
        let keys = known_past_its_time(&server).await;
        // The key server answers garbage (an error page behind a proxy, say).
        server.publish(INSTALL_KID, "not a key");
        assert!(
            keys.get(INSTALL_KID)
                .now_or_never()
                .is_some_and(|k| k.is_ok())
        );
        asked_twice(&server).await;
        settled(&keys).await;
        let key = keys.get(INSTALL_KID).now_or_never();
        assert!(
            matches!(&key, Some(Ok(k)) if verifies(k)),
            "kept after the failure"
        );
        assert_eq!(
            server.hits_for(INSTALL_KID),
            2,
            "not refetched at once again"
        );
    }

    #[actix_web::test]
    async fn a_known_key_the_key_server_no_longer_publishes_is_dropped() {
        let server = KeyServer::start();
        let keys = known_past_its_time(&server).await;
        server.keys.lock().unwrap().remove(INSTALL_KID);
        assert!(
            keys.get(INSTALL_KID).await.is_ok(),
            "served while refetched"
        );
        asked_twice(&server).await;
        settled(&keys).await;
        assert!(matches!(
            keys.get(INSTALL_KID).await,
            Err(TokenError::KeyNotPublished(_))
        ));
        assert_eq!(server.hits_for(INSTALL_KID), 2, "the answer is remembered");
    }
}
