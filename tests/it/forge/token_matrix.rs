//! Every way a Forge Invocation Token can be wrong gets a 401 with a JSON body and changes
//! nothing; the key set is fetched, cached, refetched on rotation at most once per cooldown, and
//! used from memory while Atlassian's key server is down.

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{Value, json};

use super::{assert_refused, forge_create};
use crate::harness::*;

/// Sends `GET /forge/api/tasks` with `token` as the bearer.
async fn list_with(app: &TestApp, site: &ForgeSite, token: &str) -> reqwest::Response {
    site.call_with(app, token, None, Method::GET, "/forge/api/tasks", None)
        .await
}

fn b64url(value: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
}

/// The site's claims with `path` (dotted) set to `value`, or removed when `value` is null.
fn tweaked(site: &ForgeSite, path: &str, value: Value) -> Value {
    let mut claims = site.claims();
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts.pop().unwrap();
    let mut target = &mut claims;
    for part in parts {
        target = &mut target[part];
    }
    if value.is_null() {
        target.as_object_mut().unwrap().remove(last);
    } else {
        target[last] = value;
    }
    claims
}

fn signed(claims: &Value) -> String {
    sign_fit(claims, forge_key(), Some(FORGE_KID))
}

#[actix_web::test]
async fn every_wrong_token_is_a_401_with_a_json_body_and_changes_nothing() {
    let forge = spawn_forge_app().await;
    let app = &forge.app;
    let site = ForgeSite::new();
    // The site exists and has a task: a refused token must not reach or change it.
    forge_create(app, &site, "keep me").await;
    let before = dump(app).await;
    let now = now();

    let public_pem = forge_key().public_pem.clone();
    let mut hs_header = Header::new(Algorithm::HS256);
    hs_header.kid = Some(FORGE_KID.to_string());
    let hs256_with_public_key = jsonwebtoken::encode(
        &hs_header,
        &site.claims(),
        &EncodingKey::from_secret(public_pem.as_bytes()).unwrap(),
    )
    .unwrap();
    let alg_none = format!(
        "{}.{}.",
        b64url(&json!({"alg": "none", "typ": "JWT", "kid": FORGE_KID})),
        b64url(&site.claims())
    );
    let another_app = {
        let claims = tweaked(&site, "aud", json!(OTHER_APP_ARI));
        let mut claims = claims;
        claims["app"]["id"] = json!(OTHER_APP_ARI);
        signed(&claims)
    };
    let mut oversized = site.claims();
    oversized["context"]["padding"] = json!("x".repeat(7 * 1024));
    let oversized = signed(&oversized);
    let tampered = {
        let token = site.token();
        let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
        let mut claims = site.claims();
        claims["principal"] = json!("someone-else");
        parts[1] = b64url(&claims);
        parts.join(".")
    };

    let cases: Vec<(&str, String)> = vec![
        (
            "wrong iss",
            signed(&tweaked(&site, "iss", json!("forge/other"))),
        ),
        ("no iss", signed(&tweaked(&site, "iss", Value::Null))),
        (
            "wrong aud",
            signed(&tweaked(&site, "aud", json!(FORGE_APP_UUID))),
        ),
        ("no aud", signed(&tweaked(&site, "aud", Value::Null))),
        ("another app's token (aud and app.id its own)", another_app),
        (
            "our app.id but another aud",
            signed(&tweaked(&site, "aud", json!(OTHER_APP_ARI))),
        ),
        ("expired", signed(&tweaked(&site, "exp", json!(now - 120)))),
        ("no exp", signed(&tweaked(&site, "exp", Value::Null))),
        (
            "not yet valid",
            signed(&tweaked(&site, "nbf", json!(now + 120))),
        ),
        (
            "issued in the future",
            signed(&tweaked(&site, "iat", json!(now + 120))),
        ),
        ("HS256 signed with the public key", hs256_with_public_key),
        ("alg none", alg_none),
        ("no kid", sign_fit(&site.claims(), forge_key(), None)),
        (
            "signed by another key under our kid",
            sign_fit(&site.claims(), rotated_key(), Some(FORGE_KID)),
        ),
        ("claims changed after signing", tampered),
        ("oversized", oversized),
        (
            "no installationId",
            signed(&tweaked(&site, "app.installationId", Value::Null)),
        ),
        ("no app at all", signed(&tweaked(&site, "app", Value::Null))),
        (
            "context cloud id disagreeing with apiBaseUrl",
            signed(&tweaked(&site, "context.cloudId", json!("another-cloud"))),
        ),
        ("not a token", "not.a.token".to_string()),
        ("empty", String::new()),
    ];
    for (what, token) in &cases {
        let res = list_with(app, &site, token).await;
        assert_refused(res, what).await;
    }

    // Missing or wrong schemes, and two Authorization headers.
    let url = format!("{}/forge/api/tasks", app.address);
    let valid = site.token();
    let requests = [
        ("no Authorization", app.client.get(&url)),
        (
            "a Connect JWT scheme",
            app.client
                .get(&url)
                .header("Authorization", format!("JWT {valid}")),
        ),
        (
            "two Authorization headers",
            app.client
                .get(&url)
                .header("Authorization", format!("Bearer {valid}"))
                .header("Authorization", format!("Bearer {valid}")),
        ),
    ];
    for (what, request) in requests {
        assert_refused(request.send().await.unwrap(), what).await;
    }
    assert_eq!(dump(app).await, before, "no refused token changed anything");

    // The same site with a valid token still works.
    assert_eq!(list_with(app, &site, &site.token()).await.status(), 200);
}

#[actix_web::test]
async fn an_oversized_token_is_a_401_not_a_431() {
    let forge = spawn_forge_app().await;
    let site = ForgeSite::new();
    let mut claims = site.claims();
    claims["context"]["padding"] = json!("x".repeat(7 * 1024));
    let token = signed(&claims);
    assert!(
        token.len() > 10 * 1024 && token.len() < 15 * 1024,
        "{}",
        token.len()
    );
    assert_refused(list_with(&forge.app, &site, &token).await, "oversized").await;
    assert_eq!(forge.jwks.hits(), 0, "refused before any key lookup");
}

#[actix_web::test]
async fn keys_are_fetched_once_and_an_unknown_kid_refetches_at_most_once_per_cooldown() {
    let forge = spawn_forge_app().await;
    let (app, jwks) = (&forge.app, &forge.jwks);
    let site = ForgeSite::new();
    for _ in 0..3 {
        assert_eq!(list_with(app, &site, &site.token()).await.status(), 200);
    }
    assert_eq!(jwks.hits(), 1, "one fetch serves every request");

    // Tokens naming a kid Atlassian never published: concurrent ones share one refetch.
    let unknown = sign_fit(&site.claims(), rotated_key(), Some("unpublished"));
    let attempts = (0..8).map(|_| list_with(app, &site, &unknown));
    for res in futures_util::future::join_all(attempts).await {
        assert_eq!(res.status(), 401);
    }
    assert_eq!(jwks.hits(), 2, "one refetch for all of them");
    let another = sign_fit(&site.claims(), rotated_key(), Some("also-unpublished"));
    assert_eq!(list_with(app, &site, &another).await.status(), 401);
    assert_eq!(jwks.hits(), 2, "no second refetch within the cooldown");
}

#[actix_web::test]
async fn a_rotated_key_is_picked_up_with_one_refetch_and_padded_keys_are_read() {
    let forge = spawn_forge_app().await;
    let (app, jwks) = (&forge.app, &forge.jwks);
    let site = ForgeSite::new();
    assert_eq!(list_with(app, &site, &site.token()).await.status(), 200);
    assert_eq!(jwks.hits(), 1);

    // Atlassian rotates: a new key (published with padded n/e) signs new tokens.
    jwks.publish(public_jwk(rotated_key(), "forge-test-key-2", true));
    let rotated = sign_fit(&site.claims(), rotated_key(), Some("forge-test-key-2"));
    assert_eq!(list_with(app, &site, &rotated).await.status(), 200);
    assert_eq!(jwks.hits(), 2, "one refetch found the new key");
    assert_eq!(list_with(app, &site, &rotated).await.status(), 200);
    assert_eq!(list_with(app, &site, &site.token()).await.status(), 200);
    assert_eq!(jwks.hits(), 2, "both keys now served from memory");
}

#[actix_web::test]
async fn while_the_key_server_is_down_cached_keys_still_verify() {
    let forge = spawn_forge_app().await;
    let (app, jwks) = (&forge.app, &forge.jwks);
    let site = ForgeSite::new();
    assert_eq!(list_with(app, &site, &site.token()).await.status(), 200);
    jwks.set_down(true);
    assert_eq!(list_with(app, &site, &site.token()).await.status(), 200);
    // A kid that would need the (down) key server is refused, with one attempt.
    let unknown = sign_fit(&site.claims(), rotated_key(), Some("unpublished"));
    let hits = jwks.hits();
    assert_refused(
        list_with(app, &site, &unknown).await,
        "unknown kid, server down",
    )
    .await;
    assert_eq!(jwks.hits(), hits + 1);
    // The cached key keeps working after that failed refetch.
    assert_eq!(list_with(app, &site, &site.token()).await.status(), 200);
}

#[actix_web::test]
async fn with_the_key_server_down_and_no_keys_cached_every_token_is_refused_until_it_returns() {
    let forge = spawn_forge_app().await;
    let (app, jwks) = (&forge.app, &forge.jwks);
    let site = ForgeSite::new();
    jwks.set_down(true);
    for _ in 0..3 {
        assert_refused(list_with(app, &site, &site.token()).await, "server down").await;
    }
    assert_eq!(
        jwks.hits(),
        1,
        "a failed fetch is remembered briefly, not repeated"
    );
    assert_eq!(site_rows_count(app), 0, "nothing stored");
    jwks.set_down(false);
    let recovered = poll_async(PATIENCE, async || {
        let status = list_with(app, &site, &site.token()).await.status();
        (status == 200).then_some(())
    })
    .await;
    assert!(
        recovered.is_some(),
        "tokens verify again once the key server is back"
    );
}

fn site_rows_count(app: &TestApp) -> i64 {
    db(app)
        .query_row("SELECT count(*) FROM jwt_tokens", (), |r| r.get(0))
        .unwrap()
}

/// Issue 24's INFO items: tokens whose signature holds but which are for more than our app,
/// too old or too long-lived, or carry an `apiBaseUrl` of another shape. Each is a 401, and
/// nothing is stored — the site they name would otherwise be created on first use.
#[actix_web::test]
async fn an_audience_beyond_us_an_old_token_or_an_odd_api_base_url_is_a_401_storing_nothing() {
    let forge = spawn_forge_app().await;
    let app = &forge.app;
    let known = ForgeSite::new();
    forge_create(app, &known, "keep me").await;
    let before = dump(app).await;
    let now = now();
    let fresh = ForgeSite::new();
    let api = |url: String| signed(&tweaked(&fresh, "app.apiBaseUrl", json!(url)));
    let cloud = fresh.cloud_id.clone();
    let mut long_lived = fresh.claims();
    long_lived["exp"] = json!(now + 3600);
    let mut replayed = fresh.claims();
    (replayed["iat"], replayed["nbf"]) = (json!(now - 600), json!(now - 600));
    replayed["exp"] = json!(now + 60);

    let cases: Vec<(&str, String)> = vec![
        (
            "aud: ours and another app's",
            signed(&tweaked(
                &fresh,
                "aud",
                json!([FORGE_APP_ARI, OTHER_APP_ARI]),
            )),
        ),
        (
            "aud: ours twice",
            signed(&tweaked(
                &fresh,
                "aud",
                json!([FORGE_APP_ARI, FORGE_APP_ARI]),
            )),
        ),
        (
            "aud: an empty array",
            signed(&tweaked(&fresh, "aud", json!([]))),
        ),
        ("no iat", signed(&tweaked(&fresh, "iat", Value::Null))),
        ("valid for an hour", signed(&long_lived)),
        ("issued ten minutes ago", signed(&replayed)),
        (
            "apiBaseUrl on another host",
            api(format!("https://evil.example/ex/confluence/{cloud}")),
        ),
        (
            "apiBaseUrl on a look-alike host",
            api(format!(
                "https://api.atlassian.com.evil.example/ex/confluence/{cloud}"
            )),
        ),
        (
            "apiBaseUrl with more path",
            api(format!(
                "https://api.atlassian.com/ex/confluence/{cloud}/wiki"
            )),
        ),
        (
            "apiBaseUrl with a query",
            api(format!(
                "https://api.atlassian.com/ex/confluence/{cloud}?x=1"
            )),
        ),
        (
            "apiBaseUrl of another product",
            api(format!("https://api.atlassian.com/ex/bitbucket/{cloud}")),
        ),
        (
            "apiBaseUrl on staging without the staging key set",
            api(format!(
                "https://api.stg.atlassian.com/ex/confluence/{cloud}"
            )),
        ),
        (
            "apiBaseUrl over http on another host",
            api(format!("http://api.atlassian.com/ex/confluence/{cloud}")),
        ),
    ];
    for (what, token) in &cases {
        let res = list_with(app, &fresh, token).await;
        assert_refused(res, what).await;
    }
    assert_eq!(dump(app).await, before, "no refused token stored anything");

    // The accepted forms: aud as an array of exactly us, and Atlassian's own API base URL.
    let one_element = signed(&tweaked(&fresh, "aud", json!([FORGE_APP_ARI])));
    assert_eq!(list_with(app, &fresh, &one_element).await.status(), 200);
    let other = ForgeSite::new();
    let atlassian = format!("https://api.atlassian.com/ex/confluence/{}", other.cloud_id);
    let token = signed(&tweaked(&other, "app.apiBaseUrl", json!(atlassian)));
    assert_eq!(list_with(app, &other, &token).await.status(), 200);
    let stored: Option<String> = db(app)
        .query_row(
            "SELECT api_base_url FROM jwt_tokens WHERE cloud_id = ?1",
            vals![other.cloud_id.as_str()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stored.as_deref(), Some(atlassian.as_str()));
}
