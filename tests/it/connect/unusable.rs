//! A stored installation the app cannot use (its base URL no longer parses) answers a request
//! like an unknown site: a 401, the same on both backends, with nothing stored.

use reqwest::Method;

use super::REALM;
use crate::harness::*;

#[actix_web::test]
async fn an_unusable_installation_row_is_a_401_and_changes_nothing() {
    let app = spawn_app().await;
    let site = Site::new("unusable");
    site.install(&app).await;
    db(&app)
        .execute(
            "UPDATE jwt_tokens SET base_url = ?1 WHERE client_key = ?2",
            ["not a url", site.client_key.as_str()],
        )
        .unwrap();
    let before = dump(&app);
    let res = site.api(&app, Method::GET, "/api/tasks", None).await;
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["www-authenticate"], REALM);
    assert_eq!(dump(&app), before, "nothing stored");
}

#[actix_web::test]
async fn a_site_whose_connect_way_in_is_gone_is_a_401() {
    let app = spawn_app().await;
    let site = Site::new("secretless");
    site.install(&app).await;
    db(&app)
        .execute(
            "UPDATE jwt_tokens SET shared_secret = NULL WHERE client_key = ?1",
            [site.client_key.as_str()],
        )
        .unwrap();
    let before = dump(&app);
    let res = site.api(&app, Method::GET, "/api/tasks", None).await;
    assert_eq!(res.status(), 401);
    assert_eq!(dump(&app), before, "nothing stored");
}
