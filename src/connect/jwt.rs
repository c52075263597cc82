//! Connect JWTs: HS256 tenant tokens (signed with a site's shared secret) and RS256 install
//! tokens (signed by Atlassian, key named by `kid`). Pure functions, no I/O.

use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use serde::Deserialize;

use crate::util::jwt::JwtFailure;
pub use crate::util::secret::Secret;
use crate::util::telemetry::Refusal;

/// Tokens longer than this are refused before any parsing (Confluence's are well under 2 KiB).
pub const MAX_TOKEN_LEN: usize = 8 * 1024;
/// Clock skew we tolerate on `exp` and `iat`, in seconds.
const LEEWAY_SECS: u64 = 30;

/// Why a token was refused; logged at debug level, never sent to the client, and counted by
/// its [`TokenError::refusal`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("no token")]
    Missing,
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
    #[error("expired")]
    Expired,
    #[error("signature does not hold")]
    BadSignature,
    /// Signed, but a claim the library checks is wrong (audience, a missing claim, …).
    #[error("claims invalid: {0}")]
    Invalid(String),
    #[error("issued in the future")]
    IssuedInFuture,
    /// A lifecycle body naming another site than its token.
    #[error("the body names another site than its token")]
    BodyMismatch,
    #[error("qsh missing")]
    MissingQsh,
    #[error("qsh does not match the request")]
    QshMismatch,
    #[error("context tokens are not accepted on this route")]
    ContextQshNotAllowed,
    #[error("install key unavailable: {0}")]
    KeyUnavailable(String),
    /// The key server answered that it does not publish this key (404, 410).
    #[error("install key not published: {0}")]
    KeyNotPublished(String),
}

impl TokenError {
    /// The reason the metrics count this refusal under (a fixed list: the operator's view,
    /// coarser than the log's).
    pub(crate) fn refusal(&self) -> Refusal {
        match self {
            Self::Missing => Refusal::Missing,
            Self::TooLarge | Self::Malformed | Self::WrongAlgorithm(_) | Self::BadKeyId => {
                Refusal::Malformed
            }
            Self::UnknownIssuer => Refusal::UnknownSite,
            Self::Expired => Refusal::Expired,
            Self::BadSignature => Refusal::Signature,
            Self::Invalid(_) | Self::IssuedInFuture | Self::BodyMismatch => Refusal::Claims,
            Self::MissingQsh | Self::QshMismatch | Self::ContextQshNotAllowed => Refusal::Qsh,
            Self::KeyUnavailable(_) => Refusal::KeysUnavailable,
            Self::KeyNotPublished(_) => Refusal::UnknownKey,
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

/// The claims of an HS256 token Confluence sends with a product request.
#[derive(Debug, Clone, Deserialize)]
pub struct TenantClaims {
    iss: String,
    #[serde(default)]
    sub: Option<String>,
    exp: i64,
    #[serde(default)]
    pub qsh: Option<String>,
    #[serde(default)]
    context: Option<TokenContext>,
}

/// The part of a token's `context` claim we read (typed: no JSON tree per request).
#[derive(Debug, Clone, Default, Deserialize)]
struct TokenContext {
    #[serde(default)]
    user: Option<TokenUser>,
}

/// `context.user` of a token.
#[derive(Debug, Clone, Default, Deserialize)]
struct TokenUser {
    #[serde(default, rename = "accountId")]
    account_id: Option<String>,
}

impl TenantClaims {
    /// The Atlassian account id of the user: `context.user.accountId`, else `sub`.
    pub(crate) fn account_id(&self) -> Option<&str> {
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
    pub(crate) iss: String,
    pub exp: i64,
    #[serde(default)]
    iat: Option<i64>,
    #[serde(default)]
    pub(crate) qsh: Option<String>,
}

/// The header fields of a tenant token we look at. `crit` and `b64` are read only to refuse
/// them: we understand no critical extension, and an unencoded payload (`b64: false`, RFC 7797)
/// would sign something other than what we decode (`jsonwebtoken` refuses both, too).
#[derive(Deserialize)]
struct TenantHeader {
    alg: String,
    #[serde(default)]
    crit: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    b64: Option<serde_json::Value>,
}

/// The header of a token (`alg`, `kid`), after the size check; no signature is checked.
pub fn decode_header(token: &str) -> Result<Header, TokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::TooLarge);
    }
    jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)
}

/// An HS256 tenant token read once: the header checked (size, `alg` exactly HS256, no critical
/// extensions) and the claims decoded, so the issuer can pick the key. Nothing in it is trusted
/// until [`UnverifiedHs256::verify`] has checked the signature and the expiry.
///
/// Why not `jsonwebtoken::decode`: it needs the key first, and the key depends on `iss`, so
/// the token was base64- and JSON-decoded three times per request (header, issuer, verified
/// claims). Here it is decoded once; the signature check itself stays in the library
/// ([`jsonwebtoken::crypto::verify`]: HMAC-SHA256 in aws-lc, constant-time comparison).
pub struct UnverifiedHs256<'t> {
    /// `header.payload`: what the signature covers.
    message: &'t str,
    signature: &'t str,
    claims: TenantClaims,
}

/// Reads an HS256 tenant token (see [`UnverifiedHs256`]).
pub fn read_hs256(token: &str) -> Result<UnverifiedHs256<'_>, TokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::TooLarge);
    }
    let (message, signature) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
    let (header, payload) = message.split_once('.').ok_or(TokenError::Malformed)?;
    let header: TenantHeader = decode_part(header)?;
    if header.alg != "HS256" {
        return Err(TokenError::WrongAlgorithm(header.alg));
    }
    if header.crit.is_some()
        || header
            .b64
            .is_some_and(|b64| b64 != serde_json::Value::Bool(true))
    {
        return Err(TokenError::Malformed);
    }
    Ok(UnverifiedHs256 {
        message,
        signature,
        claims: decode_part(payload)?,
    })
}

/// One base64url (no padding, as JWS requires) JSON part of a token.
fn decode_part<T: serde::de::DeserializeOwned>(part: &str) -> Result<T, TokenError> {
    use base64::Engine;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| TokenError::Malformed)?;
    serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)
}

impl UnverifiedHs256<'_> {
    /// The claimed issuer (the site's client key), used only to find the key to verify with.
    pub fn issuer(&self) -> &str {
        &self.claims.iss
    }

    /// The claims, once the signature is the site's (`key`) and `exp` has not passed (with
    /// [`LEEWAY_SECS`]). The qsh is checked by the caller.
    pub fn verify(self, key: &DecodingKey) -> Result<TenantClaims, TokenError> {
        let signed = jsonwebtoken::crypto::verify(
            self.signature,
            self.message.as_bytes(),
            key,
            Algorithm::HS256,
        )
        .map_err(TokenError::from_library)?;
        if !signed {
            return Err(TokenError::BadSignature);
        }
        let now = crate::util::time::unix_now();
        if self.claims.exp < now.saturating_sub(LEEWAY_SECS as i64) {
            return Err(TokenError::Expired);
        }
        Ok(self.claims)
    }
}

/// Verifies an HS256 tenant token's signature and expiry in one go (when the key is already
/// known). The qsh is checked by the caller.
pub fn verify_hs256(token: &str, key: &DecodingKey) -> Result<TenantClaims, TokenError> {
    read_hs256(token)?.verify(key)
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
        .map_err(TokenError::from_library)?;
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

    /// A token with this header and these claims, signed with HS256 and `secret`.
    fn token(header: serde_json::Value, claims: serde_json::Value, secret: &str) -> String {
        use base64::Engine;
        let b64 = |v: &serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        let message = format!("{}.{}", b64(&header), b64(&claims));
        let key = jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()).unwrap();
        let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &key, Algorithm::HS256);
        format!("{message}.{}", signature.unwrap())
    }

    fn claims(exp_in: i64) -> serde_json::Value {
        let exp = crate::util::time::unix_now() + exp_in;
        serde_json::json!({"iss": "site", "exp": exp, "qsh": "q"})
    }

    fn hs256_header() -> serde_json::Value {
        serde_json::json!({"alg": "HS256", "typ": "JWT"})
    }

    #[test]
    fn a_tenant_token_is_read_once_and_verified_with_the_issuers_key() {
        let key = DecodingKey::from_secret(b"s3cret").unwrap();
        let token = token(hs256_header(), claims(60), "s3cret");
        let unverified = read_hs256(&token).unwrap();
        assert_eq!(unverified.issuer(), "site");
        assert_eq!(unverified.verify(&key).unwrap().qsh.as_deref(), Some("q"));
        // The same token through the library, as before: both agree.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_aud = false;
        assert!(jsonwebtoken::decode::<TenantClaims>(&token, &key, &validation).is_ok());
    }

    #[test]
    fn expiry_allows_the_leeway_and_not_a_second_more() {
        let key = DecodingKey::from_secret(b"k").unwrap();
        let leeway = LEEWAY_SECS as i64;
        let within = token(hs256_header(), claims(5 - leeway), "k");
        assert!(verify_hs256(&within, &key).is_ok());
        let past = token(hs256_header(), claims(-leeway - 5), "k");
        assert_eq!(verify_hs256(&past, &key).unwrap_err(), TokenError::Expired);
    }

    #[test]
    fn what_the_library_would_refuse_is_refused_before_any_key_is_looked_up() {
        let ok = claims(60);
        let cases = [
            (
                serde_json::json!({"alg": "HS512"}),
                TokenError::WrongAlgorithm("HS512".into()),
            ),
            (
                serde_json::json!({"alg": "none"}),
                TokenError::WrongAlgorithm("none".into()),
            ),
            (serde_json::json!({"typ": "JWT"}), TokenError::Malformed),
            (
                serde_json::json!({"alg": "HS256", "crit": ["exp"]}),
                TokenError::Malformed,
            ),
            (
                serde_json::json!({"alg": "HS256", "crit": ["b64"], "b64": false}),
                TokenError::Malformed,
            ),
            (
                serde_json::json!({"alg": "HS256", "b64": false}),
                TokenError::Malformed,
            ),
            (
                serde_json::json!({"alg": "HS256", "b64": "yes"}),
                TokenError::Malformed,
            ),
        ];
        for (header, want) in cases {
            let token = token(header.clone(), ok.clone(), "k");
            assert_eq!(read_hs256(&token).err(), Some(want), "{header}");
        }
        let good = token(hs256_header(), ok, "k");
        let (message, signature) = good.rsplit_once('.').unwrap();
        for bad in [
            format!("{good}.extra"),
            message.to_string(),
            format!("{message}=.{signature}"),
            format!("{}.{}", "a".repeat(MAX_TOKEN_LEN), signature),
        ] {
            assert!(read_hs256(&bad).is_err(), "{bad}");
        }
        let no_exp = token(hs256_header(), serde_json::json!({"iss": "site"}), "k");
        assert_eq!(read_hs256(&no_exp).err(), Some(TokenError::Malformed));
    }

    #[test]
    fn a_signature_by_another_secret_or_over_other_claims_is_refused() {
        let key = DecodingKey::from_secret(b"right").unwrap();
        let forged = token(hs256_header(), claims(60), "wrong");
        assert_eq!(
            verify_hs256(&forged, &key).err(),
            Some(TokenError::BadSignature)
        );
        let good = token(hs256_header(), claims(60), "right");
        let other = token(hs256_header(), claims(120), "right");
        let (_, signature) = good.rsplit_once('.').unwrap();
        let (message, _) = other.rsplit_once('.').unwrap();
        let spliced = format!("{message}.{signature}");
        assert_eq!(
            verify_hs256(&spliced, &key).err(),
            Some(TokenError::BadSignature)
        );
    }

    #[test]
    fn every_refusal_is_counted_under_one_fixed_reason() {
        let text = || "x".to_string();
        let cases = [
            (TokenError::Missing, Refusal::Missing),
            (TokenError::TooLarge, Refusal::Malformed),
            (TokenError::Malformed, Refusal::Malformed),
            (TokenError::WrongAlgorithm(text()), Refusal::Malformed),
            (TokenError::BadKeyId, Refusal::Malformed),
            (TokenError::UnknownIssuer, Refusal::UnknownSite),
            (TokenError::Expired, Refusal::Expired),
            (TokenError::BadSignature, Refusal::Signature),
            (TokenError::Invalid(text()), Refusal::Claims),
            (TokenError::IssuedInFuture, Refusal::Claims),
            (TokenError::BodyMismatch, Refusal::Claims),
            (TokenError::MissingQsh, Refusal::Qsh),
            (TokenError::QshMismatch, Refusal::Qsh),
            (TokenError::ContextQshNotAllowed, Refusal::Qsh),
            (TokenError::KeyUnavailable(text()), Refusal::KeysUnavailable),
            (TokenError::KeyNotPublished(text()), Refusal::UnknownKey),
        ];
        for (err, want) in cases {
            assert_eq!(err.refusal(), want, "{err:?}");
        }
    }

    #[test]
    fn an_install_token_is_refused_as_expired_forged_or_for_another_audience() {
        use testkit::keys::install_keys;
        let keys = install_keys();
        let key = DecodingKey::from_rsa_pem(keys.public_pem.as_bytes()).unwrap();
        let other = testkit::rsa::new_rsa_keys().unwrap();
        let now = crate::util::time::unix_now();
        let claims = |exp: i64, aud: &str| serde_json::json!({"iss": "c", "exp": exp, "aud": aud});
        let sign = |claims: &serde_json::Value, pem: &str| {
            testkit::tokens::sign_rs256(claims, pem, Some("kid")).unwrap()
        };
        let us = "https://app.example";
        let good = sign(&claims(now + 60, us), &keys.private_pem);
        assert!(verify_rs256(&good, &key, us).is_ok());
        let cases = [
            (
                sign(&claims(now - 600, us), &keys.private_pem),
                Refusal::Expired,
            ),
            (
                sign(&claims(now + 60, us), &other.private_pem),
                Refusal::Signature,
            ),
            (
                sign(&claims(now + 60, "https://them.example"), &keys.private_pem),
                Refusal::Claims,
            ),
            ("not.a.token".to_string(), Refusal::Malformed),
        ];
        for (token, want) in cases {
            let err = verify_rs256(&token, &key, us).unwrap_err();
            assert_eq!(err.refusal(), want, "{err:?}");
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
