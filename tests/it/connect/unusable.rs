//! A stored installation the app cannot use answers a request like an unknown site: a 401,
//! the same on both backends, with nothing stored — whether its base URL no longer parses or
//! its Connect way in lost its secret.

use reqwest::Method;

use super::REALM;
use crate::harness::*;

/// Installs a site, changes its row with `damage` (`?1` is its client key), and asserts that
/// a request with a token it signed is a 401 that stores nothing.
async fn a_request_of_a_damaged_site_is_a_401(name: &str, damage: &str) {
    let app = spawn_app().await;
    let site = Site::new(name);
    site.install(&app).await;
    assert_eq!(db(&app).execute(damage, [site.client_key.as_str()]), Ok(1));
    let before = dump(&app).await;
    let res = site.api(&app, Method::GET, "/api/tasks", None).await;
    assert_eq!(res.status(), 401, "{damage}");
    assert_eq!(res.headers()["www-authenticate"], REALM);
    assert_eq!(dump(&app).await, before, "nothing stored");
}

#[actix_web::test]
async fn an_installation_whose_base_url_no_longer_parses_is_a_401() {
    a_request_of_a_damaged_site_is_a_401(
        "unusable",
        "UPDATE jwt_tokens SET base_url = 'not a url' WHERE client_key = ?1",
    )
    .await;
}

#[actix_web::test]
async fn an_installation_without_its_secret_is_a_401() {
    a_request_of_a_damaged_site_is_a_401(
        "secretless",
        "UPDATE jwt_tokens SET shared_secret = NULL WHERE client_key = ?1",
    )
    .await;
}
