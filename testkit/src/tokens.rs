//! The tokens Atlassian signs, written once: RS256 install tokens (Connect lifecycle
//! callbacks), HS256 tokens with a site's shared secret (iframes, the JSON API), and the
//! claims they carry. Fallible, for the example peers; the test-facing wrappers in
//! [`crate::site`] and [`crate::forge`] unwrap.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::api::qsh;
use crate::now;

/// Signs `claims` RS256 with the PEM private key, the header naming `kid` (none when `None`).
pub fn sign_rs256(claims: &Value, private_pem: &str, kid: Option<&str>) -> Result<String, String> {
    let key =
        EncodingKey::from_rsa_pem(private_pem.as_bytes()).map_err(|e| format!("RSA PEM: {e}"))?;
    sign_with(claims, &key, Algorithm::RS256, kid)
}

/// Signs `claims` with an already parsed key (what a peer signing thousands of tokens keeps).
pub fn sign_with(
    claims: &Value,
    key: &EncodingKey,
    alg: Algorithm,
    kid: Option<&str>,
) -> Result<String, String> {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_string);
    jsonwebtoken::encode(&header, claims, key).map_err(|e| format!("signing: {e}"))
}

/// Signs `claims` with an HMAC algorithm and a shared secret (HS256 is what Confluence uses).
pub fn sign_hmac(claims: &Value, secret: &str, alg: Algorithm) -> Result<String, String> {
    let key = EncodingKey::from_secret(secret.as_bytes()).map_err(|e| format!("HMAC key: {e}"))?;
    sign_with(claims, &key, alg, None)
}

/// The claims of an install token for `POST <path>`: issued by the site, for the app at `aud`
/// (its `SITE_URL`, whose path is `base_path`), valid for three minutes.
pub fn install_claims(client_key: &str, aud: &str, path: &str, base_path: &str) -> Value {
    json!({
        "iss": client_key,
        "aud": aud,
        "iat": now(),
        "exp": now() + 180,
        "qsh": qsh::qsh("POST", path, "", base_path),
    })
}

/// The claims of a browser context token (`qsh: context-qsh`) for `account`, as the JSON API
/// receives it, valid for `ttl_secs`.
pub fn context_claims(client_key: &str, account: &str, ttl_secs: i64) -> Value {
    json!({
        "iss": client_key, "sub": account, "iat": now(), "exp": now() + ttl_secs,
        "qsh": qsh::CONTEXT_QSH, "context": {"user": {"accountId": account}}
    })
}

/// The body Confluence posts to `installed` for a site.
pub fn install_payload(addon_key: &str, client_key: &str, secret: &str, base_url: &str) -> Value {
    json!({
        "key": addon_key,
        "clientKey": client_key,
        "sharedSecret": secret,
        "baseUrl": base_url,
        "displayUrl": base_url,
        "productType": "confluence",
        "description": "Atlassian Confluence at https://example.atlassian.net",
        "eventType": "installed",
        "serverVersion": "6452",
        "pluginsVersion": "1001.0.0",
    })
}
