//! Issue 12, failure 2: any RS256 header with a well-formed `kid` made the app fetch a key
//! first; failures were not remembered and fetches not merged — about 1,800 requests a second
//! to the key server from one client, 400 hanging at once. Against the real local key server,
//! counting its hits: one unknown `kid` costs one request, a flood of random ones a handful,
//! never more than four at once, and a real install still works afterwards.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::*;

/// What the gate lets through (`install_keys::FETCH_LIMITS`): 10 back to back, then one every
/// 2 s, at most 4 in flight.
const BURST: usize = 10;
const REFILL_SECS: f64 = 2.0;
const IN_FLIGHT: usize = 4;

/// Posts `installed` for `site` with a token naming `kid` (signed with the test key).
async fn install_with_kid(app: &TestApp, site: &Site, kid: &str, body: &Value) -> u16 {
    site.post_lifecycle_signed(&app.client, &app.address, "installed", body, kid)
        .await
}

#[actix_web::test]
async fn one_unknown_kid_costs_the_key_server_one_request_however_often_it_is_sent() {
    let app = spawn_app().await;
    let site = Site::new("flooder");
    let body = site.payload();
    // 100 at a time: one client address gets at most 128 connections.
    for _ in 0..5 {
        let flood = (0..100).map(|_| install_with_kid(&app, &site, "no-such-kid", &body));
        let statuses = futures_util::future::join_all(flood).await;
        assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
    }
    assert_eq!(
        app.keys.hits_for("no-such-kid"),
        1,
        "merged, then remembered"
    );
    assert_eq!(stored_secret(&app, &site.client_key), None);
}

#[actix_web::test]
async fn a_flood_of_random_kids_reaches_the_key_server_a_handful_of_times() {
    let app = spawn_app().await;
    let site = Site::new("real");
    site.install(&app).await;
    assert_eq!(app.keys.hits_for(INSTALL_KID), 1);
    // A slow key server: without a cap, every fetch of the flood would hang there at once.
    *app.keys.delay.lock().unwrap() = Duration::from_millis(200);
    let body = site.payload();
    let started = Instant::now();
    for round in 0..10 {
        let flood = (0..100).map(|i| {
            let kid = format!("random-{round}-{i}");
            let body = body.clone();
            let (app, site) = (&app, &site);
            async move { install_with_kid(app, site, &kid, &body).await }
        });
        let statuses = futures_util::future::join_all(flood).await;
        assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let hits = app.keys.hits.lock().unwrap().len() - 1;
    let allowed = BURST + (elapsed / REFILL_SECS).ceil() as usize;
    assert!(
        hits <= allowed,
        "{hits} key requests for 1,000 made-up kids in {elapsed:.1} s (allowed {allowed})"
    );
    let most = app.keys.max_in_flight.load(Ordering::SeqCst);
    assert!(
        most <= IN_FLIGHT,
        "{most} fetches hung at the key server at once"
    );
    // The real key was neither evicted nor fetched again: installs keep working.
    site.install(&app).await;
    assert_eq!(app.keys.hits_for(INSTALL_KID), 1);
}
