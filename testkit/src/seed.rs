//! A database with an installed site, written straight through the app's stores (no HTTP):
//! what the store benchmarks start from.

use std::path::Path;

use crate::api::{NewInstallation, Pool, Secret, SiteId, migrate, open_pool, upsert_installed};

/// A fresh, migrated SQLite file in `dir` with one installed site.
pub fn installed_site(dir: &Path) -> (Pool, SiteId) {
    let pool = open_pool(&dir.join("bench.sqlite3"), 16).expect("pool");
    let mut conn = pool.get().expect("connection");
    migrate(&mut conn).expect("migrations");
    let new = NewInstallation {
        client_key: "bench-site".into(),
        shared_secret: Secret::new("bench-secret"),
        base_url: "https://bench.atlassian.net/wiki".into(),
        display_url: None,
        product_type: "confluence".into(),
        description: None,
        oauth_client_id: None,
        server_version: None,
        plugins_version: None,
        sen: None,
        installation_id: None,
        cloud_id: None,
    };
    let site =
        upsert_installed(&conn, "bench-app", &new, "2026-11-28T00:00:00.000Z").expect("site");
    drop(conn);
    (pool, site)
}
