//! Forge Remote through the real server: the Forge Invocation Token matrix against a real local
//! JWKS server, tenant matching (Forge-only sites, reinstalls, Connect sites adopting Forge,
//! cross-site attempts), the task API under `/forge/api`, lifecycle events, the app system
//! token (never used for display names) against a stand-in Confluence, the schema migration on a real
//! file, and logs that never carry a token.

mod api;
mod events;
pub(crate) mod jira;
mod jira_events;
mod jira_progress;
mod logs;
mod merge;
mod migration;
mod names;
mod tenants;
mod token_matrix;
mod users;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::*;

/// Asserts a 401 with a JSON error body (Forge reserves 401 for token failures and wants a
/// JSON body on every non-2xx answer).
async fn assert_refused(res: reqwest::Response, what: &str) {
    assert_eq!(res.status(), 401, "{what}");
    let challenge = res
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap());
    assert!(
        challenge.is_some_and(|c| c.starts_with("Bearer realm=")),
        "{what}: WWW-Authenticate {challenge:?}"
    );
    assert_json_error(res, what).await;
}

/// Asserts the answer is `application/json` with a non-empty `error`.
async fn assert_json_error(res: reqwest::Response, what: &str) {
    let content_type = res.headers()["content-type"].to_str().unwrap().to_string();
    assert!(
        content_type.starts_with("application/json"),
        "{what}: {content_type}"
    );
    let body: Value = res.json().await.unwrap();
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{what}: {body}"
    );
}

/// Creates a task through `/forge/api/tasks` and returns it (asserts 201).
async fn forge_create(app: &TestApp, site: &ForgeSite, title: &str) -> Value {
    let res = site
        .call(
            app,
            Method::POST,
            "/forge/api/tasks",
            Some(json!({"title": title})),
        )
        .await;
    assert_eq!(res.status(), 201, "creating {title:?}");
    res.json().await.unwrap()
}

/// The ids `/forge/api/tasks` lists for a site (asserts 200).
async fn forge_ids(app: &TestApp, site: &ForgeSite) -> Vec<i64> {
    let res = site.call(app, Method::GET, "/forge/api/tasks", None).await;
    assert_eq!(res.status(), 200);
    ids(&res.json().await.unwrap())
}

/// The ids of a task list.
fn ids(list: &Value) -> Vec<i64> {
    list["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect()
}

/// `(client_key, installation_id, cloud_id, api_base_url)` of every site row, by id.
type SiteRow = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn site_rows(app: &TestApp) -> Vec<SiteRow> {
    db(app)
        .rows(
            "SELECT client_key, installation_id, cloud_id, api_base_url FROM jwt_tokens ORDER BY id",
            (),
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0).unwrap(), r.get(1).unwrap(), r.get(2).unwrap(), r.get(3).unwrap()))
        .collect()
}

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
    let key = DecodingKey::from_jwk(&jwk).unwrap();
    let claims = jsonwebtoken::decode::<Value>(&site.token(), &key, &validation)
        .unwrap()
        .claims;
    assert_eq!(
        claims["app"]["installationId"],
        site.installation_id.as_str()
    );
    assert_eq!(jwks.hits(), 1);
    jwks.set_down(true);
    assert_eq!(reqwest::get(jwks.url()).await.unwrap().status(), 503);
}

#[actix_web::test]
async fn with_forge_off_the_forge_routes_answer_404_and_connect_works_as_before() {
    let app = spawn_app().await;
    let jwks = JwksServer::start();
    let site = ForgeSite::new();
    for (method, path) in [
        (Method::GET, "/forge/api/tasks"),
        (Method::POST, "/forge/api/tasks"),
        (Method::GET, "/forge/api/tasks/1"),
        (Method::PATCH, "/forge/api/tasks/1"),
        (Method::DELETE, "/forge/api/tasks/1"),
        (Method::POST, "/forge/api/publish"),
        (Method::POST, "/forge/events"),
        (Method::GET, "/forge/anything"),
    ] {
        let body = (method != Method::GET).then(|| json!({"title": "x"}));
        let res = site.call(&app, method.clone(), path, body).await;
        assert_eq!(res.status(), 404, "{method} {path}");
        assert_json_error(res, path).await;
    }
    assert_eq!(jwks.hits(), 0, "no key set is fetched with Forge off");
    assert_eq!(site_rows(&app), vec![], "nothing stored");

    let connect = Site::new("still-connect");
    connect.install(&app).await;
    connect.create_task(&app, "as before").await;
    let res = connect.api(&app, Method::GET, "/api/tasks", None).await;
    assert_eq!(res.status(), 200);
}

#[actix_web::test]
async fn with_forge_on_an_unknown_forge_path_or_method_is_a_json_404() {
    let forge = spawn_forge_app().await;
    let site = ForgeSite::new();
    for (method, path) in [
        (Method::GET, "/forge/nothing-here"),
        (Method::PUT, "/forge/api/tasks/1"),
        (Method::GET, "/forge/events"),
    ] {
        let res = site.call(&forge.app, method.clone(), path, None).await;
        assert_eq!(res.status(), 404, "{method} {path}");
        assert_json_error(res, path).await;
    }
}
