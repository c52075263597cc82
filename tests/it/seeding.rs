//! The load test's seeding (`todo_connect::seeding`, called by `examples/loadtest_peer seed`):
//! sites and tasks written straight through the stores, one transaction per batch, are what
//! signed installs and `POST /api/tasks` would have stored — the running app serves them
//! through its real API — and a batch that fails stores nothing.

use std::collections::HashMap;

use reqwest::Method;
use serde_json::Value;

use crate::harness::api::{SeedSite, SeedTask, Seeder, Settings};
use crate::harness::{ADDON_KEY, SITE_URL, Site, TestApp, postgres, spawn_app, spawn_app_with};

/// The settings of `app`'s own database (its SQLite file, or the PostgreSQL database standing
/// in for it), as the seeding peer reads them from the environment.
fn settings_of(app: &TestApp, extra: &[(&'static str, &str)]) -> Settings {
    let mut env: HashMap<&str, String> = HashMap::from([
        ("APP_ENV", "test".to_string()),
        ("SITE_URL", SITE_URL.to_string()),
        ("ADDON_KEY", ADDON_KEY.to_string()),
        ("CONNECT_KEYS_URL", app.keys.url.clone()),
        ("DATABASE_PATH", app.db_path.display().to_string()),
    ]);
    if postgres::on_postgres() {
        env.insert("DATABASE_URL", postgres::database_for(&app.db_path));
    }
    env.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    let dir = tempfile::tempdir().unwrap();
    Settings::load(&|k| env.get(k).cloned(), dir.path()).unwrap()
}

fn seed_site(site: &Site, tasks: usize) -> SeedSite {
    SeedSite {
        client_key: site.client_key.clone(),
        shared_secret: site.secret.clone(),
        base_url: site.base_url.clone(),
        tasks: (0..tasks)
            .map(|t| SeedTask {
                title: format!("Seeded {t} of {}", site.client_key),
                created_by: format!("account-{t}"),
            })
            .collect(),
    }
}

/// The titles `GET /api/tasks` lists for the site (newest first), or the status if not 200.
async fn titles(app: &TestApp, site: &Site) -> Result<Vec<String>, u16> {
    let res = site.api(app, Method::GET, "/api/tasks", None).await;
    if res.status() != 200 {
        return Err(res.status().as_u16());
    }
    let list: Value = res.json().await.unwrap();
    Ok(list["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap().to_string())
        .collect())
}

#[actix_web::test]
async fn seeded_sites_and_tasks_are_served_by_the_real_api() {
    let app = spawn_app().await;
    let seeder = Seeder::open(&settings_of(&app, &[])).unwrap();
    let sites: Vec<Site> = (0..3).map(|i| Site::new(&format!("seeded-{i}"))).collect();
    let seeded = seeder
        .seed(sites.iter().map(|s| seed_site(s, 4)).collect())
        .await
        .unwrap();

    assert_eq!(seeded.len(), 3);
    for (site, seeded) in sites.iter().zip(&seeded) {
        assert_eq!(seeded.task_ids.len(), 4);
        let expected: Vec<String> = (0..4)
            .rev()
            .map(|t| format!("Seeded {t} of {}", site.client_key))
            .collect();
        assert_eq!(
            titles(&app, site).await,
            Ok(expected),
            "{}",
            site.client_key
        );
        // The macro renders a seeded task from a token signed with the seeded secret.
        let id = seeded.task_ids[2];
        let page = site
            .get(&app, &format!("/confluence/get_task?id={id}"))
            .await;
        assert_eq!(page.status(), 200);
        let text = page.text().await.unwrap();
        assert!(text.contains(&format!("Seeded 2 of {}", site.client_key)));
    }
    // Tenant scoping holds for seeded rows: a site's task is not another site's.
    let theirs = seeded[1].task_ids[0];
    let res = sites[0]
        .api(&app, Method::GET, &format!("/api/tasks/{theirs}"), None)
        .await;
    assert_eq!(res.status(), 404);
}

#[actix_web::test]
async fn a_batch_that_fails_stores_nothing() {
    // A quota of 2 tasks per site: the second site's third task fails the whole batch.
    let app = spawn_app_with(vec![("MAX_TASKS_PER_SITE", "2".to_string())]).await;
    let seeder = Seeder::open(&settings_of(&app, &[("MAX_TASKS_PER_SITE", "2")])).unwrap();
    let fits = Site::new("fits");
    let over = Site::new("over-quota");

    let err = seeder
        .seed(vec![seed_site(&fits, 2), seed_site(&over, 3)])
        .await
        .unwrap_err();

    assert!(err.contains("client-over-quota"), "{err}");
    assert!(err.contains("QuotaReached"), "{err}");
    // Neither site was installed: their tokens verify against nothing.
    assert_eq!(titles(&app, &fits).await, Err(401));
    assert_eq!(titles(&app, &over).await, Err(401));
    // The same sites seed once the batch fits.
    seeder
        .seed(vec![seed_site(&fits, 2), seed_site(&over, 2)])
        .await
        .unwrap();
    assert_eq!(titles(&app, &over).await.unwrap().len(), 2);
}

#[actix_web::test]
async fn a_site_whose_base_url_the_app_cannot_use_is_refused_with_its_batch() {
    let app = spawn_app().await;
    let seeder = Seeder::open(&settings_of(&app, &[])).unwrap();
    let good = Site::new("good-url");
    let bad = Site {
        base_url: "not a url".to_string(),
        ..Site::new("bad-url")
    };

    let err = seeder
        .seed(vec![seed_site(&good, 1), seed_site(&bad, 1)])
        .await
        .unwrap_err();

    assert!(err.contains("client-bad-url: base URL"), "{err}");
    assert_eq!(titles(&app, &good).await, Err(401));
    assert_eq!(titles(&app, &bad).await, Err(401));
}
