//! What the benchmarks share: an RSA install key as PEM, a Confluence site, and the realistic
//! iframe URL and tokens Confluence sends for a macro view.
#![allow(dead_code)]

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use todo_connect::connect::qsh;

/// The app's public URL (`SITE_URL`), the `aud` of install tokens.
pub const SITE_URL: &str = "https://todo.example.test";
/// The app key.
pub const ADDON_KEY: &str = "todo-connect-bench";
/// The `kid` the install key is published under.
pub const KID: &str = "bench-kid-1";
/// The site's client key (Confluence sends a UUID).
pub const CLIENT_KEY: &str = "4c2a1b7e-9d3f-4e8a-b1c6-7f0d2e5a9c31";
/// The site's shared secret (Confluence sends a long random string).
pub const SHARED_SECRET: &str =
    "ATCOgAAF4rR8ZYZ3vN0wqJ6rXbHk9sT2mLcP1dE5fG7hJ8kN3pQ4uV6wY0zA2bC4dE6fG8hJ0kL2mN4pQ6rS8tU0vW";
/// The viewer's Atlassian account id.
pub const ACCOUNT_ID: &str = "557058:f1b2c3d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d";

#[path = "../../tests/it/harness/rsa.rs"]
mod rsa;
pub use rsa::RsaKeys;

/// Makes a fresh 2048-bit RSA key pair.
pub fn new_rsa_keys() -> RsaKeys {
    rsa::new_rsa_keys().expect("RSA key pair")
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// The path of the macro iframe.
pub const MACRO_PATH: &str = "/confluence/get_task";

/// The query Confluence puts on a macro iframe (without `jwt`): the macro's own `id` plus the
/// standard Connect context parameters.
pub fn macro_query(task_id: i64) -> String {
    format!(
        "id={task_id}&pageId=98306&pageVersion=7&macroId=5f3e1a2b-7c4d-4e9f-a1b2-c3d4e5f6a7b8\
         &outputType=display&xdm_e=https%3A%2F%2Fexample.atlassian.net\
         &xdm_c=channel-{ADDON_KEY}__dynamic-task-macro6843219873124\
         &cp=%2Fwiki&xdm_deprecated_addon_key_do_not_use={ADDON_KEY}&lic=active\
         &cv=1001.0.0-SNAPSHOT&user_id=557058%3Af1b2c3d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d\
         &user_key=ff80808167a1b2c3016a1b2c3d4e0001&tz=Europe%2FBerlin&loc=en-GB"
    )
}

/// Claims of an iframe token as Confluence mints them, for `GET path?query`.
pub fn iframe_claims(path: &str, query: &str, ttl_secs: i64) -> Value {
    json!({
        "sub": ACCOUNT_ID,
        "qsh": qsh::qsh("GET", path, query, ""),
        "iss": CLIENT_KEY,
        "context": {
            "license": {"active": true},
            "confluence": {"editor": {"version": "v2"}},
            "user": {"accountId": ACCOUNT_ID}
        },
        "exp": now() + ttl_secs,
        "iat": now(),
    })
}

/// Signs claims with the site's shared secret.
pub fn hs256(claims: &Value) -> String {
    let key = EncodingKey::from_secret(SHARED_SECRET.as_bytes()).expect("HMAC key");
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &key).expect("HS256 token")
}

/// The full iframe URL (path and query, `jwt` last as Confluence puts it).
pub fn macro_uri(task_id: i64, ttl_secs: i64) -> String {
    let query = macro_query(task_id);
    let token = hs256(&iframe_claims(MACRO_PATH, &query, ttl_secs));
    format!("{MACRO_PATH}?{query}&jwt={token}")
}

/// A browser context token (`qsh: context-qsh`), as the JSON API receives.
pub fn context_token() -> String {
    hs256(&json!({
        "iss": CLIENT_KEY, "sub": ACCOUNT_ID, "iat": now(), "exp": now() + 900,
        "qsh": qsh::CONTEXT_QSH, "context": {"user": {"accountId": ACCOUNT_ID}}
    }))
}

/// The body of the `installed` callback for a site at `base_url` (such as `http://127.0.0.1:P/wiki`).
pub fn install_payload(base_url: &str) -> Value {
    json!({
        "key": ADDON_KEY,
        "clientKey": CLIENT_KEY,
        "sharedSecret": SHARED_SECRET,
        "baseUrl": base_url,
        "displayUrl": base_url,
        "productType": "confluence",
        "description": "Atlassian Confluence at https://example.atlassian.net",
        "eventType": "installed",
        "serverVersion": "6452",
        "pluginsVersion": "1001.0.0",
    })
}

/// What the site answers to `GET /wiki/rest/api/user?accountId=…` (the creator's name).
pub fn user_json() -> String {
    json!({"accountId": ACCOUNT_ID, "displayName": "Ada Lovelace", "publicName": "ada"}).to_string()
}

/// A signed install token for `POST /confluence/installed`.
pub fn install_token(keys: &RsaKeys) -> String {
    let claims = json!({
        "iss": CLIENT_KEY,
        "aud": SITE_URL,
        "iat": now(),
        "exp": now() + 180,
        "qsh": qsh::qsh("POST", "/confluence/installed", "", ""),
    });
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(KID.to_string());
    let key = EncodingKey::from_rsa_pem(keys.private_pem.as_bytes()).expect("RSA PEM");
    jsonwebtoken::encode(&header, &claims, &key).expect("RS256 token")
}
