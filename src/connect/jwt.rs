//! Connect JWTs: HS256 tenant tokens (signed with a site's shared secret) and RS256 install
//! tokens (signed by Atlassian, key named by `kid`). Pure functions, no I/O.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

pub use crate::util::secret::Secret;

/// Tokens longer than this are refused before any parsing (Confluence's are well under 2 KiB).
pub const MAX_TOKEN_LEN: usize = 8 * 1024;
/// Clock skew we tolerate on `exp` and `iat`, in seconds.
pub const LEEWAY_SECS: u64 = 30;

/// Why a token was refused; logged at debug level, never sent to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token too large")]
    TooLarge,
    #[error("token is malformed")]
    Malformed,
    #[error("algorithm {0} not accepted here")]
    WrongAlgorithm(String),
    #[error("key id missing or invalid")]
    BadKeyId,
    #[error("unknown, uninstalled or disabled issuer")]
    UnknownIssuer,
    #[error("signature or claims invalid: {0}")]
    Invalid(String),
    #[error("issued in the future")]
    IssuedInFuture,
    #[error("qsh missing")]
    MissingQsh,
    #[error("qsh does not match the request")]
    QshMismatch,
    #[error("context tokens are not accepted on this route")]
    ContextQshNotAllowed,
    #[error("install key unavailable: {0}")]
    KeyUnavailable(String),
}

/// The claims of an HS256 token Confluence sends with a product request.
#[derive(Debug, Clone, Deserialize)]
pub struct TenantClaims {
    pub iss: String,
    #[serde(default)]
    pub sub: Option<String>,
    pub exp: i64,
    #[serde(default)]
    pub qsh: Option<String>,
    #[serde(default)]
    pub context: Option<TokenContext>,
}

/// The part of a token's `context` claim we read (typed: no JSON tree per request).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TokenContext {
    #[serde(default)]
    pub user: Option<TokenUser>,
}

/// `context.user` of a token.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TokenUser {
    #[serde(default, rename = "accountId")]
    pub account_id: Option<String>,
}

impl TenantClaims {
    /// The Atlassian account id of the user: `context.user.accountId`, else `sub`.
    pub fn account_id(&self) -> Option<&str> {
        self.context
            .as_ref()
            .and_then(|c| c.user.as_ref())
            .and_then(|u| u.account_id.as_deref())
            .or(self.sub.as_deref())
            .filter(|id| !id.is_empty())
    }
}

/// The claims of an RS256 install token.
#[derive(Debug, Clone, Deserialize)]
pub struct InstallClaims {
    pub iss: String,
    pub exp: i64,
    #[serde(default)]
    pub iat: Option<i64>,
    #[serde(default)]
    pub qsh: Option<String>,
}

#[derive(Deserialize)]
struct IssuerOnly {
    iss: String,
}

/// The header of a token (`alg`, `kid`), after the size check; no signature is checked.
pub fn decode_header(token: &str) -> Result<Header, TokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::TooLarge);
    }
    jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)
}

/// The unverified `iss`, used only to find which secret to verify with.
pub fn unverified_issuer(token: &str) -> Result<String, TokenError> {
    jsonwebtoken::dangerous::insecure_decode_claims::<IssuerOnly>(token)
        .map(|c| c.iss)
        .map_err(|_| TokenError::Malformed)
}

/// Verifies an HS256 tenant token's signature and expiry. The qsh is checked by the caller.
pub fn verify_hs256(token: &str, key: &DecodingKey) -> Result<TenantClaims, TokenError> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = LEEWAY_SECS;
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp"]);
    jsonwebtoken::decode::<TenantClaims>(token, key, &validation)
        .map(|data| data.claims)
        .map_err(|e| TokenError::Invalid(e.to_string()))
}

/// Verifies an RS256 install token: signature, `exp`, `iat`, and `aud` containing `audience`
/// (with or without a trailing slash). `iss` and `qsh` are checked by the caller.
pub fn verify_rs256(
    token: &str,
    key: &DecodingKey,
    audience: &str,
) -> Result<InstallClaims, TokenError> {
    let mut validation = Validation::new(Algorithm::RS256);
    validation.leeway = LEEWAY_SECS;
    let bare = audience.trim_end_matches('/');
    validation.set_audience(&[bare.to_string(), format!("{bare}/")]);
    validation.set_required_spec_claims(&["exp", "aud", "iss"]);
    let claims = jsonwebtoken::decode::<InstallClaims>(token, key, &validation)
        .map(|data| data.claims)
        .map_err(|e| TokenError::Invalid(e.to_string()))?;
    let now = jsonwebtoken::get_current_timestamp() as i64;
    if claims.iat.is_some_and(|iat| iat > now + LEEWAY_SECS as i64) {
        return Err(TokenError::IssuedInFuture);
    }
    Ok(claims)
}

/// A `kid` we are willing to put in a URL: 1–256 of `[A-Za-z0-9._/-]`, no `..`, no leading `/`.
pub fn valid_kid(kid: &str) -> bool {
    !kid.is_empty()
        && kid.len() <= 256
        && !kid.contains("..")
        && !kid.starts_with('/')
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'/' | b'-'))
}

/// Why a token we make could not be signed (never a client's fault).
#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot sign a token: {0}")]
pub struct SignError(String);

/// Signs claims with HS256 (outbound requests and tests).
pub fn sign_hs256<T: Serialize>(claims: &T, secret: &Secret) -> Result<String, SignError> {
    let key = EncodingKey::from_secret(secret.expose().as_bytes())
        .map_err(|e| SignError(e.to_string()))?;
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &key)
        .map_err(|e| SignError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kids_that_could_walk_paths_are_refused() {
        assert!(valid_kid("0e50fccb-239d-4991-a5db-dc850ba3f236"));
        assert!(valid_kid("prod/key-1.pem"));
        for bad in [
            "",
            "../etc/passwd",
            "/abs",
            "a?b",
            "a b",
            "a%2e",
            &"k".repeat(257),
        ] {
            assert!(!valid_kid(bad), "{bad:?}");
        }
    }

    #[test]
    fn account_id_prefers_context_user() {
        let claims: TenantClaims = serde_json::from_value(serde_json::json!({
            "iss": "c", "exp": 1, "sub": "sub-id",
            "context": {"user": {"accountId": "ctx-id"}}
        }))
        .unwrap();
        assert_eq!(claims.account_id(), Some("ctx-id"));
    }
}
