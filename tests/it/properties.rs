//! Property tests of the query string hash: the canonical request ignores parameter order and
//! the `jwt` parameter, its encoding is stable, and a token made for one request never verifies
//! for a request whose canonical form differs (checked against the real server).

use proptest::prelude::*;

use crate::harness::api::qsh::{canonical_query, canonical_request};
use crate::harness::*;

/// Raw query parts as a browser might send them: any text, percent-encoded or with `+`.
fn raw_component() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9._~-]{0,8}",
        "[ -~]{0,8}".prop_map(|s| form_encode(&s)),
        "\\PC{0,6}".prop_map(|s| form_encode(&s)),
    ]
}

/// Encodes like an HTML form (spaces as `+`), so raw text round-trips.
fn form_encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        match b {
            b' ' => out.push('+'),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn params() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec((raw_component(), raw_component()), 0..8).prop_map(|pairs| {
        pairs
            .into_iter()
            .filter(|(name, _)| !name.is_empty() && !name.eq_ignore_ascii_case("jwt"))
            .collect()
    })
}

fn join(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

proptest! {
    #[test]
    fn canonical_request_is_independent_of_parameter_order(pairs in params(), seed in any::<u64>()) {
        let mut shuffled = pairs.clone();
        // A deterministic shuffle from the seed.
        let n = shuffled.len();
        for i in (1..n).rev() {
            let j = (seed.wrapping_mul(6364136223846793005).wrapping_add(i as u64) % (i as u64 + 1)) as usize;
            shuffled.swap(i, j);
        }
        prop_assert_eq!(
            canonical_request("GET", "/confluence/get_task", &join(&pairs), ""),
            canonical_request("GET", "/confluence/get_task", &join(&shuffled), "")
        );
    }

    #[test]
    fn the_jwt_parameter_never_affects_the_canonical_request(pairs in params(), token in raw_component(), at in any::<prop::sample::Index>()) {
        let mut with_jwt = pairs.clone();
        with_jwt.insert(at.index(pairs.len() + 1), ("jwt".to_string(), token));
        prop_assert_eq!(
            canonical_request("POST", "/api/tasks", &join(&pairs), ""),
            canonical_request("POST", "/api/tasks", &join(&with_jwt), "")
        );
    }

    #[test]
    fn encoding_is_stable_under_decode_then_encode(pairs in params()) {
        // With one value per name, the canonical query is itself a query whose canonical form
        // is unchanged: decoding then re-encoding gives back the same bytes.
        let mut seen = std::collections::HashSet::new();
        let unique: Vec<_> = pairs.into_iter().filter(|(k, _)| seen.insert(k.clone())).collect();
        let once = canonical_query(&join(&unique));
        prop_assert_eq!(canonical_query(&once), once.clone());
        prop_assert!(once.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%=&,".contains(&b)), "{}", once);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn a_token_for_one_url_never_verifies_for_another(a in params(), b in params()) {
        let (qa, qb) = (join(&a), join(&b));
        let same = canonical_request("GET", "/confluence/tasks", &qa, "") == canonical_request("GET", "/confluence/tasks", &qb, "");
        let status = actix_web::rt::System::new().block_on(async {
            let app = shared_app().await;
            let site = shared_site();
            let token = site.token("GET", &format!("/confluence/tasks?{qa}"));
            // A client per case: its connections belong to this case's runtime.
            reqwest::Client::new()
                .get(format!("{}/confluence/tasks?{qb}", app.address))
                .header("Authorization", format!("JWT {token}"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
        prop_assert_eq!(status, if same { 200 } else { 401 }, "token for ?{} used on ?{}", qa, qb);
    }
}

/// One server for all cases of the property above (started on a thread of its own).
async fn shared_app() -> &'static TestApp {
    use std::sync::OnceLock;
    static APP: OnceLock<TestApp> = OnceLock::new();
    if let Some(app) = APP.get() {
        return app;
    }
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let app = spawn_app().await;
            shared_site().install(&app).await;
            tx.send(app).unwrap();
            std::future::pending::<()>().await;
        });
    });
    let app = rx.recv().unwrap();
    let _ = APP.set(app);
    APP.get().unwrap()
}

fn shared_site() -> &'static Site {
    use std::sync::OnceLock;
    static SITE: OnceLock<Site> = OnceLock::new();
    SITE.get_or_init(|| Site::new("props"))
}
