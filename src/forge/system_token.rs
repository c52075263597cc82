//! The app system token Forge sends in `x-forge-oauth-system` (events and UI calls), kept in
//! memory only — per site, until shortly before it expires, never on disk, never in a log —
//! and [`ForgeClient`], which calls the site's Jira API as the app with it
//! (`{apiBaseUrl}/rest/api/3/…`, `Authorization: Bearer`), under the shared outbound rules
//! ([`SiteApi`]: origin lock, timeouts, size cap, no redirects).
//!
//! The one call the server makes as the app is the background write of a Jira issue's progress
//! (`todo::progress`), so only the token of a Jira call (its API base URL names Jira:
//! `/ex/jira/<cloudId>`) is kept. A Confluence call's token is not: nothing would use it, and a
//! secret not held cannot leak (display names and published pages are the page's, asked of the
//! host as the viewing user).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Method;
use reqwest::header::AUTHORIZATION;
use serde::Deserialize;

use super::jira::Product;
use crate::site::SiteId;
use crate::util::http::OUTBOUND_TIMEOUT;
use crate::util::secret::Secret;
use crate::util::site_api::{HostError, HostResponse, SiteApi};
use crate::util::telemetry::Outbound;
use crate::util::time::unix_now;
use crate::util::url::BaseUrl;

/// The header Forge puts the app system token in.
pub(crate) const SYSTEM_TOKEN_HEADER: &str = "x-forge-oauth-system";
/// A system token longer than this is ignored.
const MAX_SYSTEM_TOKEN_LEN: usize = 8 * 1024;
/// How long a token is kept when its expiry cannot be read.
const UNKNOWN_LIFETIME: Duration = Duration::from_secs(30 * 60);
/// The longest a token is kept (Atlassian's live 2–4 h).
const MAX_LIFETIME: Duration = Duration::from_secs(4 * 60 * 60);
/// A token is dropped this long before its `exp`.
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);
/// Tokens held at most (one per site): 10,000 active Forge sites using Jira fit twice over,
/// so none is evicted at that scale (an evicted token means no call
/// as the app for that site until its next request brings one). An entry is about 2 KiB (the
/// token itself, 1–2 KiB, and its API base URL). Past it, expired tokens go, then the one
/// that expires soonest.
const MAX_HELD: usize = 20_000;

struct Held {
    token: Secret,
    api: BaseUrl,
    until: Instant,
}

/// The newest Jira system token of each site, with the Jira API base URL it is for.
pub(crate) struct SystemTokens {
    held: Mutex<HashMap<SiteId, Held>>,
    max_held: usize,
}

impl Default for SystemTokens {
    fn default() -> Self {
        Self {
            held: Mutex::default(),
            max_held: MAX_HELD,
        }
    }
}

/// Whether `api` is a site's Jira API (`…/ex/jira/<cloudId>`).
fn is_jira(api: &BaseUrl) -> bool {
    matches!(Product::of_api_base(api.as_str()), Some((Product::Jira, _)))
}

#[derive(Deserialize)]
struct ExpOnly {
    exp: i64,
}

impl SystemTokens {
    /// Keeps `token` for `site` (replacing an older one) when it is a Jira call's, unless it
    /// is oversized or expired.
    pub(crate) fn remember(&self, site: SiteId, token: &str, api: BaseUrl) {
        if !is_jira(&api) {
            return;
        }
        let token = token.trim();
        if token.is_empty() || token.len() > MAX_SYSTEM_TOKEN_LEN {
            log::debug!("system token for site {site} ignored: empty or oversized");
            return;
        }
        let lifetime = match jsonwebtoken::dangerous::insecure_decode_claims::<ExpOnly>(token) {
            Ok(claims) => {
                let left = claims.exp - unix_now() - EXPIRY_MARGIN.as_secs() as i64;
                Duration::from_secs(left.max(0) as u64).min(MAX_LIFETIME)
            }
            Err(_) => UNKNOWN_LIFETIME,
        };
        if lifetime.is_zero() {
            log::debug!("system token for site {site} ignored: expired");
            return;
        }
        let until = Instant::now() + lifetime;
        let key = site;
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        if held.get(&key).is_some_and(|h| h.until > until) {
            return;
        }
        if held.len() >= self.max_held && !held.contains_key(&key) {
            make_room(&mut held);
        }
        let token = Secret::new(token);
        held.insert(key, Held { token, api, until });
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.held.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// The site's Jira token and API base URL, while the token lives.
    fn get(&self, site: SiteId) -> Option<(Secret, BaseUrl)> {
        let held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        held.get(&site)
            .filter(|h| Instant::now() < h.until)
            .map(|h| (h.token.clone(), h.api.clone()))
    }

    /// Forgets `token` (Jira refused it).
    fn forget(&self, site: SiteId, token: &Secret) {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        if held.get(&site).is_some_and(|h| h.token == *token) {
            held.remove(&site);
        }
    }
}

/// Drops the expired tokens; if none was, the one that expires soonest.
fn make_room(held: &mut HashMap<SiteId, Held>) {
    let now = Instant::now();
    let before = held.len();
    held.retain(|_, h| h.until > now);
    if held.len() < before {
        return;
    }
    let soonest = held.iter().min_by_key(|(_, h)| h.until).map(|(k, _)| *k);
    if let Some(key) = soonest {
        held.remove(&key);
    }
}

/// Why a Forge site could not be called.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum CallError {
    #[error("site {0}: no app system token in memory")]
    NoSystemToken(SiteId),
    #[error(transparent)]
    Host(#[from] HostError),
}

/// Makes [`ForgeClient`]s for any site, for work that outlives a request (the Todo layer's
/// background writes to Jira).
#[derive(Clone)]
pub(crate) struct ClientFactory {
    tokens: Arc<SystemTokens>,
    http: reqwest::Client,
}

impl ClientFactory {
    /// A factory sharing `tokens` and the outbound client.
    pub(crate) fn new(tokens: Arc<SystemTokens>, http: reqwest::Client) -> Self {
        Self { tokens, http }
    }

    /// A client for `site`'s Jira API.
    pub(crate) fn client(&self, site: SiteId) -> ForgeClient {
        ForgeClient {
            site,
            tokens: self.tokens.clone(),
            http: self.http.clone(),
            timeout: OUTBOUND_TIMEOUT,
        }
    }
}

/// Calls one Forge site's Jira REST API as the app, with the system token a Jira call left.
#[derive(Clone)]
pub(crate) struct ForgeClient {
    site: SiteId,
    tokens: Arc<SystemTokens>,
    http: reqwest::Client,
    timeout: Duration,
}

impl ForgeClient {
    /// Calls `target` (a path below the API base URL, e.g. `/rest/api/3/issue/10001/…`)
    /// as the app. Without a live system token nothing is sent.
    pub(crate) async fn as_app(
        &self,
        method: Method,
        target: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<HostResponse, CallError> {
        let (token, base) = self
            .tokens
            .get(self.site)
            .ok_or(CallError::NoSystemToken(self.site))?;
        let api = SiteApi::new(self.http.clone(), base, self.timeout, Outbound::Jira);
        let (url, endpoint) = api.resolve(&method, target)?;
        let request = api
            .request(method, url, body)
            .header(AUTHORIZATION, format!("Bearer {}", token.expose()));
        let result = api.send(request, endpoint).await;
        if result.as_ref().err().and_then(HostError::status) == Some(401) {
            self.tokens.forget(self.site, &token);
        }
        Ok(result?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn jwt_with_exp(exp: i64) -> String {
        let enc = |v: serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        format!(
            "{}.{}.sig",
            enc(serde_json::json!({"alg": "RS256"})),
            enc(serde_json::json!({"exp": exp}))
        )
    }

    fn api() -> BaseUrl {
        BaseUrl::parse("https://api.atlassian.com/ex/jira/c", true).unwrap()
    }

    #[test]
    fn only_a_jira_calls_token_is_kept() {
        let tokens = SystemTokens::default();
        let live = jwt_with_exp(unix_now() + 3600);
        let confluence = BaseUrl::parse("https://api.atlassian.com/ex/confluence/c", true).unwrap();
        tokens.remember(SiteId(1), &live, confluence);
        assert!(
            tokens.get(SiteId(1)).is_none(),
            "nothing calls Confluence as the app"
        );
        assert_eq!(tokens.len(), 0);
        tokens.remember(SiteId(1), &live, api());
        assert_eq!(tokens.get(SiteId(1)).unwrap().0.expose(), live);
    }

    #[test]
    fn a_live_token_is_kept_per_site_and_an_expired_or_oversized_one_is_not() {
        let tokens = SystemTokens::default();
        let live = jwt_with_exp(unix_now() + 3600);
        tokens.remember(SiteId(1), &live, api());
        tokens.remember(SiteId(2), &jwt_with_exp(unix_now() + 30), api());
        tokens.remember(SiteId(3), &"x".repeat(MAX_SYSTEM_TOKEN_LEN + 1), api());
        tokens.remember(SiteId(4), "opaque-token", api());
        assert_eq!(tokens.get(SiteId(1)).unwrap().0.expose(), live);
        assert!(tokens.get(SiteId(2)).is_none(), "inside the expiry margin");
        assert!(tokens.get(SiteId(3)).is_none());
        assert!(
            tokens.get(SiteId(4)).is_some(),
            "unreadable expiry: kept a while"
        );
        tokens.forget(SiteId(1), &Secret::new("another"));
        assert!(
            tokens.get(SiteId(1)).is_some(),
            "only the refused token is forgotten"
        );
        tokens.forget(SiteId(1), &Secret::new(live));
        assert!(tokens.get(SiteId(1)).is_none());
    }

    #[test]
    fn no_more_tokens_than_the_cap_are_held_and_the_soonest_to_expire_goes_first() {
        let tokens = SystemTokens {
            max_held: 10,
            ..SystemTokens::default()
        };
        let lasting = jwt_with_exp(unix_now() + 3 * 3600);
        tokens.remember(SiteId(0), &lasting, api());
        for n in 1..30 {
            let token = jwt_with_exp(unix_now() + 600 + n);
            tokens.remember(SiteId(n), &token, api());
            assert!(tokens.len() <= 10, "{}", tokens.len());
        }
        assert_eq!(tokens.get(SiteId(0)).unwrap().0.expose(), lasting);
        assert!(tokens.get(SiteId(29)).is_some(), "the newest is held");
        assert!(
            tokens.get(SiteId(1)).is_none(),
            "the soonest to expire went"
        );
    }

    #[test]
    fn an_expired_token_makes_room_before_a_live_one() {
        let tokens = SystemTokens {
            max_held: 2,
            ..SystemTokens::default()
        };
        tokens.remember(SiteId(1), &jwt_with_exp(unix_now() + 3600), api());
        tokens.remember(SiteId(2), &jwt_with_exp(unix_now() + 7200), api());
        tokens
            .held
            .lock()
            .unwrap()
            .get_mut(&(SiteId(1)))
            .unwrap()
            .until = Instant::now();
        tokens.remember(SiteId(3), &jwt_with_exp(unix_now() + 600), api());
        assert!(tokens.get(SiteId(2)).is_some() && tokens.get(SiteId(3)).is_some());
        assert_eq!(tokens.len(), 2);
    }

    #[test]
    fn a_token_that_expires_sooner_does_not_replace_a_longer_lived_one() {
        let tokens = SystemTokens::default();
        let long = jwt_with_exp(unix_now() + 3 * 3600);
        tokens.remember(SiteId(1), &long, api());
        tokens.remember(SiteId(1), &jwt_with_exp(unix_now() + 600), api());
        assert_eq!(tokens.get(SiteId(1)).unwrap().0.expose(), long);
    }
}
