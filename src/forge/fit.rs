//! The Forge Invocation Token (FIT): its header and claims, verified with one key of
//! Atlassian's set. Pure functions, no I/O; [`super::jwks`] finds the key.
//!
//! Rules: RS256 only, `kid` required; `iss` exactly `forge/invocation-token`; `aud` exactly our
//! own app ARI (from settings — never the token's `app.id`, which would accept any Forge app's
//! token), as a string or an array of that one element; `exp` and `iat` required, `nbf`
//! honoured, 30 s leeway, and no token older or longer-lived than [`MAX_TOKEN_LIFETIME_SECS`];
//! `app.installationId` required; `app.apiBaseUrl`, when present, of the one shape
//! [`super::api_base`] accepts.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::api_base::{ApiBaseRule, valid_cloud_id};
use super::jira::{JiraIssue, Product, confluence_api_base, issue_of_extension};
use crate::util::ari::canonical_installation_id;
use crate::util::jwt::JwtFailure;
use crate::util::telemetry::Refusal;

/// The issuer of every FIT.
pub const ISSUER: &str = "forge/invocation-token";
/// FITs longer than this are refused before any parsing (real ones are a few KiB; this stays
/// under the request header cap, so an oversized token is a 401, not a 431).
const MAX_TOKEN_LEN: usize = 10 * 1024;
/// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
pub const LEEWAY_SECS: u64 = 30;
/// The longest a FIT may be valid (`exp - iat`) and the oldest it may be (`now - iat`, plus
/// the leeway). Forge's live about 25 s; a token minted to last for days, or replayed long
/// after it was issued, is refused even when its signature holds.
const MAX_TOKEN_LIFETIME_SECS: i64 = 5 * 60;

/// Why a Forge request was refused; logged at debug level (never with the token), answered
/// with a 401 and counted by its [`FitError::refusal`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FitError {
    #[error("no Authorization: Bearer token")]
    Missing,
    #[error("token too large")]
    TooLarge,
    #[error("token is malformed")]
    Malformed,
    #[error("algorithm {0} not accepted")]
    WrongAlgorithm(String),
    #[error("kid missing or invalid")]
    BadKeyId,
    #[error("kid not in the key set")]
    UnknownKeyId,
    #[error("key set unavailable: {0}")]
    KeysUnavailable(String),
    /// Not fetched: the gate in front of the key server admitted no more fetches just now.
    #[error("key set fetches are throttled")]
    KeysThrottled,
    #[error("expired")]
    Expired,
    #[error("signature does not hold")]
    BadSignature,
    /// Signed, but a claim the library checks is wrong (issuer, audience, `nbf`, a missing
    /// claim, …).
    #[error("claims invalid: {0}")]
    Invalid(String),
    #[error("issued in the future")]
    IssuedInFuture,
    #[error("issued too long ago, or valid for too long")]
    TooOld,
    #[error("aud is not exactly our app")]
    Audience,
    #[error("claim {0} missing or invalid")]
    BadClaim(&'static str),
    #[error("installation and cloud id name two different sites")]
    TwoSites,
    #[error("the event body names another installation or app than its token")]
    BodyMismatch,
}

impl FitError {
    /// The reason the metrics count this refusal under (a fixed list: the operator's view,
    /// coarser than the log's).
    pub(crate) fn refusal(&self) -> Refusal {
        match self {
            Self::Missing => Refusal::Missing,
            Self::TooLarge | Self::Malformed | Self::WrongAlgorithm(_) | Self::BadKeyId => {
                Refusal::Malformed
            }
            Self::UnknownKeyId => Refusal::UnknownKey,
            Self::KeysUnavailable(_) | Self::KeysThrottled => Refusal::KeysUnavailable,
            Self::Expired | Self::TooOld => Refusal::Expired,
            Self::BadSignature => Refusal::Signature,
            Self::Invalid(_)
            | Self::IssuedInFuture
            | Self::Audience
            | Self::BadClaim(_)
            | Self::BodyMismatch => Refusal::Claims,
            Self::TwoSites => Refusal::UnknownSite,
        }
    }

    /// What a failed check by the library says of the token.
    fn from_library(err: jsonwebtoken::errors::Error) -> Self {
        match JwtFailure::of(&err) {
            JwtFailure::Malformed => Self::Malformed,
            JwtFailure::Expired => Self::Expired,
            JwtFailure::Signature => Self::BadSignature,
            JwtFailure::Claims => Self::Invalid(err.to_string()),
        }
    }
}

/// The claims of a FIT that we read (unknown ones ignored).
#[derive(Debug, Clone, Deserialize)]
pub struct FitClaims {
    pub iss: String,
    pub exp: i64,
    #[serde(default)]
    iat: Option<i64>,
    /// A string, or an array (RFC 7519 allows both); checked by [`exactly_us`].
    #[serde(default)]
    aud: Option<serde_json::Value>,
    #[serde(default)]
    app: Option<FitApp>,
    /// The account id of the user (UI calls only).
    #[serde(default)]
    principal: Option<String>,
    #[serde(default)]
    context: Option<FitContext>,
}

/// `app` of a FIT.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FitApp {
    #[serde(default)]
    installation_id: Option<String>,
    #[serde(default)]
    api_base_url: Option<String>,
    /// `{contexts: [{name, apiBaseUrl, cloudId}, …]}` in a multi-product app.
    #[serde(default)]
    installation: Option<serde_json::Value>,
}

/// `context` of a FIT (UI calls; optional on triggers).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FitContext {
    #[serde(default)]
    cloud_id: Option<String>,
    /// Where the module is: a Jira issue panel's names the issue and its project.
    #[serde(default)]
    extension: Option<serde_json::Value>,
}

/// Who a verified FIT says is calling: the installation, its site, and the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub installation_id: String,
    /// `context.cloudId`, else the cloud id in `app.apiBaseUrl`.
    pub cloud_id: Option<String>,
    /// The token's own `app.apiBaseUrl` (Confluence's or Jira's).
    pub api_base_url: Option<String>,
    /// The product the token's `apiBaseUrl` belongs to, when it names one we know.
    pub(crate) product: Option<Product>,
    /// The site's Confluence API base URL: the token's own, or the Confluence entry of
    /// `app.installation.contexts` on a Jira call; never a Jira URL.
    pub(crate) confluence_api_base_url: Option<String>,
    /// `principal`, when the call is a user's.
    pub account_id: Option<String>,
    /// The Jira issue a panel was opened on (`context.extension.issue`).
    pub(crate) issue: Option<JiraIssue>,
}

/// The `kid` of a token after the size and algorithm checks; nothing is verified yet.
pub fn key_id(token: &str) -> Result<String, FitError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(FitError::TooLarge);
    }
    let header = jsonwebtoken::decode_header(token).map_err(|_| FitError::Malformed)?;
    if header.alg != Algorithm::RS256 {
        return Err(FitError::WrongAlgorithm(format!("{:?}", header.alg)));
    }
    header
        .kid
        .filter(|kid| valid_kid(kid))
        .ok_or(FitError::BadKeyId)
}

/// A `kid` we are willing to look up: 1–256 printable ASCII characters.
fn valid_kid(kid: &str) -> bool {
    !kid.is_empty() && kid.len() <= 256 && kid.bytes().all(|b| b.is_ascii_graphic())
}

#[derive(Deserialize)]
struct ApiBaseOnly {
    #[serde(default)]
    app: Option<FitApp>,
}

/// The unverified `app.apiBaseUrl`, used only to choose between Atlassian's production and
/// staging key sets (both Atlassian's; the signature and `aud` are checked after).
pub fn unverified_api_base_url(token: &str) -> Option<String> {
    jsonwebtoken::dangerous::insecure_decode_claims::<ApiBaseOnly>(token)
        .ok()?
        .app?
        .api_base_url
}

/// Verifies a FIT's signature with `key` and its claims for our app ARI `audience`.
pub fn verify(token: &str, key: &DecodingKey, audience: &str) -> Result<FitClaims, FitError> {
    let mut validation = Validation::new(Algorithm::RS256);
    validation.leeway = LEEWAY_SECS;
    validation.validate_nbf = true;
    validation.set_audience(&[audience]);
    validation.set_issuer(&[ISSUER]);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    let claims = jsonwebtoken::decode::<FitClaims>(token, key, &validation)
        .map(|data| data.claims)
        .map_err(FitError::from_library)?;
    if !exactly_us(claims.aud.as_ref(), audience) {
        return Err(FitError::Audience);
    }
    let now = jsonwebtoken::get_current_timestamp() as i64;
    let iat = claims.iat.ok_or(FitError::BadClaim("iat"))?;
    if iat > now + LEEWAY_SECS as i64 {
        return Err(FitError::IssuedInFuture);
    }
    if claims.exp - iat > MAX_TOKEN_LIFETIME_SECS
        || now - iat > MAX_TOKEN_LIFETIME_SECS + LEEWAY_SECS as i64
    {
        return Err(FitError::TooOld);
    }
    Ok(claims)
}

/// `aud` names our app and nothing else: the string, or an array of exactly that one element.
/// An array with other audiences too is a token minted for someone else as well; a verifier
/// that accepts "contains ours" (jsonwebtoken's own check) would let it in.
fn exactly_us(aud: Option<&serde_json::Value>, audience: &str) -> bool {
    match aud {
        Some(serde_json::Value::String(one)) => one == audience,
        Some(serde_json::Value::Array(list)) => {
            matches!(list.as_slice(), [serde_json::Value::String(one)] if one == audience)
        }
        _ => false,
    }
}

impl FitClaims {
    /// The installation, site and user the verified claims name, each checked for shape; the
    /// `apiBaseUrl` by `api_base`.
    pub fn identity(&self, api_base: ApiBaseRule) -> Result<Identity, FitError> {
        let app = self.app.clone().unwrap_or_default();
        let installation_id = app
            .installation_id
            .filter(|id| plain(id, 255))
            .map(|id| canonical_installation_id(&id))
            .ok_or(FitError::BadClaim("app.installationId"))?;
        let (api_base_url, from_api) = match app.api_base_url {
            Some(url) => match api_base.cloud_id(&url) {
                Some(cloud_id) => (Some(url), Some(cloud_id)),
                None => return Err(FitError::BadClaim("app.apiBaseUrl")),
            },
            None => (None, None),
        };
        let from_context = match self.context.as_ref().and_then(|c| c.cloud_id.clone()) {
            Some(id) if valid_cloud_id(&id) => Some(id),
            Some(_) => return Err(FitError::BadClaim("context.cloudId")),
            None => None,
        };
        let cloud_id = match (from_context, from_api) {
            (Some(a), Some(b)) if a != b => return Err(FitError::BadClaim("context.cloudId")),
            (a, b) => a.or(b),
        };
        let account_id = match self.principal.clone() {
            Some(p) if plain(&p, 128) => Some(p),
            Some(_) => return Err(FitError::BadClaim("principal")),
            None => None,
        };
        let extension = self.context.as_ref().and_then(|c| c.extension.as_ref());
        let issue = issue_of_extension(extension)?;
        let product = api_base_url
            .as_deref()
            .and_then(Product::of_api_base)
            .map(|(product, _)| product);
        // Another product's entry is stored only when it has the shape a token's own must.
        let confluence_api_base_url =
            confluence_api_base(api_base_url.as_deref(), app.installation.as_ref())
                .filter(|url| api_base.cloud_id(url).is_some());
        Ok(Identity {
            installation_id,
            cloud_id,
            api_base_url,
            product,
            confluence_api_base_url,
            account_id,
            issue,
        })
    }
}

/// 1 to `max` printable ASCII characters, no spaces.
fn plain(text: &str, max: usize) -> bool {
    !text.is_empty() && text.len() <= max && text.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TEST_RULE: ApiBaseRule = ApiBaseRule {
        staging: false,
        loopback: false,
    };

    fn claims(value: serde_json::Value) -> FitClaims {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn the_identity_takes_the_cloud_id_from_the_context_or_the_api_base_url() {
        let api = "https://api.atlassian.com/ex/confluence/c0ffee-1";
        let both = claims(json!({
            "iss": ISSUER, "exp": 1, "principal": "acc-1",
            "app": {"installationId": "ari:cloud:ecosystem::installation/1", "apiBaseUrl": api},
            "context": {"cloudId": "c0ffee-1"}
        }));
        let id = both.identity(TEST_RULE).unwrap();
        assert_eq!(id.cloud_id.as_deref(), Some("c0ffee-1"));
        assert_eq!(id.account_id.as_deref(), Some("acc-1"));
        let trigger = claims(json!({
            "iss": ISSUER, "exp": 1,
            "app": {"installationId": "i-1", "apiBaseUrl": format!("{api}/")}
        }));
        let id = trigger.identity(TEST_RULE).unwrap();
        assert_eq!(
            (id.cloud_id.as_deref(), id.account_id),
            (Some("c0ffee-1"), None)
        );
        let bare = claims(json!({"iss": ISSUER, "exp": 1, "app": {"installationId": "i-1"}}));
        assert_eq!(bare.identity(TEST_RULE).unwrap().cloud_id, None);
    }

    #[test]
    fn a_jira_identity_names_its_product_issue_and_the_sites_confluence_api() {
        let jira = "https://api.atlassian.com/ex/jira/c0ffee-1";
        let confluence = "https://api.atlassian.com/ex/confluence/c0ffee-1";
        let id = claims(json!({
            "iss": ISSUER, "exp": 1, "principal": "acc-1",
            "app": {"installationId": "i-1", "apiBaseUrl": jira,
                    "installation": {"contexts": [
                        {"name": "jira", "apiBaseUrl": jira, "cloudId": "c0ffee-1"},
                        {"name": "confluence", "apiBaseUrl": confluence, "cloudId": "c0ffee-1"}]}},
            "context": {"extension": {"type": "jira:issuePanel",
                        "issue": {"id": "10001", "key": "P-1"}, "project": {"id": "100"}}}
        }))
        .identity(TEST_RULE)
        .unwrap();
        assert_eq!(
            id.cloud_id.as_deref(),
            Some("c0ffee-1"),
            "from the Jira URL"
        );
        assert_eq!(id.product, Some(Product::Jira));
        assert_eq!(id.api_base_url.as_deref(), Some(jira));
        assert_eq!(id.confluence_api_base_url.as_deref(), Some(confluence));
        assert_eq!(
            id.issue.map(|i| (i.id, i.key, i.project_id)),
            Some(("10001".into(), "P-1".into(), "100".into()))
        );
    }

    #[test]
    fn an_identity_without_installation_or_with_disagreeing_or_odd_ids_is_refused() {
        let cases = [
            (json!({}), "app.installationId"),
            (json!({"app": {"installationId": ""}}), "app.installationId"),
            (
                json!({"app": {"installationId": "a b"}}),
                "app.installationId",
            ),
            (
                json!({"app": {"installationId": "i", "apiBaseUrl": "https://api.atlassian.com/ex/confluence/one"},
                       "context": {"cloudId": "two"}}),
                "context.cloudId",
            ),
            (
                json!({"app": {"installationId": "i"}, "context": {"cloudId": "x/../y"}}),
                "context.cloudId",
            ),
            (
                json!({"app": {"installationId": "i"}, "principal": "x".repeat(129)}),
                "principal",
            ),
        ];
        for (extra, claim) in cases {
            let mut value = json!({"iss": ISSUER, "exp": 1});
            for (k, v) in extra.as_object().unwrap() {
                value[k] = v.clone();
            }
            assert_eq!(
                claims(value.clone()).identity(TEST_RULE),
                Err(FitError::BadClaim(claim)),
                "{value}"
            );
        }
    }

    #[test]
    fn every_refusal_is_counted_under_one_fixed_reason() {
        let text = || "x".to_string();
        let cases = [
            (FitError::Missing, Refusal::Missing),
            (FitError::TooLarge, Refusal::Malformed),
            (FitError::Malformed, Refusal::Malformed),
            (FitError::WrongAlgorithm(text()), Refusal::Malformed),
            (FitError::BadKeyId, Refusal::Malformed),
            (FitError::UnknownKeyId, Refusal::UnknownKey),
            (FitError::KeysUnavailable(text()), Refusal::KeysUnavailable),
            (FitError::KeysThrottled, Refusal::KeysUnavailable),
            (FitError::Expired, Refusal::Expired),
            (FitError::BadSignature, Refusal::Signature),
            (FitError::Invalid(text()), Refusal::Claims),
            (FitError::IssuedInFuture, Refusal::Claims),
            (FitError::TooOld, Refusal::Expired),
            (FitError::Audience, Refusal::Claims),
            (FitError::BadClaim("iat"), Refusal::Claims),
            (FitError::TwoSites, Refusal::UnknownSite),
            (FitError::BodyMismatch, Refusal::Claims),
        ];
        for (err, want) in cases {
            assert_eq!(err.refusal(), want, "{err:?}");
        }
    }

    #[test]
    fn a_fit_is_refused_as_expired_forged_too_old_or_for_another_app() {
        let keys = testkit::forge::forge_key();
        let key = DecodingKey::from_rsa_pem(keys.public_pem.as_bytes()).unwrap();
        let us = testkit::forge::FORGE_APP_ARI;
        let now = jsonwebtoken::get_current_timestamp() as i64;
        let fit = |iat: i64, exp: i64, aud: &str, pem: &str| {
            let claims = json!({"iss": ISSUER, "aud": aud, "iat": iat, "exp": exp});
            testkit::tokens::sign_rs256(&claims, pem, Some("k")).unwrap()
        };
        let mine = keys.private_pem.as_str();
        assert!(verify(&fit(now, now + 60, us, mine), &key, us).is_ok());
        let other = testkit::forge::rotated_key().private_pem.as_str();
        let cases = [
            (fit(now - 200, now - 100, us, mine), FitError::Expired),
            (fit(now, now + 60, us, other), FitError::BadSignature),
            (fit(now - 3600, now + 60, us, mine), FitError::TooOld),
            (
                fit(now, now + 60, testkit::forge::OTHER_APP_ARI, mine),
                FitError::Invalid(String::new()),
            ),
        ];
        for (token, want) in cases {
            let err = verify(&token, &key, us).unwrap_err();
            assert_eq!(
                std::mem::discriminant(&err),
                std::mem::discriminant(&want),
                "{err:?}"
            );
            assert_eq!(err.refusal(), want.refusal(), "{err:?}");
        }
    }

    #[test]
    fn kids_must_be_present_and_printable() {
        assert!(valid_kid("forge/1.pem"));
        for bad in ["", "a b", "k\u{7f}", &"k".repeat(257)] {
            assert!(!valid_kid(bad), "{bad:?}");
        }
    }
}
