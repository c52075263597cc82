//! Issue 12 through Forge's way in: `/forge/api/tasks…` runs the same task handlers as
//! `/api/tasks…`, so the task quota (counted per site, whichever way its tasks came in) and the
//! title rules hold there too, with nothing stored on a refusal; and the Forge key set, like
//! Connect's install keys, sits behind a gate, so a flood of tokens naming made-up `kid`s costs
//! the key server almost nothing.

use std::time::Instant;

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::*;

/// `jwks::REFETCH_COOLDOWN`: an unknown `kid` refetches the set at most this often.
const REFETCH_COOLDOWN_SECS: f64 = 30.0;

async fn forge_post(app: &TestApp, site: &ForgeSite, title: &str) -> reqwest::Response {
    let body = Some(json!({"title": title}));
    site.call(app, Method::POST, "/forge/api/tasks", body).await
}

#[actix_web::test]
async fn through_forge_a_site_at_its_quota_gets_a_409_and_nothing_is_stored() {
    let forge = spawn_forge_app_with(vec![("MAX_TASKS_PER_SITE", "3".into())]).await;
    let app = &forge.app;
    // One site reached both ways: Connect's install carries its Forge ids.
    let (connect, fsite) = (Site::new("both-ways"), ForgeSite::new());
    let payload = adopted_payload(&connect, &fsite);
    assert_eq!(
        connect.post_lifecycle(app, "installed", &payload).await,
        204
    );
    connect.create_task(app, "through Connect 1").await;
    connect.create_task(app, "through Connect 2").await;
    assert_eq!(forge_post(app, &fsite, "through Forge").await.status(), 201);

    let before = dump(app).await;
    let refused = forge_post(app, &fsite, "one too many").await;
    assert_eq!(refused.status(), 409);
    assert_eq!(
        refused.json::<Value>().await.unwrap(),
        json!({"error": "this site has reached its limit of 3 tasks; delete some to add more"})
    );
    let body = Some(json!({"title": "one too many"}));
    let through_connect = connect.api(app, Method::POST, "/api/tasks", body).await;
    assert_eq!(through_connect.status(), 409, "the same quota both ways");
    assert_eq!(dump(app).await, before, "nothing stored changed");

    // Another Forge site has a quota of its own.
    let other = ForgeSite::new();
    assert_eq!(forge_post(app, &other, "elsewhere").await.status(), 201);
}

#[actix_web::test]
async fn through_forge_a_title_with_invisible_or_reordering_characters_gets_a_422() {
    let forge = spawn_forge_app().await;
    let app = &forge.app;
    let site = ForgeSite::new();
    let kept = forge_post(app, &site, "a plain title").await;
    assert_eq!(kept.status(), 201);
    let path = format!(
        "/forge/api/tasks/{}",
        kept.json::<Value>().await.unwrap()["id"]
    );
    let before = dump(app).await;
    for title in ["\u{200B}\u{200B}", "invoice \u{202E}fdp.exe", "end\u{FFFF}"] {
        let created = forge_post(app, &site, title).await;
        assert_eq!(created.status(), 422, "create {title:?}");
        let error = created.json::<Value>().await.unwrap();
        assert!(
            error["error"].as_str().unwrap().starts_with("title must"),
            "{title:?}: {error}"
        );
        let body = Some(json!({"title": title}));
        let renamed = site.call(app, Method::PATCH, &path, body).await;
        assert_eq!(renamed.status(), 422, "rename {title:?}");
    }
    assert_eq!(dump(app).await, before, "nothing stored changed");
}

#[actix_web::test]
async fn a_flood_of_forge_tokens_naming_unknown_kids_costs_the_key_server_almost_nothing() {
    let forge = spawn_forge_app().await;
    let (app, jwks) = (&forge.app, &forge.jwks);
    let site = ForgeSite::new();
    assert_eq!(
        forge_post(app, &site, "before the flood").await.status(),
        201
    );
    assert_eq!(jwks.hits(), 1);
    let started = Instant::now();
    // 1,000 tokens, each naming a kid of its own; 100 at a time (one address gets at most 128
    // connections).
    for round in 0..10 {
        let flood = (0..100).map(|i| {
            let kid = format!("made-up-{round}-{i}");
            let token = sign_fit(&site.claims(), rotated_key(), Some(&kid));
            let site = &site;
            async move {
                site.call_with(app, &token, None, Method::GET, "/forge/api/tasks", None)
                    .await
                    .status()
            }
        });
        let statuses = futures_util::future::join_all(flood).await;
        assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
    }
    let elapsed = started.elapsed().as_secs_f64();
    // The first unknown kid refetches the set once; later ones within the cooldown do not.
    let allowed = 1 + 1 + (elapsed / REFETCH_COOLDOWN_SECS) as usize;
    let hits = jwks.hits();
    assert!(
        hits <= allowed,
        "{hits} key set fetches for 1,000 made-up kids in {elapsed:.1} s (allowed {allowed})"
    );
    // The real key was kept: genuine tokens verify without another fetch.
    let res = site.call(app, Method::GET, "/forge/api/tasks", None).await;
    assert_eq!(res.status(), 200);
    assert_eq!(jwks.hits(), hits);
}

#[actix_web::test]
async fn a_valid_forge_request_is_not_held_by_the_refetch_an_unknown_kid_started() {
    let forge = spawn_forge_app().await;
    let (app, jwks) = (&forge.app, &forge.jwks);
    let site = ForgeSite::new();
    assert_eq!(forge_post(app, &site, "before").await.status(), 201);
    assert_eq!(jwks.answered(), 1, "the key set was fetched once");

    // The key server now takes its time: a made-up kid's refetch reaches it and waits there.
    jwks.hold(true);
    let made_up = sign_fit(&site.claims(), rotated_key(), Some("made-up-kid"));
    let (address, client) = (app.address.clone(), app.client.clone());
    let unknown = actix_web::rt::spawn(async move {
        client
            .get(format!("{address}/forge/api/tasks"))
            .header("Authorization", format!("Bearer {made_up}"))
            .send()
            .await
            .unwrap()
            .status()
    });
    poll_async(PATIENCE, || async { (jwks.hits() == 2).then_some(()) })
        .await
        .expect("the refetch reached the key server");

    // A valid token is verified from the set already held, while the refetch still waits.
    let started = Instant::now();
    let valid = site.call(app, Method::GET, "/forge/api/tasks", None).await;
    eprintln!(
        "a valid request beside a held refetch took {:?}",
        started.elapsed()
    );
    assert_eq!(valid.status(), 200);
    assert_eq!(jwks.answered(), 1, "the refetch had not been answered yet");
    assert!(
        !unknown.is_finished(),
        "the made-up kid's request was still waiting"
    );

    jwks.hold(false);
    assert_eq!(unknown.await.unwrap(), 401);
    assert_eq!(jwks.answered(), 2);
}
