//! Merging the Forge-only row of a site into its Connect install, the same on both backends:
//! a user seen both ways keeps the record the surviving site has, and a table the merge does
//! not know (one referencing the sites) makes the install refuse with nothing changed.

use super::{forge_create, forge_ids};
use crate::harness::*;

/// The site ids of the Connect install and of the Forge-only site, after both were met.
async fn a_site_met_both_ways(app: &TestApp, connect: &Site, fsite: &ForgeSite) -> (i64, i64) {
    forge_create(app, fsite, "met through Forge").await;
    connect.install(app).await;
    let id_of = |sql: &str| db(app).query_row(sql, (), |r| r.get::<i64>(0)).unwrap();
    (
        id_of("SELECT id FROM jwt_tokens WHERE client_key IS NOT NULL"),
        id_of("SELECT id FROM jwt_tokens WHERE client_key IS NULL"),
    )
}

fn add_user(app: &TestApp, site: i64, account: &str, first_seen: &str) {
    db(app)
        .execute(
            "INSERT INTO jwt_users (site_id, account_id, first_seen_at, last_seen_at)
             VALUES (?1, ?2, ?3, ?4)",
            vals![site, account, first_seen, first_seen],
        )
        .unwrap();
}

#[actix_web::test]
async fn a_user_seen_both_ways_keeps_the_record_of_the_site_it_merges_into() {
    let forge = spawn_forge_app().await;
    let app = &forge.app;
    let (connect, fsite) = (Site::new("merging"), ForgeSite::new());
    let (kept, merged) = a_site_met_both_ways(app, &connect, &fsite).await;
    add_user(app, kept, "merge-both", "2026-01-01T00:00:00.000Z");
    add_user(app, merged, "merge-both", "2026-02-02T00:00:00.000Z");
    add_user(app, merged, "merge-forge", "2026-03-03T00:00:00.000Z");
    let status = connect.adopt_forge(app, &fsite).await;
    assert_eq!(status, 204);
    let users: Vec<(i64, String, String)> = db(app)
        .rows(
            "SELECT site_id, account_id, first_seen_at FROM jwt_users
             WHERE account_id LIKE 'merge-%' ORDER BY account_id",
            (),
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0).unwrap(), r.get(1).unwrap(), r.get(2).unwrap()))
        .collect();
    assert_eq!(
        users,
        [
            (kept, "merge-both".into(), "2026-01-01T00:00:00.000Z".into()),
            (
                kept,
                "merge-forge".into(),
                "2026-03-03T00:00:00.000Z".into()
            ),
        ],
        "the surviving site's record wins; the merged site's other users move"
    );
    let sites = db(app)
        .query_row("SELECT count(*) FROM jwt_tokens", (), |r| r.get::<i64>(0))
        .unwrap();
    assert_eq!(sites, 1, "the merged row is gone");
}

#[actix_web::test]
async fn a_table_the_merge_does_not_know_makes_the_install_refuse_with_nothing_changed() {
    let forge = spawn_forge_app().await;
    let app = &forge.app;
    let (connect, fsite) = (Site::new("unknown-table"), ForgeSite::new());
    let (_, merged) = a_site_met_both_ways(app, &connect, &fsite).await;
    let db = db(app);
    db.execute(
        "CREATE TABLE site_notes (id bigint PRIMARY KEY,
             site_id bigint NOT NULL REFERENCES jwt_tokens (id) ON DELETE CASCADE)",
        (),
    )
    .unwrap();
    db.execute(
        "INSERT INTO site_notes (id, site_id) VALUES (1, ?1)",
        [merged],
    )
    .unwrap();
    let before = dump(app).await;
    let status = connect.adopt_forge(app, &fsite).await;
    assert_eq!(status, 500, "the merge refuses a table it cannot move");
    assert_eq!(dump(app).await, before, "nothing changed");
    let note_site = db
        .query_row("SELECT site_id FROM site_notes", (), |r| r.get::<i64>(0))
        .unwrap();
    assert_eq!(note_site, merged, "the unknown table's row is untouched");
    assert_eq!(
        forge_ids(app, &fsite).await.len(),
        1,
        "Forge still reaches its own site"
    );
}
