//! What a failed `jsonwebtoken` check means, read once for both ways in (Connect's install
//! tokens, Forge Invocation Tokens): the token unreadable, past its time, signed by someone
//! else, or signed but with a wrong claim. Each way's error type keeps its own variants; this
//! is only the sorting, so the two never disagree about what an expired token is.

use jsonwebtoken::errors::{Error, ErrorKind};

/// The kind of a `jsonwebtoken` failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JwtFailure {
    /// Not a token we can read: its shape, encoding, JSON or algorithm.
    Malformed,
    /// `exp` has passed (beyond the leeway).
    Expired,
    /// The signature does not hold with the key (or the key cannot check it).
    Signature,
    /// Signed, but a claim is wrong: audience, issuer, `nbf`, a missing or mistyped claim.
    Claims,
}

impl JwtFailure {
    /// The kind of `err`.
    pub(crate) fn of(err: &Error) -> Self {
        match err.kind() {
            ErrorKind::ExpiredSignature => Self::Expired,
            ErrorKind::InvalidSignature => Self::Signature,
            ErrorKind::MissingRequiredClaim(_)
            | ErrorKind::InvalidClaimFormat(_)
            | ErrorKind::InvalidIssuer
            | ErrorKind::InvalidAudience
            | ErrorKind::InvalidSubject
            | ErrorKind::ImmatureSignature => Self::Claims,
            ErrorKind::InvalidToken
            | ErrorKind::Base64(_)
            | ErrorKind::Json(_)
            | ErrorKind::Utf8(_)
            | ErrorKind::InvalidAlgorithm
            | ErrorKind::InvalidAlgorithmName
            | ErrorKind::UnsupportedAlgorithm
            | ErrorKind::MissingAlgorithm => Self::Malformed,
            // The key could not check the token (a key of the wrong kind, a crypto failure):
            // no signature that holds was shown.
            _ => Self::Signature,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
    use serde_json::json;

    /// The failure decoding an HS256 token over `claims` (signed with `signed_with`, checked
    /// with `checked_with`) for audience `us`.
    fn failure(claims: serde_json::Value, signed_with: &[u8], checked_with: &[u8]) -> JwtFailure {
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(signed_with).unwrap(),
        )
        .unwrap();
        let mut rules = Validation::new(Algorithm::HS256);
        rules.set_audience(&["us"]);
        rules.validate_nbf = true;
        let key = DecodingKey::from_secret(checked_with).unwrap();
        let err = jsonwebtoken::decode::<serde_json::Value>(&token, &key, &rules).unwrap_err();
        JwtFailure::of(&err)
    }

    #[test]
    fn each_library_failure_is_sorted_by_what_it_says_of_the_token() {
        let now = jsonwebtoken::get_current_timestamp() as i64;
        let ok = |extra: serde_json::Value| {
            let mut claims = json!({"aud": "us", "exp": now + 60});
            for (k, v) in extra.as_object().unwrap() {
                claims[k] = v.clone();
            }
            claims
        };
        assert_eq!(
            failure(ok(json!({"exp": now - 3600})), b"k", b"k"),
            JwtFailure::Expired
        );
        assert_eq!(
            failure(ok(json!({})), b"k", b"other"),
            JwtFailure::Signature
        );
        assert_eq!(
            failure(ok(json!({"aud": "them"})), b"k", b"k"),
            JwtFailure::Claims
        );
        assert_eq!(
            failure(ok(json!({"nbf": now + 3600})), b"k", b"k"),
            JwtFailure::Claims
        );
        assert_eq!(
            failure(json!({"aud": "us"}), b"k", b"k"),
            JwtFailure::Claims,
            "no exp"
        );
        let key = DecodingKey::from_secret(b"k").unwrap();
        let rules = Validation::new(Algorithm::HS256);
        for garbage in ["", "a.b", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.!!.x"] {
            let err = jsonwebtoken::decode::<serde_json::Value>(garbage, &key, &rules).unwrap_err();
            assert_eq!(JwtFailure::of(&err), JwtFailure::Malformed, "{garbage:?}");
        }
        let rs256 = Validation::new(Algorithm::RS256);
        let hs = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &ok(json!({})),
            &EncodingKey::from_secret(b"k").unwrap(),
        )
        .unwrap();
        let err = jsonwebtoken::decode::<serde_json::Value>(&hs, &key, &rs256).unwrap_err();
        assert_eq!(
            JwtFailure::of(&err),
            JwtFailure::Malformed,
            "wrong algorithm"
        );
    }
}
