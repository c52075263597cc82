//! The query string hash against the 50 published vectors.

use serde_json::Value;

use crate::harness::api::{qsh, url_path};
use crate::harness::*;

#[test]
fn every_qsh_vector_gives_its_canonical_request_and_hash() {
    let fixture: Value =
        serde_json::from_str(&std::fs::read_to_string(QSH_VECTORS).unwrap()).unwrap();
    let vectors = fixture["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 50, "the fixture holds 50 vectors");
    let lower = vectors
        .iter()
        .find(|v| v["name"] == "lower-case method upper-cased")
        .expect("the lower-case method vector is present");
    assert_eq!(lower["method"], "post");

    let mut failures = Vec::new();
    for v in vectors {
        let name = v["name"].as_str().unwrap();
        let method = v["method"].as_str().unwrap();
        let uri = v["request_uri"].as_str().unwrap();
        let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
        let base_path = &url_path(v["base_url"].as_str().unwrap());
        let canonical = qsh::canonical_request(method, path, query, base_path);
        if canonical != v["canonical"].as_str().unwrap() {
            failures.push(format!(
                "{name}: canonical {canonical:?} != {}",
                v["canonical"]
            ));
        }
        let hash = qsh::qsh(method, path, query, base_path);
        if hash != v["qsh"].as_str().unwrap() {
            failures.push(format!("{name}: qsh {hash} != {}", v["qsh"]));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
