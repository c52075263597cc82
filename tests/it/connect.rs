//! The Atlassian Connect protocol through the real server: qsh vectors, the descriptor, the
//! signed lifecycle (every refused install leaves the database as it was), uninstall, enable
//! and disable, the token matrix on an iframe route and on an API route, interoperability with
//! the public `atlassian-jwt` library, the throttled `jwt_users` write and tokens in form
//! fields.

mod descriptor;
mod form_token;
mod install;
mod interop;
mod qsh_vectors;
mod token_matrix;
mod uninstall_enable_disable;
mod unusable;
mod user_recording;

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::*;

/// The challenge of every 401.
const REALM: &str = "JWT realm=\"todo-connect-test\"";

fn b64url(value: &Value) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
}

/// A token with `alg: none` and no signature, built by hand (no library will make one).
fn alg_none(claims: &Value) -> String {
    format!(
        "{}.{}.",
        b64url(&json!({"alg": "none", "typ": "JWT"})),
        b64url(claims)
    )
}

fn without(mut claims: Value, name: &str) -> Value {
    claims.as_object_mut().unwrap().remove(name);
    claims
}

fn with(mut claims: Value, name: &str, value: Value) -> Value {
    claims[name] = value;
    claims
}

/// Sends `method path_and_query`, with the token in the header and/or the `jwt` parameter.
async fn send(
    app: &TestApp,
    method: Method,
    path_and_query: &str,
    header: Option<&str>,
    param: Option<&str>,
    body: Option<String>,
) -> reqwest::Response {
    let mut url = format!("{}{path_and_query}", app.address);
    if let Some(token) = param {
        let sep = if path_and_query.contains('?') {
            '&'
        } else {
            '?'
        };
        url = format!("{url}{sep}jwt={token}");
    }
    let mut req = app.client.request(method, url);
    if let Some(token) = header {
        req = req.header("Authorization", format!("JWT {token}"));
    }
    if let Some(body) = body {
        req = req.header("Content-Type", "application/json").body(body);
    }
    req.send().await.unwrap()
}

/// Asserts a 401 that names our realm.
fn assert_refused(res: &reqwest::Response, what: &str) {
    assert_eq!(res.status(), 401, "{what}");
    assert_eq!(
        res.headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap()),
        Some(REALM),
        "{what}"
    );
}

/// `(installed, enabled, shared_secret)` of a site's row.
fn row(app: &TestApp, client_key: &str) -> (bool, bool, Option<String>) {
    db(app)
        .query_row(
            "SELECT installed, enabled, shared_secret FROM jwt_tokens WHERE client_key = ?1",
            [client_key],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap()
}

async fn create_task(app: &TestApp, site: &Site, title: &str) -> i64 {
    site.create_task(app, title).await["id"].as_i64().unwrap()
}

async fn task_ids(app: &TestApp, site: &Site) -> Vec<i64> {
    let res = site.api(app, Method::GET, "/api/tasks", None).await;
    assert_eq!(res.status(), 200);
    let list: Value = res.json().await.unwrap();
    list["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect()
}

/// Posts `enabled` / `disabled` with an HS256 token and the site's payload.
async fn toggle(app: &TestApp, site: &Site, event: &str) -> u16 {
    let path = format!("/confluence/{event}");
    let token = site.token("POST", &path);
    let body = site.payload().to_string();
    send(app, Method::POST, &path, Some(&token), None, Some(body))
        .await
        .status()
        .as_u16()
}
