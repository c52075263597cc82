//! One Confluence site is one tenant however it reaches us: a Forge call finds its site by
//! installation id, else by cloud id (a reinstall keeps the tasks; a Connect site that adopted
//! Forge shows its tasks through Forge), else it is a new Forge-only site. A token can never
//! reach another site's tasks, and a token naming two sites is refused.

use reqwest::Method;
use serde_json::json;

use super::{SiteRow, assert_refused, forge_create, forge_ids, ids, site_rows};
use crate::harness::*;

async fn connect_ids(app: &TestApp, site: &Site) -> Vec<i64> {
    let res = site.api(app, Method::GET, "/api/tasks", None).await;
    assert_eq!(res.status(), 200);
    ids(&res.json().await.unwrap())
}

/// Installs a Connect site with this `installed` payload (asserts 204) and creates a task
/// through Connect; the task's id.
async fn install_with_a_task(app: &TestApp, connect: &Site, payload: &serde_json::Value) -> i64 {
    assert_eq!(connect.post_lifecycle(app, "installed", payload).await, 204);
    connect.create_task(app, "connect task").await["id"]
        .as_i64()
        .unwrap()
}

#[actix_web::test]
async fn a_new_installation_is_a_forge_only_site_recorded_with_what_forge_sent() {
    let forge = spawn_forge_app().await;
    let site = ForgeSite::new();
    forge_create(&forge.app, &site, "first").await;
    forge_create(&forge.app, &site, "second").await;
    let want: Vec<SiteRow> = vec![(
        None,
        Some(site.installation_id.clone()),
        Some(site.cloud_id.clone()),
        Some(site.api_base_url.clone()),
    )];
    assert_eq!(
        site_rows(&forge.app),
        want,
        "one site, no client key or secret"
    );
    let secret: Option<String> = db(&forge.app)
        .query_row("SELECT shared_secret FROM jwt_tokens", (), |r| r.get(0))
        .unwrap();
    assert_eq!(secret, None);
}

#[actix_web::test]
async fn a_reinstall_gets_a_new_installation_id_and_keeps_the_sites_tasks() {
    let forge = spawn_forge_app().await;
    let app = &forge.app;
    let site = ForgeSite::new();
    let id = forge_create(app, &site, "survives reinstall").await["id"]
        .as_i64()
        .unwrap();

    let again = site.reinstalled();
    assert_eq!(forge_ids(app, &again).await, vec![id]);
    let rows = site_rows(app);
    assert_eq!(rows.len(), 1, "still one site: {rows:?}");
    assert_eq!(rows[0].1.as_deref(), Some(again.installation_id.as_str()));
    // The new installation's tokens work from now on, also from the cache.
    forge_create(app, &again, "after reinstall").await;
    assert_eq!(forge_ids(app, &again).await.len(), 2);
}

#[actix_web::test]
async fn a_token_never_reaches_another_sites_tasks_and_one_naming_two_sites_is_refused() {
    let forge = spawn_forge_app().await;
    let app = &forge.app;
    let (a, b) = (ForgeSite::new(), ForgeSite::new());
    let secret = forge_create(app, &a, "a's secret").await["id"]
        .as_i64()
        .unwrap();
    forge_create(app, &b, "b's own").await;
    assert!(!forge_ids(app, &b).await.contains(&secret));
    let res = b
        .call(
            app,
            Method::GET,
            &format!("/forge/api/tasks/{secret}"),
            None,
        )
        .await;
    assert_eq!(res.status(), 404);
    let before = dump(app).await;

    // a's installation id with b's cloud id: two sites, refused.
    let mixed = ForgeSite {
        cloud_id: b.cloud_id.clone(),
        api_base_url: b.api_base_url.clone(),
        ..a.clone()
    };
    let res = mixed.call(app, Method::GET, "/forge/api/tasks", None).await;
    assert_refused(res, "installation of a, cloud of b").await;
    // b's installation id with a cloud id no site has: b is recorded with another cloud.
    let moved = ForgeSite {
        cloud_id: "0000aaaa-0000-4000-8000-000000000000".into(),
        api_base_url: "http://127.0.0.1:9/ex/confluence/0000aaaa-0000-4000-8000-000000000000"
            .into(),
        ..b.clone()
    };
    let res = moved.call(app, Method::GET, "/forge/api/tasks", None).await;
    assert_refused(res, "installation of b, unknown cloud").await;
    assert_eq!(dump(app).await, before, "refusals changed nothing");
}

#[actix_web::test]
async fn a_connect_site_that_adopts_forge_shows_the_same_tasks_both_ways() {
    let forge = spawn_forge_app().await;
    let app = &forge.app;
    let connect = Site::new("adopter");
    connect.install(app).await;
    let old = connect.create_task(app, "from Connect days").await["id"]
        .as_i64()
        .unwrap();

    // Connect on Forge: the installed callback now carries the Forge ids.
    let fsite = ForgeSite::new();
    let status = connect.adopt_forge(app, &fsite).await;
    assert_eq!(status, 204);
    assert_eq!(forge_ids(app, &fsite).await, vec![old]);
    let new = forge_create(app, &fsite, "from Forge").await["id"]
        .as_i64()
        .unwrap();
    assert_eq!(connect_ids(app, &connect).await, vec![new, old]);
    let rows = site_rows(app);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].0.as_deref(), Some(connect.client_key.as_str()));
    assert_eq!(rows[0].2.as_deref(), Some(fsite.cloud_id.as_str()));
    assert_eq!(
        rows[0].3.as_deref(),
        Some(fsite.api_base_url.as_str()),
        "apiBaseUrl recorded"
    );

    // A later Forge reinstall (new installation id, same cloud id) keeps all of it.
    let again = fsite.reinstalled();
    assert_eq!(forge_ids(app, &again).await, vec![new, old]);
    assert_eq!(site_rows(app).len(), 1);
}

#[actix_web::test]
async fn a_connect_site_known_only_by_cloud_id_is_found_by_a_forge_installation() {
    let forge = spawn_forge_app().await;
    let app = &forge.app;
    let connect = Site::new("cloud-only");
    let fsite = ForgeSite::new();
    let mut payload = connect.payload();
    payload["cloudId"] = json!(fsite.cloud_id);
    let old = install_with_a_task(app, &connect, &payload).await;
    assert_eq!(forge_ids(app, &fsite).await, vec![old]);
    let rows = site_rows(app);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].1.as_deref(), Some(fsite.installation_id.as_str()));
}

#[actix_web::test]
async fn a_connect_site_known_only_by_installation_id_learns_its_cloud_id_from_forge() {
    let forge = spawn_forge_app().await;
    let app = &forge.app;
    let connect = Site::new("installation-only");
    let fsite = ForgeSite::new();
    let mut payload = adopted_payload(&connect, &fsite);
    payload.as_object_mut().unwrap().remove("cloudId");
    let old = install_with_a_task(app, &connect, &payload).await;
    assert_eq!(site_rows(app)[0].2, None, "no cloud id yet");

    // The first Forge call finds the site by installation id and records what it tells: the
    // cloud id, the API base URL, and the Forge way in (first use installs it).
    assert_eq!(forge_ids(app, &fsite).await, vec![old]);
    let rows = site_rows(app);
    let want: Vec<SiteRow> = vec![(
        Some(connect.client_key.clone()),
        Some(fsite.installation_id.clone()),
        Some(fsite.cloud_id.clone()),
        Some(fsite.api_base_url.clone()),
    )];
    assert_eq!(rows, want);
    let (state, installed): (Option<String>, i64) = db(app)
        .query_row(
            "SELECT forge_state, CASE WHEN installed THEN 1 ELSE 0 END FROM jwt_tokens",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((state.as_deref(), installed), (Some("installed"), 1));
}

#[actix_web::test]
async fn a_site_met_through_forge_first_merges_into_its_connect_install() {
    let forge = spawn_forge_app().await;
    let app = &forge.app;
    let fsite = ForgeSite::new();
    let early = forge_create(app, &fsite, "before the Connect install").await["id"]
        .as_i64()
        .unwrap();
    let connect = Site::new("late-connect");
    let status = connect.adopt_forge(app, &fsite).await;
    assert_eq!(status, 204);
    let rows = site_rows(app);
    assert_eq!(
        rows.len(),
        1,
        "the Forge-only row merged into the Connect one: {rows:?}"
    );
    assert_eq!(rows[0].0.as_deref(), Some(connect.client_key.as_str()));
    assert_eq!(rows[0].3.as_deref(), Some(fsite.api_base_url.as_str()));
    assert_eq!(connect_ids(app, &connect).await, vec![early]);
    // The Forge side follows the merge at once (its cache of sites was invalidated).
    let later = forge_create(app, &fsite, "after").await["id"]
        .as_i64()
        .unwrap();
    assert_eq!(connect_ids(app, &connect).await, vec![later, early]);
}

#[actix_web::test]
async fn a_connect_install_claiming_another_connect_sites_forge_ids_is_refused() {
    let forge = spawn_forge_app().await;
    let app = &forge.app;
    let (first, second) = (Site::new("first"), Site::new("second"));
    let fsite = ForgeSite::new();
    assert_eq!(
        first
            .post_lifecycle(app, "installed", &adopted_payload(&first, &fsite))
            .await,
        204
    );
    first.create_task(app, "first's").await;
    second.install(app).await;
    let before = dump(app).await;
    for field in ["installationId", "cloudId"] {
        let mut payload = second.payload();
        let value = adopted_payload(&first, &fsite)[field].clone();
        payload[field] = value;
        assert_eq!(
            second.post_lifecycle(app, "installed", &payload).await,
            400,
            "{field}"
        );
    }
    let mut payload = second.payload();
    payload["cloudId"] = json!("../not a cloud id");
    assert_eq!(second.post_lifecycle(app, "installed", &payload).await, 400);
    assert_eq!(dump(app).await, before, "nothing changed");
}

#[actix_web::test]
async fn one_installation_spelt_two_ways_is_one_site_and_never_retires_itself() {
    let forge = spawn_forge_app().await;
    let app = &forge.app;
    let connect = Site::new("spellings");
    connect.install(app).await;
    let old = connect.create_task(app, "from Connect days").await["id"]
        .as_i64()
        .unwrap();
    // Connect's `installed` names the installation by its bare uuid; Forge's token by the ARI,
    // here in upper case. Both are the one installation: no reinstall, nothing retired.
    let fsite = ForgeSite::new();
    let uuid = fsite
        .installation_id
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let mut payload = adopted_payload(&connect, &fsite);
    payload["installationId"] = json!(uuid);
    assert_eq!(
        connect.post_lifecycle(app, "installed", &payload).await,
        204
    );
    let mut shouting = fsite.clone();
    shouting.installation_id = fsite.installation_id.to_uppercase();
    assert_eq!(forge_ids(app, &shouting).await, vec![old]);
    assert_eq!(forge_ids(app, &fsite).await, vec![old]);
    let rows = site_rows(app);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        rows[0].1.as_deref(),
        Some(fsite.installation_id.as_str()),
        "stored as the lower-case ARI"
    );
    let retired: i64 = db(app)
        .query_row(
            "SELECT count(*) FROM forge_retired_installations",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(retired, 0);
}

#[actix_web::test]
async fn concurrent_first_calls_of_one_installation_make_one_site_and_rewrite_nothing() {
    // The resolution reads, decides and writes in one transaction under the sites lock
    // (IMMEDIATE on SQLite, the advisory lock on PostgreSQL): without it, two first calls
    // would both create the site (or one would fail on the unique installation id).
    let forge = spawn_forge_app().await;
    let app = &forge.app;
    let site = ForgeSite::new();
    let calls = (0..8).map(|_| site.call(app, Method::GET, "/forge/api/tasks", None));
    for res in futures_util::future::join_all(calls).await {
        assert_eq!(res.status(), 200);
    }
    let rows = site_rows(app);
    assert_eq!(rows.len(), 1, "one site: {rows:?}");
    assert_eq!(rows[0].1.as_deref(), Some(site.installation_id.as_str()));
    // The calls that found the site it created had nothing new to tell: no row rewritten.
    let untouched: i64 = db(app)
        .query_row(
            "SELECT count(*) FROM jwt_tokens WHERE updated_at = forge_installed_at
                 AND installed_at = forge_installed_at",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(untouched, 1);
}
