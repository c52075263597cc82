//! Forge Remote through the real server: the Forge Invocation Token matrix against a real local
//! JWKS server, tenant matching (Forge-only sites, reinstalls, Connect sites adopting Forge,
//! cross-site attempts), the task API under `/forge/api`, lifecycle events, display names
//! through the app system token, and logs that never carry a token.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use crate::harness::*;

#[actix_web::test]
async fn the_harness_jwks_server_publishes_keys_that_verify_minted_tokens() {
    let jwks = JwksServer::start();
    let set: Value = reqwest::get(jwks.url())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let site = ForgeSite::new();
    let token = site.token();
    let key = set["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == FORGE_KID)
        .unwrap();
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(key.clone()).unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[FORGE_APP_ARI]);
    validation.set_issuer(&[FIT_ISSUER]);
    let claims =
        jsonwebtoken::decode::<Value>(&token, &DecodingKey::from_jwk(&jwk).unwrap(), &validation)
            .unwrap()
            .claims;
    assert_eq!(
        claims["app"]["installationId"],
        site.installation_id.as_str()
    );
    assert_eq!(jwks.hits(), 1);

    let padded = public_jwk(rotated_key(), "padded", true);
    assert!(
        padded["n"].as_str().unwrap().ends_with('=')
            || padded["e"].as_str().unwrap().ends_with('=')
    );
    jwks.set_down(true);
    assert_eq!(reqwest::get(jwks.url()).await.unwrap().status(), 503);
}
