//! `POST /forge/events`: lifecycle triggers, verified like every Forge call, accepted at the top
//! level or under `payload`, recorded, answered 200; bad bodies are 400 and bodies naming
//! another installation or app 401, with nothing stored.

use reqwest::Method;
use serde_json::{Value, json};

use super::{assert_json_error, assert_refused, forge_create, forge_ids, site_rows};
use crate::harness::*;

async fn post_event(app: &TestApp, site: &ForgeSite, body: Value) -> reqwest::Response {
    site.call(app, Method::POST, "/forge/events", Some(body))
        .await
}

async fn assert_recorded(res: reqwest::Response, what: &str) {
    assert_eq!(res.status(), 200, "{what}");
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"status": "recorded"}),
        "{what}"
    );
}

#[actix_web::test]
async fn an_installed_event_at_the_top_level_or_under_payload_records_the_installation() {
    let forge = spawn_forge_app().await;
    let app = &forge.app;
    let flat = ForgeSite::new();
    assert_recorded(
        post_event(app, &flat, flat.installed_event()).await,
        "top level",
    )
    .await;
    let nested = ForgeSite::new();
    let body = json!({
        "payload": nested.installed_event(),
        "context": {"cloudId": nested.cloud_id, "moduleKey": "todo-lifecycle"},
    });
    assert_recorded(post_event(app, &nested, body).await, "under payload").await;
    let rows = site_rows(app);
    let recorded: Vec<(Option<String>, Option<String>)> =
        rows.iter().map(|r| (r.1.clone(), r.2.clone())).collect();
    assert_eq!(
        recorded,
        vec![
            (
                Some(flat.installation_id.clone()),
                Some(flat.cloud_id.clone())
            ),
            (
                Some(nested.installation_id.clone()),
                Some(nested.cloud_id.clone())
            ),
        ]
    );
    assert!(
        rows.iter().all(|r| r.0.is_none() && r.3.is_some()),
        "{rows:?}"
    );
    // Events come again (Forge retries): nothing is duplicated.
    assert_recorded(
        post_event(app, &flat, flat.installed_event()).await,
        "retry",
    )
    .await;
    assert_eq!(site_rows(app).len(), 2);
}

#[actix_web::test]
async fn an_upgraded_event_or_a_trigger_token_without_context_records_the_same_site() {
    let forge = spawn_forge_app().await;
    let app = &forge.app;
    let site = ForgeSite::new();
    let id = forge_create(app, &site, "mine").await["id"]
        .as_i64()
        .unwrap();
    // Triggers carry no principal and may carry no context: the cloud id comes from apiBaseUrl.
    let mut claims = site.claims();
    claims.as_object_mut().unwrap().remove("principal");
    claims.as_object_mut().unwrap().remove("context");
    let token = sign_fit(&claims, forge_key(), Some(FORGE_KID));
    let body = json!({
        "eventType": "avi:forge:upgraded:app",
        "id": site.installation_id,
        "upgraderAccountId": "admin",
        "app": {"id": FORGE_APP_ARI, "version": "2.0.0"},
    });
    let res = site
        .call_with(app, &token, None, Method::POST, "/forge/events", Some(body))
        .await;
    assert_recorded(res, "upgraded").await;
    assert_eq!(site_rows(app).len(), 1);
    // A reinstall announced by its event, before any UI call: the tasks are still there.
    let again = site.reinstalled();
    assert_recorded(
        post_event(app, &again, again.installed_event()).await,
        "reinstalled",
    )
    .await;
    assert_eq!(site_rows(app).len(), 1);
    assert_eq!(forge_ids(app, &again).await, vec![id]);
}

#[actix_web::test]
async fn an_event_we_do_not_handle_is_acknowledged_and_stores_nothing() {
    let forge = spawn_forge_app().await;
    let site = ForgeSite::new();
    let mut body = site.installed_event();
    body["eventType"] = json!("avi:confluence:created:page");
    let res = post_event(&forge.app, &site, body).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"status": "ignored"})
    );
    assert_eq!(site_rows(&forge.app), vec![]);
}

#[actix_web::test]
async fn bad_event_bodies_are_400_and_mismatched_or_unsigned_ones_401_with_nothing_stored() {
    let forge = spawn_forge_app().await;
    let app = &forge.app;
    let site = ForgeSite::new();
    let url = format!("{}/forge/events", app.address);
    let token = site.token();
    let bodies: Vec<(&str, &str, String)> = vec![
        ("not JSON", "application/json", "{oops".into()),
        ("not an object", "application/json", "[1, 2]".into()),
        (
            "no id",
            "application/json",
            json!({"eventType": "avi:forge:installed:app"}).to_string(),
        ),
        (
            "payload not an object",
            "application/json",
            json!({"payload": "x"}).to_string(),
        ),
        (
            "id not a string",
            "application/json",
            json!({"id": 42}).to_string(),
        ),
        (
            "app not an object",
            "application/json",
            json!({"id": site.installation_id, "app": 1}).to_string(),
        ),
        (
            "wrong content type",
            "text/plain",
            site.installed_event().to_string(),
        ),
    ];
    for (what, content_type, body) in bodies {
        let res = app
            .client
            .post(&url)
            .header("Authorization", format!("Bearer {token}"))
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{what}");
        assert_json_error(res, what).await;
    }
    let big = json!({"id": site.installation_id, "padding": "x".repeat(70 * 1024)});
    assert_eq!(post_event(app, &site, big).await.status(), 413);

    let mut other_installation = site.installed_event();
    other_installation["id"] = json!("ari:cloud:ecosystem::installation/someone-else");
    let res = post_event(app, &site, other_installation).await;
    assert_refused(res, "event for another installation").await;
    let mut other_app = site.installed_event();
    other_app["app"]["id"] = json!(OTHER_APP_ARI);
    assert_refused(
        post_event(app, &site, other_app).await,
        "event for another app",
    )
    .await;
    let res = app
        .client
        .post(&url)
        .json(&site.installed_event())
        .send()
        .await
        .unwrap();
    assert_refused(res, "no token").await;
    let expired = {
        let mut claims = site.claims();
        claims["exp"] = json!(now() - 600);
        sign_fit(&claims, forge_key(), Some(FORGE_KID))
    };
    let res = site
        .call_with(
            app,
            &expired,
            None,
            Method::POST,
            "/forge/events",
            Some(site.installed_event()),
        )
        .await;
    assert_refused(res, "expired token").await;
    assert_eq!(site_rows(app), vec![], "nothing stored by any refusal");
}

#[actix_web::test]
async fn an_installed_event_brings_back_a_site_connect_had_uninstalled() {
    let forge = spawn_forge_app().await;
    let app = &forge.app;
    let connect = Site::new("returning");
    let fsite = ForgeSite::new();
    let payload = adopted_payload(&connect, &fsite);
    assert_eq!(
        connect.post_lifecycle(app, "installed", &payload).await,
        204
    );
    let id = connect.create_task(app, "kept").await["id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        connect.post_lifecycle(app, "uninstalled", &payload).await,
        204
    );

    let again = fsite.reinstalled();
    assert_recorded(
        post_event(app, &again, again.installed_event()).await,
        "installed",
    )
    .await;
    let (installed, uninstalled_at, secret): (bool, Option<String>, Option<String>) = db(app)
        .query_row(
            "SELECT installed, uninstalled_at, shared_secret FROM jwt_tokens",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        (installed, uninstalled_at),
        (true, None),
        "no longer up for purging"
    );
    assert_eq!(secret, None, "the Connect secret stays erased");
    assert_eq!(forge_ids(app, &again).await, vec![id]);
    // Connect tokens still do not work: only a signed Connect install brings the secret back.
    let res = connect.api(app, Method::GET, "/api/tasks", None).await;
    assert_eq!(res.status(), 401);
}

/// The uuid at the end of an ecosystem ARI.
fn bare(ari: &str) -> String {
    ari.rsplit_once('/').unwrap().1.to_string()
}

/// How a body spells the installation (from the token's ARI), the app id it names, and whether
/// the event comes under `payload`.
type Spelling = (fn(&str) -> String, String, bool);

#[actix_web::test]
async fn events_naming_the_installation_and_app_by_bare_uuid_or_ari_are_recorded() {
    let forge = spawn_forge_app().await;
    let app = &forge.app;
    let app_uuid = bare(FORGE_APP_ARI);
    let mut expected = Vec::new();
    let spellings: [Spelling; 6] = [
        (bare, app_uuid.clone(), false),
        (bare, app_uuid.clone(), true),
        (|ari| ari.to_string(), FORGE_APP_ARI.to_string(), false),
        (|ari| ari.to_string(), app_uuid.to_uppercase(), true),
        (
            |ari| bare(ari).to_uppercase(),
            FORGE_APP_ARI.to_uppercase(),
            false,
        ),
        (|ari| ari.to_uppercase(), app_uuid.clone(), true),
    ];
    for (installation, app_id, wrapped) in spellings {
        let site = ForgeSite::new();
        let event = json!({
            "eventType": "avi:forge:installed:app",
            "id": installation(&site.installation_id),
            "installerAccountId": "forge-admin-1",
            "app": {"id": app_id, "version": "1.0.0"},
        });
        let what = format!("{event} wrapped: {wrapped}");
        let body = if wrapped {
            json!({"payload": event, "context": {"cloudId": site.cloud_id}})
        } else {
            event
        };
        assert_recorded(post_event(app, &site, body).await, &what).await;
        // What is stored comes from the token: the ARI, as every later UI call names it.
        expected.push((
            Some(site.installation_id.clone()),
            Some(site.cloud_id.clone()),
        ));
        let stored: Vec<_> = site_rows(app).into_iter().map(|r| (r.1, r.2)).collect();
        assert_eq!(stored, expected, "{what}");
    }
}

#[actix_web::test]
async fn an_event_naming_another_installation_or_app_in_either_spelling_is_401_with_nothing_stored()
{
    let forge = spawn_forge_app().await;
    let app = &forge.app;
    let site = ForgeSite::new();
    let other_site = ForgeSite::new();
    let mismatches = [
        (
            "another installation, bare",
            json!(bare(&other_site.installation_id)),
            json!(FORGE_APP_ARI),
        ),
        (
            "another installation, ARI",
            json!(other_site.installation_id),
            json!(bare(FORGE_APP_ARI)),
        ),
        (
            "our installation as an app ARI",
            json!(format!(
                "ari:cloud:ecosystem::app/{}",
                bare(&site.installation_id)
            )),
            json!(FORGE_APP_ARI),
        ),
        (
            "another app, bare",
            json!(bare(&site.installation_id)),
            json!(bare(OTHER_APP_ARI)),
        ),
        (
            "another app, ARI",
            json!(site.installation_id),
            json!(OTHER_APP_ARI),
        ),
        (
            "our app as an installation ARI",
            json!(site.installation_id),
            json!(format!(
                "ari:cloud:ecosystem::installation/{}",
                bare(FORGE_APP_ARI)
            )),
        ),
        (
            "an id that is no uuid",
            json!("installation-1"),
            json!(FORGE_APP_ARI),
        ),
    ];
    for (what, id, app_id) in mismatches {
        let event =
            json!({"eventType": "avi:forge:installed:app", "id": id, "app": {"id": app_id}});
        for body in [event.clone(), json!({"payload": event})] {
            assert_refused(post_event(app, &site, body).await, what).await;
        }
    }
    assert_eq!(site_rows(app), vec![], "nothing stored by any mismatch");
    let tasks: i64 = db(app)
        .query_row("SELECT count(*) FROM tasks", [], |r| r.get(0))
        .unwrap();
    assert_eq!(tasks, 0);
}
