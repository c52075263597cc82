//! Two installation ids on one cloud (issue 24, LOW): before, each took its turn owning the
//! site — every turn rewrote the row and emptied every tenant's Forge cache, and the old id
//! kept working after a reinstall. Now a reinstall retires the old id (401), a refused flap
//! writes nothing, and a change drops only that site's cache entries.

use reqwest::Method;

use super::{Deployment, forge_call};
use crate::harness::*;

fn updated_at(d: &Deployment, site: i64) -> String {
    d.db()
        .query_row(
            "SELECT updated_at FROM jwt_tokens WHERE id = ?1",
            [site],
            |r| r.get::<String>(0).or_else(|_| Ok(format!("{:?}", r.0[0]))),
        )
        .unwrap()
}

fn site_of(d: &Deployment, site: &ForgeSite) -> i64 {
    d.db()
        .query_row(
            "SELECT id FROM jwt_tokens WHERE cloud_id = ?1",
            [site.cloud_id.as_str()],
            |r| r.get(0),
        )
        .unwrap()
}

#[test]
fn a_reinstall_retires_the_old_id_and_flapping_ids_rewrite_nothing_and_cost_others_nothing() {
    let d = Deployment::start();
    let (old, other) = (ForgeSite::new(), ForgeSite::new());
    let task = d.forge_create(&old, "survives the reinstall");
    d.forge_create(&other, "other site's");
    let (site, other_site) = (site_of(&d, &old), site_of(&d, &other));

    let new = old.reinstalled();
    assert_eq!(
        d.forge_ids(&new),
        vec![task],
        "the reinstall keeps the site"
    );
    let after_reinstall = updated_at(&d, site);
    for round in 0..10 {
        let res = forge_call(
            d.port(),
            &old.token(),
            Method::GET,
            "/forge/api/tasks",
            None,
        );
        assert_eq!(res.status, 401, "round {round}: the old id is retired");
        assert!(res.text().contains("\"error\""), "{}", res.text());
        assert_eq!(d.forge_ids(&new), vec![task], "round {round}");
    }
    assert_eq!(
        updated_at(&d, site),
        after_reinstall,
        "ten flaps back to the old id rewrote nothing"
    );
    let retired: i64 = d
        .db()
        .query_row(
            "SELECT count(*) FROM forge_retired_installations WHERE site_id = ?1",
            [site],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(retired, 1);

    // The other site's cache entry survived: change its row behind the server's back (a probe
    // only the cache can hide). A database read would find the site by its cloud id and move
    // it back to its installation id; a cache hit answers without touching the row.
    let probe = "ari:cloud:ecosystem::installation/probe";
    d.db()
        .execute(
            "UPDATE jwt_tokens SET installation_id = ?1 WHERE id = ?2",
            vals![probe, other_site],
        )
        .unwrap();
    assert_eq!(d.forge_ids(&other).len(), 1);
    let stored: String = d
        .db()
        .query_row(
            "SELECT installation_id FROM jwt_tokens WHERE id = ?1",
            [other_site],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        stored, probe,
        "answered from the cache: A's reinstall cost B nothing"
    );
}
