//! What several benchmarks set up the same way (each bench is its own crate and includes this
//! module).

use todo_connect::connect::installations::NewInstallation;
use todo_connect::connect::jwt::Secret;
use todo_connect::db::{self, Db, Pool};
use todo_connect::site::SiteId;

/// A fresh, migrated database file in `dir` with one installed site.
pub fn installed_site(dir: &std::path::Path) -> (Pool, SiteId) {
    let pool = db::open_pool(&dir.join("bench.sqlite3"), 16).expect("pool");
    let mut conn = pool.get().expect("connection");
    db::migrate(&mut conn).expect("migrations");
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
        .block_on(todo_connect::site::store::connect::install(
            &db,
            "bench-app",
            new,
        ))
        .expect("install")
        .expect("site")[0];
    (pool, site)
}
