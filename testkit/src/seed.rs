//! A database with an installed site, written straight through the app's stores (no HTTP):
//! what the store benchmarks start from.

use std::path::Path;

use crate::api::{Db, NewInstallation, Pool, Secret, SiteId, install, migrate, open_pool};

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
    drop(conn);
    // Installed the way the app installs a site (the sites store), on an actix runtime.
    let db = Db::new(pool.clone());
    let site = actix_web::rt::System::new()
        .block_on(install(&db, "bench-app", new))
        .expect("install")
        .expect("site")[0];
    (pool, site)
}
