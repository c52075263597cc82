//! The stand-in Confluence and authorization server live in `testkit` (shared test support);
//! what reads the app's own database stays here.

use std::sync::Arc;

use serde_json::Value;

use crate::harness::api::{Installation, SiteId};
use crate::harness::*;

pub use testkit::stand_in::{Caller, StandIn, expected_qsh, hung_host};

/// The installation as the app stored it.
pub fn installation(app: &TestApp, site: &Site) -> Arc<Installation> {
    let row = db(app)
        .query_row(
            "SELECT id, client_key, base_url, display_url, enabled, shared_secret
             FROM jwt_tokens WHERE addon_key = ?1 AND client_key = ?2",
            [ADDON_KEY, site.client_key.as_str()],
            |r| Ok(r.clone()),
        )
        .unwrap();
    Arc::new(
        Installation::from_row(
            SiteId(row.get(0).unwrap()),
            row.get(1).unwrap(),
            row.get(2).unwrap(),
            row.get(3).unwrap(),
            row.get(4).unwrap(),
            row.get(5).unwrap(),
        )
        .unwrap(),
    )
}

pub async fn create_task(app: &TestApp, site: &Site, title: &str) -> Value {
    site.create_task(app, title).await
}
