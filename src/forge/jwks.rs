//! Atlassian's Forge signing keys (a JWKS), fetched and cached: one fetch in flight per key
//! set URL, shared by everyone waiting. A `kid` the known set has is answered from memory
//! without waiting, also past [`KEYS_TTL`]: the set is then refetched in the background (one
//! fetch) and served as it is until it is [`MAX_STALE`] old. A token naming an unknown `kid`
//! (a rotation) waits for a refetch — at most one per [`REFETCH_COOLDOWN`], shared by
//! concurrent requests — while requests whose `kid` the set has go on being answered from it.
//! Every fetch also passes a [`Gate`] of its own ([`FETCH_LIMITS`]), the mechanism in front of
//! Connect's install keys: whatever mix of key set URLs, unknown `kid`s and failures arrives,
//! Atlassian's key server sees a few requests at most, never a flood.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, KeyAlgorithm, PublicKeyUse};

use super::fit::FitError;
use crate::util::flight::{FlightCache, Loaded, Peek};
use crate::util::gate::{Gate, GateLimits};
use crate::util::http::get_capped;
use crate::util::telemetry::{Cache, Outbound};
use crate::util::url::BaseUrl;

/// Atlassian's production key set.
const PRODUCTION_JWKS: &str = "https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json";
/// Atlassian's staging key set, for tokens of apps on the staging platform.
pub(crate) const STAGING_JWKS: &str =
    "https://forge.cdn.stg.atlassian-dev.net/.well-known/jwks.json";
/// Tokens whose `app.apiBaseUrl` starts with this come from the staging platform.
const STAGING_API_PREFIX: &str = "https://api.stg.atlassian.com/";
/// How long a fetched set is used before it is refetched (in the background).
const KEYS_TTL: Duration = Duration::from_secs(10 * 60);
/// An unknown `kid` refetches the set at most this often.
const REFETCH_COOLDOWN: Duration = Duration::from_secs(30);
/// A failed fetch is not retried for this long (a down key server is not hammered).
const FAILURE_TTL: Duration = Duration::from_secs(5);
/// While refetches fail, the last good set is used until it is this old; then it is dropped
/// and tokens wait for the key server again. Forge rotates its keys with overlap, so a set an
/// hour old still holds the keys in use.
const MAX_STALE: Duration = Duration::from_secs(60 * 60);
/// A key set is a few KiB; anything larger is not one (the cap of a Connect install key).
const MAX_JWKS_BYTES: usize = 16 * 1024;
/// Keys read from one set at most.
const MAX_KEYS: usize = 64;
/// Every key set fetch passes this gate: 2 in flight (one per set URL), 4 back to back, then
/// one every 5 s. Normal work needs one fetch per set per 10 minutes, plus one per rotation.
/// A gate of its own, not Connect's: made-up Connect `kid`s (which anyone can send) must not
/// use up the fetches Forge needs to follow a key rotation, and the two are different servers.
const FETCH_LIMITS: GateLimits = GateLimits {
    in_flight: 2,
    burst: 4,
    refill_every: Duration::from_secs(5),
};

/// The key set URL for a token: `FORGE_JWKS_URL` when set; else, in production, Atlassian's
/// production set (a production server trusts the staging set only when `FORGE_JWKS_URL`
/// names it); else staging or production by the token's `app.apiBaseUrl`.
pub(crate) fn jwks_url(
    configured: Option<&BaseUrl>,
    production: bool,
    api_base_url: Option<&str>,
) -> String {
    match configured {
        Some(url) => url.to_string(),
        None if !production && api_base_url.is_some_and(|u| u.starts_with(STAGING_API_PREFIX)) => {
            STAGING_JWKS.to_string()
        }
        None => PRODUCTION_JWKS.to_string(),
    }
}

/// One fetched set: its RSA signing keys by `kid`.
struct KeySet {
    keys: HashMap<String, DecodingKey>,
}

/// One fetch of a set, as the cache runs it.
type SetFetch = std::pin::Pin<Box<dyn Future<Output = Loaded<Arc<KeySet>, FitError>>>>;

/// The key sets, by URL (at most three: the configured one, production's, staging's).
pub(crate) struct ForgeKeys {
    http: reqwest::Client,
    cache: FlightCache<String, Arc<KeySet>, FitError>,
    /// When each URL was last refetched for an unknown `kid`.
    refetched: Mutex<HashMap<String, Instant>>,
    gate: Arc<Gate>,
    ttl: Duration,
}

impl ForgeKeys {
    /// Key sets fetched with the shared client (timeouts, no redirects).
    pub(crate) fn new(http: reqwest::Client) -> Self {
        Self {
            http,
            cache: FlightCache::new(Cache::ForgeKeys, 8).serving_stale(MAX_STALE, |_| false),
            refetched: Mutex::default(),
            gate: Arc::new(Gate::new(FETCH_LIMITS)),
            ttl: KEYS_TTL,
        }
    }

    #[cfg(test)]
    /// The same, with sets refetched after `ttl` (tests of what happens past it).
    fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// The key `kid` of the set at `url`: from the known set at once (refreshed in the
    /// background when past its time), or fetched; an unknown `kid` waits for a refetch of
    /// the set — the one under way, or a new one once per cooldown.
    pub(crate) async fn key(&self, url: &str, kid: &str) -> Result<DecodingKey, FitError> {
        let target = url.to_string();
        let set = self.cache.get(&target, self.load(url), lost()).await?;
        if let Some(key) = set.keys.get(kid) {
            return Ok(key.clone());
        }
        let under_way = matches!(self.cache.peek(&target), Peek::Loading);
        if !(under_way || self.may_refetch(url)) {
            return Err(FitError::UnknownKeyId);
        }
        log::debug!("unknown kid: waiting for a refetch of the Forge key set");
        let set = self.cache.reload(&target, self.load(url), lost()).await?;
        set.keys.get(kid).cloned().ok_or(FitError::UnknownKeyId)
    }

    /// Whether a refetch may start now (and records that one did).
    fn may_refetch(&self, url: &str) -> bool {
        let mut refetched = self.refetched.lock().unwrap_or_else(|e| e.into_inner());
        if refetched
            .get(url)
            .is_some_and(|at| at.elapsed() < REFETCH_COOLDOWN)
        {
            return false;
        }
        refetched.insert(url.to_string(), Instant::now());
        true
    }

    /// One fetch of the set at `url`, through the gate, kept [`KEYS_TTL`] (a failure
    /// [`FAILURE_TTL`]).
    fn load(&self, url: &str) -> impl FnOnce() -> SetFetch {
        let (http, gate, ttl) = (self.http.clone(), self.gate.clone(), self.ttl);
        let target = url.to_string();
        move || {
            Box::pin(async move {
                let Some(_pass) = gate.try_enter() else {
                    // Nothing was asked, so nothing learnt: not remembered.
                    return Loaded {
                        result: Err(FitError::KeysThrottled),
                        keep_for: Duration::ZERO,
                    };
                };
                match fetch(&http, &target).await {
                    Ok(keys) => Loaded {
                        result: Ok(Arc::new(KeySet { keys })),
                        keep_for: ttl,
                    },
                    Err(err) => {
                        log::warn!("Forge key set unavailable: {err}");
                        Loaded {
                            result: Err(err),
                            keep_for: FAILURE_TTL,
                        }
                    }
                }
            })
        }
    }
}

/// What waiters get if a fetch task dies without answering.
fn lost() -> FitError {
    FitError::KeysUnavailable("the key set fetch was abandoned".into())
}

/// Fetches and parses one set: 2xx only, at most [`MAX_JWKS_BYTES`].
async fn fetch(
    http: &reqwest::Client,
    url: &str,
) -> Result<HashMap<String, DecodingKey>, FitError> {
    let unavailable = |what: String| FitError::KeysUnavailable(format!("{url}: {what}"));
    let body = get_capped(Outbound::ForgeKeys, http, url, MAX_JWKS_BYTES)
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    let keys = parse_set(&body).map_err(unavailable)?;
    if keys.is_empty() {
        return Err(unavailable("no usable RS256 key".into()));
    }
    Ok(keys)
}

#[derive(serde::Deserialize)]
struct RawSet {
    keys: Vec<serde_json::Value>,
}

/// The RSA signing keys of a JWKS by `kid`. Keys of other types or uses, or that do not parse,
/// are skipped (one odd key does not take the set down); `n`/`e` are decoded leniently.
pub(crate) fn parse_set(body: &[u8]) -> Result<HashMap<String, DecodingKey>, String> {
    let raw: RawSet = serde_json::from_slice(body).map_err(|e| format!("not a JWKS: {e}"))?;
    let mut keys = HashMap::new();
    for value in raw.keys.into_iter().take(MAX_KEYS) {
        let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
            continue;
        };
        if let Some((kid, key)) = signing_key(&jwk) {
            keys.insert(kid, key);
        }
    }
    Ok(keys)
}

/// A JWK usable for RS256 signatures, with its `kid`.
fn signing_key(jwk: &Jwk) -> Option<(String, DecodingKey)> {
    let common = &jwk.common;
    let kid = common.key_id.clone().filter(|k| !k.is_empty())?;
    let signing = matches!(common.public_key_use, None | Some(PublicKeyUse::Signature));
    let rs256 = matches!(common.key_algorithm, None | Some(KeyAlgorithm::RS256));
    let AlgorithmParameters::RSA(rsa) = &jwk.algorithm else {
        return None;
    };
    if !(signing && rs256) {
        return None;
    }
    let (n, e) = (lenient_base64url(&rsa.n)?, lenient_base64url(&rsa.e)?);
    Some((kid, DecodingKey::from_rsa_raw_components(&n, &e)))
}

/// base64url without padding, as JWKs should be — and also with `=` padding, surrounding
/// whitespace or the standard alphabet, as some key sets have them.
fn lenient_base64url(text: &str) -> Option<Vec<u8>> {
    let normal: String = text
        .trim()
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    URL_SAFE_NO_PAD
        .decode(normal)
        .ok()
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key server on loopback that answers every request 503 and counts them.
    fn failing_key_server() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = hits.clone();
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let _ = stream.read(&mut [0u8; 4096]);
                let _ = stream.write_all(
                    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        });
        (address, hits)
    }

    #[actix_web::test]
    async fn every_fetch_passes_the_gate_whatever_the_key_set_url() {
        let (server, hits) = failing_key_server();
        let keys = ForgeKeys::new(crate::util::http::client().unwrap());
        let started = Instant::now();
        for n in 0..20 {
            let url = format!("{server}/set-{n}/jwks.json");
            assert!(keys.key(&url, "kid").await.is_err());
        }
        let refills = started.elapsed().as_secs_f64() / FETCH_LIMITS.refill_every.as_secs_f64();
        let allowed = FETCH_LIMITS.burst as usize + refills as usize;
        let fetched = hits.load(std::sync::atomic::Ordering::SeqCst);
        assert!(fetched >= 1, "the first fetch went out");
        assert!(fetched <= allowed, "{fetched} fetches (allowed {allowed})");
    }

    /// Keys from `server`'s set, refetched after a millisecond, the set known and past that.
    async fn known_past_its_time(server: &testkit::forge::JwksServer) -> ForgeKeys {
        let keys =
            ForgeKeys::new(crate::util::http::client().unwrap()).with_ttl(Duration::from_millis(1));
        assert!(
            keys.key(&server.url(), testkit::forge::FORGE_KID)
                .await
                .is_ok()
        );
        assert_eq!(server.hits(), 1);
        actix_web::rt::time::sleep(Duration::from_millis(5)).await;
        keys
    }

    /// Whether `key` verifies a token signed with the Forge test key.
    fn verifies(key: &DecodingKey) -> bool {
        use testkit::forge::{FORGE_KID, forge_key};
        let claims = serde_json::json!({"iss": "forge", "exp": testkit::now() + 60});
        let token = testkit::tokens::sign_rs256(&claims, &forge_key().private_pem, Some(FORGE_KID))
            .unwrap();
        let mut rules = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        rules.validate_aud = false;
        jsonwebtoken::decode::<serde_json::Value>(&token, key, &rules).is_ok()
    }

    async fn asked_twice(server: &testkit::forge::JwksServer) {
        while server.hits() < 2 {
            actix_web::rt::time::sleep(Duration::from_millis(2)).await;
        }
    }

    #[actix_web::test]
    async fn a_known_kid_past_the_sets_time_is_answered_at_once_while_the_server_is_slow() {
        use futures_util::FutureExt;
        let server = testkit::forge::JwksServer::start();
        let keys = known_past_its_time(&server).await;
        server.hold(true);
        for _ in 0..10 {
            // Ready on its first poll: nothing was waited for.
            let key = keys
                .key(&server.url(), testkit::forge::FORGE_KID)
                .now_or_never();
            assert!(matches!(&key, Some(Ok(k)) if verifies(k)));
        }
        asked_twice(&server).await;
        assert_eq!(server.hits(), 2, "one refetch, in the background");
        server.hold(false);
    }

    #[actix_web::test]
    async fn a_known_kid_past_the_sets_time_verifies_while_the_server_is_down() {
        use futures_util::FutureExt;
        let server = testkit::forge::JwksServer::start();
        let keys = known_past_its_time(&server).await;
        server.set_down(true);
        let url = server.url();
        let first = keys.key(&url, testkit::forge::FORGE_KID).now_or_never();
        assert!(matches!(&first, Some(Ok(k)) if verifies(k)));
        asked_twice(&server).await;
        while matches!(keys.cache.peek(&url), Peek::Loading) {
            actix_web::rt::time::sleep(Duration::from_millis(2)).await;
        }
        for _ in 0..10 {
            let key = keys.key(&url, testkit::forge::FORGE_KID).now_or_never();
            assert!(
                matches!(&key, Some(Ok(k)) if verifies(k)),
                "kept after the failure"
            );
        }
        assert_eq!(
            server.hits(),
            2,
            "the failure is remembered: no refetch storm"
        );
    }

    #[test]
    fn staging_tokens_use_the_staging_set_unless_a_set_is_configured() {
        let stg = Some("https://api.stg.atlassian.com/ex/confluence/abc");
        let prod = Some("https://api.atlassian.com/ex/confluence/abc");
        assert_eq!(jwks_url(None, false, stg), STAGING_JWKS);
        assert_eq!(jwks_url(None, false, prod), PRODUCTION_JWKS);
        assert_eq!(jwks_url(None, false, None), PRODUCTION_JWKS);
        let mine = BaseUrl::parse("https://keys.example/jwks.json", true).unwrap();
        assert_eq!(
            jwks_url(Some(&mine), false, stg),
            "https://keys.example/jwks.json"
        );
    }

    #[test]
    fn in_production_the_staging_set_is_used_only_when_configured() {
        let stg = Some("https://api.stg.atlassian.com/ex/confluence/abc");
        assert_eq!(jwks_url(None, true, stg), PRODUCTION_JWKS);
        let staging = BaseUrl::parse(STAGING_JWKS, true).unwrap();
        assert_eq!(jwks_url(Some(&staging), true, stg), STAGING_JWKS);
    }

    #[test]
    fn base64url_is_decoded_with_or_without_padding_and_in_either_alphabet() {
        assert_eq!(lenient_base64url("AQAB"), Some(vec![1, 0, 1]));
        assert_eq!(lenient_base64url("AQ=="), Some(vec![1]));
        assert_eq!(lenient_base64url(" _-8 "), Some(vec![0xff, 0xef]));
        assert_eq!(lenient_base64url("/+8="), Some(vec![0xff, 0xef]));
        assert_eq!(lenient_base64url("***"), None);
        assert_eq!(lenient_base64url("="), None);
    }

    #[test]
    fn only_rsa_signing_keys_with_a_kid_are_kept_and_odd_keys_are_skipped() {
        let body = serde_json::json!({"keys": [
            {"kty": "RSA", "kid": "good", "n": "AQAB", "e": "AQAB", "alg": "RS256", "use": "sig"},
            {"kty": "RSA", "kid": "padded", "n": "AQ==", "e": "AQAB"},
            {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "kid": "enc", "n": "AQAB", "e": "AQAB", "use": "enc"},
            {"kty": "RSA", "kid": "hs", "n": "AQAB", "e": "AQAB", "alg": "HS256"},
            {"kty": "oct", "kid": "secret", "k": "AQAB"},
            {"kty": "weird", "kid": "w"},
            "not even an object"
        ]});
        let keys = parse_set(body.to_string().as_bytes()).unwrap();
        let mut kids: Vec<&str> = keys.keys().map(String::as_str).collect();
        kids.sort();
        assert_eq!(kids, ["good", "padded"]);
        assert!(parse_set(b"[]").is_err());
    }
}
