//! Interoperability with the public `atlassian-jwt` library: tokens it mints for awkward
//! URLs verify, by header and by `?jwt=`.

use reqwest::Method;
use serde_json::{Value, json};

use super::{assert_refused, create_task, send};
use crate::harness::*;

/// The Python with `atlassian_jwt` (`TODO_CONNECT_PYTHON`, else `./.venv/bin/python`), or
/// `None` after reporting the test skipped (a failure under `CI=true`).
fn interop_python() -> Option<std::path::PathBuf> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    skip::require(testkit::tools::interop_python(root))
}

/// Mints one token per request with `tests/interop/mint.py` (atlassian_jwt.encode_token).
fn mint(python: &std::path::Path, site: &Site, requests: &[(&str, String)]) -> Vec<String> {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/mint.py");
    let args: Vec<Value> = requests
        .iter()
        .map(|(method, url)| {
            json!({"secret": site.secret, "iss": site.client_key, "method": method, "url": url})
        })
        .collect();
    let output = std::process::Command::new(python)
        .arg(script)
        .arg(Value::from(args).to_string())
        .output()
        .expect("mint.py runs");
    assert!(
        output.status.success(),
        "mint.py failed (run scripts/setup.sh?): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let tokens: Vec<String> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(tokens.len(), requests.len());
    tokens
}

#[actix_web::test]
async fn tokens_minted_by_atlassian_jwt_verify() {
    let Some(python) = interop_python() else {
        return;
    };
    let app = spawn_app().await;
    let site = Site::new("interop");
    site.install(&app).await;
    let id = create_task(&app, &site, "Interop task").await;
    let urls: Vec<String> = vec![
        "/confluence/tasks".into(),
        "/confluence/tasks?q=some+spaces+in+this+parameter".into(),
        "/confluence/tasks?q=percent%20spaces&r=literal spaces".into(),
        "/confluence/tasks?title=1+%2B+1+equals+3&plus=%2B&pct=%2520".into(),
        "/confluence/tasks?director=%E5%AE%AE%E5%B4%8E+%E9%A7%BF&name=Zoë+Ørsted&city=東京".into(),
        "/confluence/tasks?reserved=%3B%2F%3F%3A%40%3D%26%24%2C&sub=%21%24%26%27%28%29%2A%2B%2C%3B%3D"
            .into(),
        "/confluence/tasks?raw=a:b/c@d!e$f*g(h),i;j&unsafe=%3C%3E%22%23%25%7B%7D%7C%5C%5E%60"
            .into(),
        "/confluence/tasks?tilde=~x&unreserved=-._~&json=%7B%22key%22%3A%22value%22%7D".into(),
        "/confluence/tasks?ids=3&ids=1&ids=20&ids=2&b=y&b=x&B=z".into(),
        "/confluence/tasks?empty=&flag&c=&c=+&c=%2520&c=%2B".into(),
        "/confluence/tasks?a10=1&a1=2&%7Ename=3&.dot=4&_u=5&Z=6&%3A1=7".into(),
        "/confluence/tasks?xdm_e=https%3A%2F%2Finterop.atlassian.net&xdm_c=channel-x&cp=%2Fwiki&lic=none&tz=Europe%2FParis&loc=fr-FR&user_id=&user_key=".into(),
        format!("/confluence/get_task?id={id}&page.id=98305&space.key=DS&output.type=display"),
    ];
    let requests: Vec<(&str, String)> = urls.iter().map(|u| ("GET", u.clone())).collect();
    let tokens = mint(&python, &site, &requests);
    let mut failures = Vec::new();
    for (url, token) in urls.iter().zip(&tokens) {
        let by_header = send(&app, Method::GET, url, Some(token), None, None).await;
        if by_header.status() != 200 {
            failures.push(format!("header {url}: {}", by_header.status()));
        }
        let by_param = send(&app, Method::GET, url, None, Some(token), None).await;
        if by_param.status() != 200 {
            failures.push(format!("?jwt= {url}: {}", by_param.status()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // And the library's token really is checked: another URL's token is refused.
    let res = send(&app, Method::GET, &urls[1], Some(&tokens[2]), None, None).await;
    assert_refused(&res, "an atlassian-jwt token for another URL");
}
