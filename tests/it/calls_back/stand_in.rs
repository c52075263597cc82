//! The stand-in Confluence lives in `testkit` (shared test support); what the tests here add to
//! it stays here.

use serde_json::Value;

use crate::harness::*;

pub use testkit::stand_in::{StandIn, hung_host};

pub async fn create_task(app: &TestApp, site: &Site, title: &str) -> Value {
    site.create_task(app, title).await
}
