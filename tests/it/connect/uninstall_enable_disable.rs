//! After the install: uninstall (secret erased, tasks kept), enable and disable (signed with
//! the site's secret, bound to their own path), and the orders they may arrive in.

use reqwest::Method;

use super::{assert_refused, create_task, row, send, task_ids, toggle};
use crate::harness::*;

#[actix_web::test]
async fn uninstall_refuses_the_sites_tokens_keeps_its_tasks_and_reinstall_brings_them_back() {
    let app = spawn_app().await;
    let site = Site::new("alpha");
    site.install(&app).await;
    let id = create_task(&app, &site, "Survives uninstall").await;
    let page = format!("/confluence/get_task?id={id}");
    assert_eq!(site.get(&app, &page).await.status(), 200);

    assert_eq!(
        site.post_lifecycle(&app, "uninstalled", &site.payload())
            .await,
        204
    );
    assert_eq!(row(&app, &site.client_key), (false, false, None));
    let tasks: i64 = db(&app)
        .query_row("SELECT COUNT(*) FROM tasks", (), |r| r.get(0))
        .unwrap();
    assert_eq!(tasks, 1, "tasks are kept");
    assert_refused(&site.get(&app, &page).await, "iframe after uninstall");
    assert_refused(
        &site.api(&app, Method::GET, "/api/tasks", None).await,
        "API after uninstall",
    );
    assert_eq!(toggle(&app, &site, "enabled").await, 401);

    // Idempotent.
    let after = dump(&app).await;
    assert_eq!(
        site.post_lifecycle(&app, "uninstalled", &site.payload())
            .await,
        204
    );
    assert_eq!(row(&app, &site.client_key), (false, false, None));
    assert_eq!(
        dump(&app).await,
        after,
        "a second uninstall changes nothing"
    );

    let back = Site {
        secret: "secret-after-reinstall".into(),
        ..site.clone()
    };
    back.install(&app).await;
    assert_eq!(
        row(&app, &site.client_key),
        (true, true, Some(back.secret.clone()))
    );
    assert_eq!(task_ids(&app, &back).await, vec![id]);
    assert_eq!(back.get(&app, &page).await.status(), 200);
}

#[actix_web::test]
async fn an_unsigned_uninstall_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let site = Site::new("alpha");
    site.install(&app).await;
    let before = dump(&app).await;
    let body = site.payload().to_string();
    let res = send(
        &app,
        Method::POST,
        "/confluence/uninstalled",
        None,
        None,
        Some(body.clone()),
    )
    .await;
    assert_refused(&res, "unsigned uninstall");
    let hs = site.token("POST", "/confluence/uninstalled");
    let res = send(
        &app,
        Method::POST,
        "/confluence/uninstalled",
        Some(&hs),
        None,
        Some(body),
    )
    .await;
    assert_refused(&res, "HS256 uninstall");
    assert_eq!(dump(&app).await, before);
}

async fn assert_site_refused(app: &TestApp, site: &Site, page: &str, what: &str) {
    assert_refused(
        &site.api(app, Method::GET, "/api/tasks", None).await,
        &format!("{what}: /api/tasks"),
    );
    assert_refused(&site.get(app, page).await, &format!("{what}: {page}"));
}

async fn assert_site_served(app: &TestApp, site: &Site, page: &str, what: &str) {
    let status = site
        .api(app, Method::GET, "/api/tasks", None)
        .await
        .status();
    assert_eq!(status, 200, "{what}: /api/tasks");
    assert_eq!(site.get(app, page).await.status(), 200, "{what}: {page}");
}

#[actix_web::test]
async fn disabling_refuses_the_sites_tokens_until_it_is_enabled_again() {
    let (app, site, page) = installed_with_a_macro().await;
    assert_site_served(&app, &site, &page, "installed").await;

    assert_eq!(toggle(&app, &site, "disabled").await, 204);
    assert_eq!(
        row(&app, &site.client_key),
        (true, false, Some(site.secret.clone()))
    );
    assert_site_refused(&app, &site, &page, "disabled").await;
    // A disabled site may repeat its disabled event.
    assert_eq!(toggle(&app, &site, "disabled").await, 204);

    assert_eq!(toggle(&app, &site, "enabled").await, 204);
    assert_eq!(
        row(&app, &site.client_key),
        (true, true, Some(site.secret.clone()))
    );
    assert_site_served(&app, &site, &page, "re-enabled").await;
}

#[actix_web::test]
async fn enabling_then_disabling_leaves_the_site_disabled() {
    let (app, site, page) = installed_with_a_macro().await;

    assert_eq!(toggle(&app, &site, "enabled").await, 204);
    assert_site_served(&app, &site, &page, "enabled").await;
    assert_eq!(toggle(&app, &site, "disabled").await, 204);
    assert_eq!(
        row(&app, &site.client_key),
        (true, false, Some(site.secret.clone()))
    );
    assert_site_refused(&app, &site, &page, "enabled then disabled").await;
    assert_eq!(toggle(&app, &site, "enabled").await, 204);
    assert_site_served(&app, &site, &page, "enabled again").await;
}

#[actix_web::test]
async fn enable_and_disable_accept_only_a_computed_qsh_for_the_same_site() {
    let app = spawn_app().await;
    let (site, other) = (Site::new("alpha"), Site::new("beta"));
    site.install(&app).await;
    other.install(&app).await;
    let before = dump(&app).await;
    let path = "/confluence/disabled";
    let body = site.payload().to_string();
    let cases: Vec<(&str, Option<String>, String)> = vec![
        ("no token", None, body.clone()),
        (
            "context token",
            Some(site.context_token("account-1")),
            body.clone(),
        ),
        (
            "qsh of enabled",
            Some(site.token("POST", "/confluence/enabled")),
            body.clone(),
        ),
        (
            "RS256 install token",
            Some(Site::rs256(&site.install_claims(path), Some(INSTALL_KID))),
            body.clone(),
        ),
        (
            "token of another site for this site's body",
            Some(other.token("POST", path)),
            body.clone(),
        ),
    ];
    for (name, token, body) in cases {
        let res = send(&app, Method::POST, path, token.as_deref(), None, Some(body)).await;
        assert_refused(&res, name);
        assert_eq!(dump(&app).await, before, "{name}");
    }
    let token = site.token("POST", path);
    let res = send(
        &app,
        Method::POST,
        path,
        Some(&token),
        None,
        Some("{".into()),
    )
    .await;
    assert_eq!(res.status(), 400, "malformed body");
    assert_eq!(dump(&app).await, before, "malformed body");
}

#[actix_web::test]
async fn disabled_and_uninstalled_in_either_order_end_uninstalled() {
    let (app, site, page) = installed_with_a_macro().await;

    // Disabled, then uninstalled.
    assert_eq!(toggle(&app, &site, "disabled").await, 204);
    assert_eq!(
        site.post_lifecycle(&app, "uninstalled", &site.payload())
            .await,
        204
    );
    assert_eq!(row(&app, &site.client_key), (false, false, None));
    assert_site_refused(&app, &site, &page, "disabled then uninstalled").await;

    // Uninstalled, then a late disabled (and enabled): refused, nothing changes.
    site.install(&app).await;
    assert_eq!(
        site.post_lifecycle(&app, "uninstalled", &site.payload())
            .await,
        204
    );
    let before = dump(&app).await;
    assert_eq!(toggle(&app, &site, "disabled").await, 401);
    assert_eq!(toggle(&app, &site, "enabled").await, 401);
    assert_eq!(dump(&app).await, before);
    assert_eq!(row(&app, &site.client_key), (false, false, None));

    // Both at once: whichever lands first, the site ends uninstalled and refused.
    site.install(&app).await;
    let payload = site.payload();
    let (disabled, uninstalled) = tokio::join!(
        toggle(&app, &site, "disabled"),
        site.post_lifecycle(&app, "uninstalled", &payload)
    );
    assert!(matches!(disabled, 204 | 401), "disabled: {disabled}");
    assert_eq!(uninstalled, 204);
    assert_eq!(row(&app, &site.client_key), (false, false, None));
    assert_site_refused(&app, &site, &page, "concurrent disabled and uninstalled").await;
}

/// A running app with the site "alpha" installed and the macro URL of one of its tasks.
async fn installed_with_a_macro() -> (TestApp, Site, String) {
    let app = spawn_app().await;
    let site = Site::new("alpha");
    site.install(&app).await;
    let id = create_task(&app, &site, "t").await;
    (app, site, format!("/confluence/get_task?id={id}"))
}
