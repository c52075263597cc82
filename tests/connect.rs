//! The Atlassian Connect protocol through the real server: qsh vectors, the descriptor, the
//! signed lifecycle (every refused install leaves the database as it was), the token matrix on
//! an iframe route and on an API route, interoperability with the public `atlassian-jwt`
//! library, and the throttled `jwt_users` write.

mod common;

use common::*;
use jsonwebtoken::Algorithm;
use reqwest::Method;
use serde_json::{Value, json};
use todo_connect::connect::qsh;
use todo_connect::util::url::BaseUrl;

const REALM: &str = "JWT realm=\"todo-connect-test\"";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

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

/// Asserts a 401 that names our realm; returns the content type for further checks.
fn assert_refused(res: &reqwest::Response, what: &str) -> String {
    assert_eq!(res.status(), 401, "{what}");
    assert_eq!(
        res.headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap()),
        Some(REALM),
        "{what}"
    );
    res.headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
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

// ---------------------------------------------------------------------------------------------
// 1. Query string hash vectors
// ---------------------------------------------------------------------------------------------

#[test]
fn every_qsh_vector_gives_its_canonical_request_and_hash() {
    let fixture: Value =
        serde_json::from_str(include_str!("fixtures/connect-qsh-vectors.json")).unwrap();
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
        let base_url = BaseUrl::parse(v["base_url"].as_str().unwrap(), false).unwrap();
        let base_path = base_url.path();
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

// ---------------------------------------------------------------------------------------------
// 2. Descriptor
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn the_descriptor_is_pinned_and_served_identically_on_both_paths() {
    let app = spawn_app().await;
    let mut bodies = Vec::new();
    for path in ["/atlassian-connect.json", "/confluence/descriptor"] {
        let res = app
            .client
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(res.headers()["content-type"], "application/json", "{path}");
        bodies.push(res.bytes().await.unwrap());
    }
    assert_eq!(bodies[0], bodies[1], "both paths serve the same bytes");
    let text = String::from_utf8(bodies[0].to_vec()).unwrap();
    insta::assert_snapshot!("descriptor", text);

    let d: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(d["key"], ADDON_KEY);
    assert_eq!(d["name"], "Todo");
    assert_eq!(d["baseUrl"], SITE_URL);
    assert_eq!(d["authentication"], json!({"type": "jwt"}));
    assert_eq!(d["apiVersion"], 1);
    assert_eq!(
        d["lifecycle"],
        json!({
            "installed": "/confluence/installed",
            "uninstalled": "/confluence/uninstalled",
            "enabled": "/confluence/enabled",
            "disabled": "/confluence/disabled",
        })
    );
    assert_eq!(
        d["apiMigrations"],
        json!({"signed-install": true, "context-qsh": true, "gdpr": true})
    );
    let mac = &d["modules"]["dynamicContentMacros"][0];
    assert_eq!(mac["key"], "dynamic-task-macro");
    assert_eq!(mac["name"]["value"], "TODO");
    assert!(
        mac["url"]
            .as_str()
            .unwrap()
            .starts_with("/confluence/get_task?id={id}"),
        "{}",
        mac["url"]
    );
    assert_eq!(
        mac["icon"],
        json!({"width": 80, "height": 80, "url": "/images/confluence/logo_300x300.png"})
    );
    assert_eq!(mac["featured"], true);
    let params = mac["parameters"].as_array().unwrap();
    assert_eq!(params.len(), 1);
    assert_eq!(params[0]["identifier"], "id");
    assert_eq!(params[0]["name"]["value"], "Task ID");
    assert_eq!(params[0]["description"]["value"], "The task ID from TODO");
    assert_eq!(params[0]["type"], "string");
    assert_eq!(params[0]["required"], true);
    // The macro editor gets the page the macro is on; the Todo page is a general page.
    assert_eq!(
        mac["editor"]["url"],
        "/confluence/macro_editor?page_id={page.id}"
    );
    let page = &d["modules"]["generalPages"][0];
    assert_eq!(
        (
            page["key"].as_str(),
            page["name"]["value"].as_str(),
            page["url"].as_str()
        ),
        (Some("todo-page"), Some("Todo"), Some("/confluence/tasks"))
    );
    assert_eq!(d["scopes"], json!(["READ", "WRITE", "ACT_AS_USER"]));
}

#[actix_web::test]
async fn the_descriptor_base_url_drops_a_trailing_slash() {
    let app = spawn_app_with(vec![("SITE_URL", format!("{SITE_URL}/"))]).await;
    let d: Value = app
        .client
        .get(format!("{}/atlassian-connect.json", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["baseUrl"], SITE_URL);
}

// ---------------------------------------------------------------------------------------------
// 3. Lifecycle
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn a_signed_install_lets_the_site_make_authenticated_requests() {
    let app = spawn_app().await;
    let site = Site::new("alpha");
    site.install(&app).await;
    assert_eq!(
        row(&app, &site.client_key),
        (true, true, Some(site.secret.clone()))
    );
    let (base_url, product): (String, String) = db(&app)
        .query_row(
            "SELECT base_url, product_type FROM jwt_tokens WHERE client_key = ?1",
            [&site.client_key],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        (base_url.as_str(), product.as_str()),
        (site.base_url.as_str(), "confluence")
    );

    let id = create_task(&app, &site, "After install").await;
    assert_eq!(task_ids(&app, &site).await, vec![id]);
    let page = site
        .get(&app, &format!("/confluence/get_task?id={id}"))
        .await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("After install"));
}

#[actix_web::test]
async fn an_install_token_may_name_the_audience_in_an_array_with_a_trailing_slash() {
    let app = spawn_app().await;
    let site = Site::new("arrayaud");
    let claims = with(
        site.install_claims("/confluence/installed"),
        "aud",
        json!(["https://other.example", format!("{SITE_URL}/")]),
    );
    let token = Site::rs256(&claims, Some("test-kid-1"));
    let res = send(
        &app,
        Method::POST,
        "/confluence/installed",
        Some(&token),
        None,
        Some(site.payload().to_string()),
    )
    .await;
    assert_eq!(res.status(), 204);
    assert_eq!(stored_secret(&app, &site.client_key), Some(site.secret));
}

#[actix_web::test]
async fn a_reinstall_rotates_the_shared_secret_at_once() {
    let app = spawn_app().await;
    let old = Site::new("alpha");
    old.install(&app).await;
    // Warm the installation cache with the old secret.
    assert_eq!(
        old.api(&app, Method::GET, "/api/tasks", None)
            .await
            .status(),
        200
    );
    let old_token = old.token("GET", "/confluence/tasks");

    let new = Site {
        secret: format!("{}-rotated", old.secret),
        ..old.clone()
    };
    new.install(&app).await;
    assert_eq!(
        stored_secret(&app, &new.client_key),
        Some(new.secret.clone())
    );

    let res = send(
        &app,
        Method::GET,
        "/confluence/tasks",
        Some(&old_token),
        None,
        None,
    )
    .await;
    assert_refused(&res, "a token signed with the old secret");
    let res = old.api(&app, Method::GET, "/api/tasks", None).await;
    assert_refused(&res, "a context token signed with the old secret");
    assert_eq!(
        new.api(&app, Method::GET, "/api/tasks", None)
            .await
            .status(),
        200
    );
    assert_eq!(new.get(&app, "/confluence/tasks").await.status(), 200);
}

/// One refused lifecycle request: what it is, its token, its body and the status it must get.
struct Attempt {
    name: &'static str,
    token: Option<String>,
    body: String,
    status: u16,
}

#[actix_web::test]
async fn every_refused_install_leaves_the_database_unchanged() {
    let app = spawn_app().await;
    let site = Site::new("alpha");
    site.install(&app).await;
    create_task(&app, &site, "Keep me").await;
    let other_keys = new_rsa_keys().unwrap();
    app.keys.publish("other-kid", &other_keys.public_pem);

    // The attacker (or a broken sender) tries to replace the site's secret.
    let attacker = Site {
        secret: "attacker-secret".into(),
        ..site.clone()
    };
    let path = "/confluence/installed";
    let body = attacker.payload().to_string();
    let claims = attacker.install_claims(path);
    let signed = |claims: &Value| Some(Site::rs256(claims, Some("test-kid-1")));
    let attempts = vec![
        Attempt {
            name: "unsigned (no Authorization)",
            token: None,
            body: body.clone(),
            status: 401,
        },
        Attempt {
            name: "HS256 with the site's current secret (the hijack)",
            token: Some(site.hs256(&json!({
                "iss": site.client_key, "iat": now(), "exp": now() + 180,
                "aud": SITE_URL, "qsh": qsh::qsh("POST", path, "", ""),
            }))),
            body: body.clone(),
            status: 401,
        },
        Attempt {
            name: "a key that does not match the kid",
            token: Some(Site::rs256(&claims, Some("other-kid"))),
            body: body.clone(),
            status: 401,
        },
        Attempt {
            name: "a kid the key server does not know",
            token: Some(Site::rs256(&claims, Some("unknown-kid"))),
            body: body.clone(),
            status: 401,
        },
        Attempt {
            name: "wrong aud",
            token: signed(&with(
                claims.clone(),
                "aud",
                json!("https://evil.example.test"),
            )),
            body: body.clone(),
            status: 401,
        },
        Attempt {
            name: "no aud",
            token: signed(&without(claims.clone(), "aud")),
            body: body.clone(),
            status: 401,
        },
        Attempt {
            name: "expired",
            token: signed(&with(
                with(claims.clone(), "exp", json!(now() - 120)),
                "iat",
                json!(now() - 300),
            )),
            body: body.clone(),
            status: 401,
        },
        Attempt {
            name: "no exp",
            token: signed(&without(claims.clone(), "exp")),
            body: body.clone(),
            status: 401,
        },
        Attempt {
            name: "issued in the future",
            token: signed(&with(claims.clone(), "iat", json!(now() + 600))),
            body: body.clone(),
            status: 401,
        },
        Attempt {
            name: "iss is not the body's clientKey",
            token: signed(&with(claims.clone(), "iss", json!("client-mallory"))),
            body: body.clone(),
            status: 401,
        },
        Attempt {
            name: "qsh of another lifecycle path",
            token: signed(&with(
                claims.clone(),
                "qsh",
                json!(qsh::qsh("POST", "/confluence/uninstalled", "", "")),
            )),
            body: body.clone(),
            status: 401,
        },
        Attempt {
            name: "context-qsh",
            token: signed(&with(claims.clone(), "qsh", json!("context-qsh"))),
            body: body.clone(),
            status: 401,
        },
        Attempt {
            name: "no qsh",
            token: signed(&without(claims.clone(), "qsh")),
            body: body.clone(),
            status: 401,
        },
        Attempt {
            name: "missing kid",
            token: Some(Site::rs256(&claims, None)),
            body: body.clone(),
            status: 401,
        },
        Attempt {
            name: "alg none",
            token: Some(alg_none(&claims)),
            body: body.clone(),
            status: 401,
        },
        Attempt {
            name: "malformed JSON body",
            token: signed(&claims),
            body: "{\"key\": ".into(),
            status: 400,
        },
        Attempt {
            name: "body without sharedSecret",
            token: signed(&claims),
            body: without(attacker.payload(), "sharedSecret").to_string(),
            status: 400,
        },
        Attempt {
            name: "body without baseUrl",
            token: signed(&claims),
            body: without(attacker.payload(), "baseUrl").to_string(),
            status: 400,
        },
        Attempt {
            name: "body without productType",
            token: signed(&claims),
            body: without(attacker.payload(), "productType").to_string(),
            status: 400,
        },
        Attempt {
            name: "body for another app key",
            token: signed(&claims),
            body: with(attacker.payload(), "key", json!("someone-elses-app")).to_string(),
            status: 400,
        },
        Attempt {
            name: "baseUrl that is not a URL",
            token: signed(&claims),
            body: with(attacker.payload(), "baseUrl", json!("javascript:alert(1)")).to_string(),
            status: 400,
        },
    ];

    let before = dump(&app);
    for attempt in attempts {
        let res = send(
            &app,
            Method::POST,
            path,
            attempt.token.as_deref(),
            None,
            Some(attempt.body),
        )
        .await;
        assert_eq!(res.status(), attempt.status, "{}", attempt.name);
        if attempt.status == 401 {
            assert_refused(&res, attempt.name);
        }
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json"),
            "{}",
            attempt.name
        );
        let body: Value = res.json().await.unwrap();
        assert!(body["error"].is_string(), "{}: {body}", attempt.name);
        assert_eq!(
            stored_secret(&app, &site.client_key),
            Some(site.secret.clone()),
            "{}",
            attempt.name
        );
        assert_eq!(dump(&app), before, "{} changed the database", attempt.name);
    }
    // The site still works with its own secret.
    assert_eq!(
        site.api(&app, Method::GET, "/api/tasks", None)
            .await
            .status(),
        200
    );
}

#[actix_web::test]
async fn an_unsigned_or_hs256_install_of_a_new_site_is_refused_too() {
    let app = spawn_app().await;
    let site = Site::new("newcomer");
    let path = "/confluence/installed";
    let body = site.payload().to_string();
    let res = send(&app, Method::POST, path, None, None, Some(body.clone())).await;
    assert_refused(&res, "unsigned install of a new site");
    let hs = site.hs256(&site.install_claims(path));
    let res = send(&app, Method::POST, path, Some(&hs), None, Some(body)).await;
    assert_refused(&res, "HS256 install of a new site");
    assert_eq!(dump(&app), "");
}

#[actix_web::test]
async fn a_path_like_kid_is_refused_without_asking_the_key_server() {
    let app = spawn_app().await;
    let site = Site::new("alpha");
    site.install(&app).await;
    let before = dump(&app);
    let hits_before = app.keys.hits.lock().unwrap().clone();
    let claims = Site {
        secret: "attacker-secret".into(),
        ..site.clone()
    }
    .install_claims("/confluence/installed");
    for kid in [
        "../x",
        "a/../../x",
        "/etc/passwd",
        "..%2fx",
        "x?y=1",
        "x#y",
        "x y",
        &"k".repeat(257),
    ] {
        let token = Site::rs256(&claims, Some(kid));
        let res = send(
            &app,
            Method::POST,
            "/confluence/installed",
            Some(&token),
            None,
            Some(site.payload().to_string()),
        )
        .await;
        assert_refused(&res, kid);
        assert_eq!(dump(&app), before, "{kid}");
    }
    assert_eq!(
        *app.keys.hits.lock().unwrap(),
        hits_before,
        "the key server was asked for a path-like kid"
    );
}

#[actix_web::test]
async fn a_base_url_outside_the_allowed_hosts_is_refused_with_400() {
    // Production itself cannot run end to end here: it insists on an https key server (see
    // the next test). ALLOWED_HOSTS is the same filter production applies by default.
    let app = spawn_app_with(vec![("ALLOWED_HOSTS", "*.atlassian.net".into())]).await;
    for (name, base_url) in [
        ("outsider", "https://evil.example.com/wiki"),
        ("suffix", "https://acme.atlassian.net.evil.com/wiki"),
        ("bare", "https://atlassian.net/wiki"),
        ("userinfo", "https://acme.atlassian.net@evil.com/wiki"),
    ] {
        let site = Site {
            base_url: base_url.into(),
            ..Site::new(name)
        };
        let status = site
            .post_lifecycle(&app, "installed", &site.payload())
            .await;
        assert_eq!(status, 400, "{base_url}");
    }
    assert_eq!(dump(&app), "");
    let acme = Site {
        base_url: "https://acme.atlassian.net/wiki".into(),
        ..Site::new("acme")
    };
    acme.install(&app).await;
}

#[test]
fn production_allows_only_atlassian_hosts_and_an_https_key_server() {
    let dir = tempfile::tempdir().unwrap();
    let load = |keys: &str| {
        let env = std::collections::HashMap::from([
            ("APP_ENV", "production".to_string()),
            ("SITE_URL", SITE_URL.to_string()),
            ("CONNECT_KEYS_URL", keys.to_string()),
            ("ADDON_KEY", ADDON_KEY.to_string()),
        ]);
        todo_connect::config::Settings::load(&|k| env.get(k).cloned(), dir.path())
    };
    let settings = load("https://connect-install-keys.atlassian.com").unwrap();
    assert!(settings.host_allowed("acme.atlassian.net"));
    assert!(settings.host_allowed("acme.jira.com"));
    assert!(!settings.host_allowed("evil.example.com"));
    assert!(!settings.host_allowed("acme.atlassian.net.evil.com"));
    assert!(load("http://127.0.0.1:9").is_err());
}

#[actix_web::test]
async fn uninstall_refuses_the_sites_tokens_keeps_its_tasks_and_reinstall_brings_them_back() {
    let app = spawn_app().await;
    let site = Site::new("alpha");
    site.install(&app).await;
    let id = create_task(&app, &site, "Survives uninstall").await;
    let page = format!("/confluence/get_task?id={id}");
    assert_eq!(site.get(&app, &page).await.status(), 200);

    assert_eq!(
        site.post_lifecycle(&app, "uninstalled", &site.payload())
            .await,
        204
    );
    assert_eq!(row(&app, &site.client_key), (false, false, None));
    let tasks: i64 = db(&app)
        .query_row("SELECT COUNT(*) FROM tasks", [], |r| r.get(0))
        .unwrap();
    assert_eq!(tasks, 1, "tasks are kept");
    assert_refused(&site.get(&app, &page).await, "iframe after uninstall");
    assert_refused(
        &site.api(&app, Method::GET, "/api/tasks", None).await,
        "API after uninstall",
    );
    assert_eq!(toggle(&app, &site, "enabled").await, 401);

    // Idempotent.
    let after = dump(&app);
    assert_eq!(
        site.post_lifecycle(&app, "uninstalled", &site.payload())
            .await,
        204
    );
    assert_eq!(row(&app, &site.client_key), (false, false, None));
    assert_eq!(dump(&app), after, "a second uninstall changes nothing");

    let back = Site {
        secret: "secret-after-reinstall".into(),
        ..site.clone()
    };
    back.install(&app).await;
    assert_eq!(
        row(&app, &site.client_key),
        (true, true, Some(back.secret.clone()))
    );
    assert_eq!(task_ids(&app, &back).await, vec![id]);
    assert_eq!(back.get(&app, &page).await.status(), 200);
}

#[actix_web::test]
async fn an_unsigned_uninstall_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let site = Site::new("alpha");
    site.install(&app).await;
    let before = dump(&app);
    let body = site.payload().to_string();
    let res = send(
        &app,
        Method::POST,
        "/confluence/uninstalled",
        None,
        None,
        Some(body.clone()),
    )
    .await;
    assert_refused(&res, "unsigned uninstall");
    let hs = site.token("POST", "/confluence/uninstalled");
    let res = send(
        &app,
        Method::POST,
        "/confluence/uninstalled",
        Some(&hs),
        None,
        Some(body),
    )
    .await;
    assert_refused(&res, "HS256 uninstall");
    assert_eq!(dump(&app), before);
}

async fn assert_site_refused(app: &TestApp, site: &Site, page: &str, what: &str) {
    assert_refused(
        &site.api(app, Method::GET, "/api/tasks", None).await,
        &format!("{what}: /api/tasks"),
    );
    assert_refused(&site.get(app, page).await, &format!("{what}: {page}"));
}

async fn assert_site_served(app: &TestApp, site: &Site, page: &str, what: &str) {
    let status = site
        .api(app, Method::GET, "/api/tasks", None)
        .await
        .status();
    assert_eq!(status, 200, "{what}: /api/tasks");
    assert_eq!(site.get(app, page).await.status(), 200, "{what}: {page}");
}

#[actix_web::test]
async fn disabling_refuses_the_sites_tokens_until_it_is_enabled_again() {
    let app = spawn_app().await;
    let site = Site::new("alpha");
    site.install(&app).await;
    let page = format!(
        "/confluence/get_task?id={}",
        create_task(&app, &site, "t").await
    );
    assert_site_served(&app, &site, &page, "installed").await;

    assert_eq!(toggle(&app, &site, "disabled").await, 204);
    assert_eq!(
        row(&app, &site.client_key),
        (true, false, Some(site.secret.clone()))
    );
    assert_site_refused(&app, &site, &page, "disabled").await;
    // A disabled site may repeat its disabled event.
    assert_eq!(toggle(&app, &site, "disabled").await, 204);

    assert_eq!(toggle(&app, &site, "enabled").await, 204);
    assert_eq!(
        row(&app, &site.client_key),
        (true, true, Some(site.secret.clone()))
    );
    assert_site_served(&app, &site, &page, "re-enabled").await;
}

#[actix_web::test]
async fn enabling_then_disabling_leaves_the_site_disabled() {
    let app = spawn_app().await;
    let site = Site::new("alpha");
    site.install(&app).await;
    let page = format!(
        "/confluence/get_task?id={}",
        create_task(&app, &site, "t").await
    );

    assert_eq!(toggle(&app, &site, "enabled").await, 204);
    assert_site_served(&app, &site, &page, "enabled").await;
    assert_eq!(toggle(&app, &site, "disabled").await, 204);
    assert_eq!(
        row(&app, &site.client_key),
        (true, false, Some(site.secret.clone()))
    );
    assert_site_refused(&app, &site, &page, "enabled then disabled").await;
    assert_eq!(toggle(&app, &site, "enabled").await, 204);
    assert_site_served(&app, &site, &page, "enabled again").await;
}

#[actix_web::test]
async fn enable_and_disable_accept_only_a_computed_qsh_for_the_same_site() {
    let app = spawn_app().await;
    let (site, other) = (Site::new("alpha"), Site::new("beta"));
    site.install(&app).await;
    other.install(&app).await;
    let before = dump(&app);
    let path = "/confluence/disabled";
    let body = site.payload().to_string();
    let cases: Vec<(&str, Option<String>, String)> = vec![
        ("no token", None, body.clone()),
        (
            "context token",
            Some(site.context_token("account-1")),
            body.clone(),
        ),
        (
            "qsh of enabled",
            Some(site.token("POST", "/confluence/enabled")),
            body.clone(),
        ),
        (
            "RS256 install token",
            Some(Site::rs256(&site.install_claims(path), Some("test-kid-1"))),
            body.clone(),
        ),
        (
            "token of another site for this site's body",
            Some(other.token("POST", path)),
            body.clone(),
        ),
    ];
    for (name, token, body) in cases {
        let res = send(&app, Method::POST, path, token.as_deref(), None, Some(body)).await;
        assert_refused(&res, name);
        assert_eq!(dump(&app), before, "{name}");
    }
    let token = site.token("POST", path);
    let res = send(
        &app,
        Method::POST,
        path,
        Some(&token),
        None,
        Some("{".into()),
    )
    .await;
    assert_eq!(res.status(), 400, "malformed body");
    assert_eq!(dump(&app), before, "malformed body");
}

#[actix_web::test]
async fn disabled_and_uninstalled_in_either_order_end_uninstalled() {
    let app = spawn_app().await;
    let site = Site::new("alpha");
    site.install(&app).await;
    let page = format!(
        "/confluence/get_task?id={}",
        create_task(&app, &site, "t").await
    );

    // Disabled, then uninstalled.
    assert_eq!(toggle(&app, &site, "disabled").await, 204);
    assert_eq!(
        site.post_lifecycle(&app, "uninstalled", &site.payload())
            .await,
        204
    );
    assert_eq!(row(&app, &site.client_key), (false, false, None));
    assert_site_refused(&app, &site, &page, "disabled then uninstalled").await;

    // Uninstalled, then a late disabled (and enabled): refused, nothing changes.
    site.install(&app).await;
    assert_eq!(
        site.post_lifecycle(&app, "uninstalled", &site.payload())
            .await,
        204
    );
    let before = dump(&app);
    assert_eq!(toggle(&app, &site, "disabled").await, 401);
    assert_eq!(toggle(&app, &site, "enabled").await, 401);
    assert_eq!(dump(&app), before);
    assert_eq!(row(&app, &site.client_key), (false, false, None));

    // Both at once: whichever lands first, the site ends uninstalled and refused.
    site.install(&app).await;
    let payload = site.payload();
    let (disabled, uninstalled) = tokio::join!(
        toggle(&app, &site, "disabled"),
        site.post_lifecycle(&app, "uninstalled", &payload)
    );
    assert!(matches!(disabled, 204 | 401), "disabled: {disabled}");
    assert_eq!(uninstalled, 204);
    assert_eq!(row(&app, &site.client_key), (false, false, None));
    assert_site_refused(&app, &site, &page, "concurrent disabled and uninstalled").await;
}

// ---------------------------------------------------------------------------------------------
// 4. Token matrix
// ---------------------------------------------------------------------------------------------

/// One request of the matrix: the token(s) it carries and the status it must get.
struct Case {
    name: &'static str,
    header: Option<String>,
    param: Option<String>,
    status: u16,
}

impl Case {
    fn header(name: &'static str, token: String, status: u16) -> Self {
        Self {
            name,
            header: Some(token),
            param: None,
            status,
        }
    }
}

struct Matrix {
    app: TestApp,
    alpha: Site,
    uninstalled: Site,
    disabled: Site,
    task_id: i64,
}

async fn matrix_fixture() -> Matrix {
    let app = spawn_app().await;
    let (alpha, uninstalled, disabled) =
        (Site::new("alpha"), Site::new("gone"), Site::new("sleeping"));
    for site in [&alpha, &uninstalled, &disabled] {
        site.install(&app).await;
    }
    let task_id = create_task(&app, &alpha, "Matrix task").await;
    assert_eq!(
        uninstalled
            .post_lifecycle(&app, "uninstalled", &uninstalled.payload())
            .await,
        204
    );
    assert_eq!(toggle(&app, &disabled, "disabled").await, 204);
    Matrix {
        app,
        alpha,
        uninstalled,
        disabled,
        task_id,
    }
}

/// Every case for `GET path_and_query`; `context_status` is what a context token gets there.
fn matrix_cases(
    m: &Matrix,
    path_and_query: &str,
    other_url: &str,
    context_status: u16,
) -> Vec<Case> {
    let claims = m.alpha.claims("GET", path_and_query);
    let secret = m.alpha.secret.as_str();
    let hs = |c: &Value| hs256_with(c, secret, Algorithm::HS256);
    let valid = hs(&claims);
    let twin = hs(&with(claims.clone(), "jti", json!("another-token")));
    let oversized = hs(&with(claims.clone(), "pad", json!("x".repeat(9 * 1024))));
    assert!(oversized.len() > 8 * 1024);
    let rs256 = Site::rs256(
        &with(claims.clone(), "aud", json!(SITE_URL)),
        Some("test-kid-1"),
    );
    let stranger = Site::new("stranger");
    vec![
        Case {
            name: "no token",
            header: None,
            param: None,
            status: 401,
        },
        Case::header("garbage", "not-a-jwt".into(), 401),
        Case::header("three garbage segments", "a.b.c".into(), 401),
        Case::header("alg none", alg_none(&claims), 401),
        Case::header("HS384", hs256_with(&claims, secret, Algorithm::HS384), 401),
        Case::header("HS512", hs256_with(&claims, secret, Algorithm::HS512), 401),
        Case::header("RS256 signed with the install key", rs256, 401),
        Case::header(
            "wrong secret",
            hs256_with(&claims, "not-the-secret", Algorithm::HS256),
            401,
        ),
        Case::header(
            "expired",
            hs(&with(claims.clone(), "exp", json!(now() - 120))),
            401,
        ),
        Case::header("missing exp", hs(&without(claims.clone(), "exp")), 401),
        Case::header("missing qsh", hs(&without(claims.clone(), "qsh")), 401),
        Case::header(
            "qsh of another URL",
            hs(&m.alpha.claims("GET", other_url)),
            401,
        ),
        Case::header(
            "qsh of another method",
            hs(&m.alpha.claims("POST", path_and_query)),
            401,
        ),
        Case::header(
            "context-qsh",
            m.alpha.context_token("account-1"),
            context_status,
        ),
        Case::header("unknown iss", stranger.token("GET", path_and_query), 401),
        Case::header(
            "uninstalled site",
            m.uninstalled.token("GET", path_and_query),
            401,
        ),
        Case::header(
            "disabled site",
            m.disabled.token("GET", path_and_query),
            401,
        ),
        Case::header("oversized token", oversized, 401),
        Case {
            name: "header and parameter disagreeing",
            header: Some(valid.clone()),
            param: Some(twin.clone()),
            status: 401,
        },
        Case {
            name: "two different jwt parameters",
            header: None,
            param: Some(format!("{valid}&jwt={twin}")),
            status: 401,
        },
        Case {
            name: "the same token in header and parameter",
            header: Some(valid.clone()),
            param: Some(valid.clone()),
            status: 200,
        },
        Case::header("valid in the header", valid.clone(), 200),
        Case {
            name: "valid in the jwt parameter",
            header: None,
            param: Some(valid),
            status: 200,
        },
    ]
}

async fn run_matrix(m: &Matrix, path_and_query: &str, cases: Vec<Case>, error_type: &str) {
    let mut failures = Vec::new();
    for case in cases {
        let res = send(
            &m.app,
            Method::GET,
            path_and_query,
            case.header.as_deref(),
            case.param.as_deref(),
            None,
        )
        .await;
        let status = res.status().as_u16();
        let challenge = res
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_string());
        let content_type = res
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        if status != case.status {
            failures.push(format!("{}: {status}, expected {}", case.name, case.status));
        } else if status == 401 && challenge.as_deref() != Some(REALM) {
            failures.push(format!("{}: WWW-Authenticate {challenge:?}", case.name));
        } else if status == 401 && !content_type.starts_with(error_type) {
            failures.push(format!("{}: content type {content_type}", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{path_and_query}:\n{}",
        failures.join("\n")
    );
}

#[actix_web::test]
async fn the_token_matrix_on_an_iframe_route() {
    let m = matrix_fixture().await;
    let page = format!("/confluence/get_task?id={}", m.task_id);
    let other = format!("/confluence/get_task?id={}", m.task_id + 1);
    let cases = matrix_cases(&m, &page, &other, 401);
    run_matrix(&m, &page, cases, "text/html").await;
}

#[actix_web::test]
async fn the_token_matrix_on_an_api_route() {
    let m = matrix_fixture().await;
    let cases = matrix_cases(&m, "/api/tasks", "/api/tasks?done=true", 200);
    run_matrix(&m, "/api/tasks", cases, "application/json").await;
}

#[actix_web::test]
async fn the_jwt_parameter_is_not_part_of_the_qsh_on_an_iframe_route() {
    let m = matrix_fixture().await;
    // Confluence appends jwt in the middle of its own parameters.
    let pq = format!(
        "/confluence/get_task?xdm_e=https%3A%2F%2Falpha.atlassian.net&id={}&cp=%2Fwiki&lic=none",
        m.task_id
    );
    let token = m.alpha.token("GET", &pq);
    let (before, after) = pq.split_once("&cp=").unwrap();
    let url = format!("{before}&jwt={token}&cp={after}");
    let res = send(&m.app, Method::GET, &url, None, None, None).await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("Matrix task"));
}

// ---------------------------------------------------------------------------------------------
// 5. Interoperability with the public atlassian-jwt library
// ---------------------------------------------------------------------------------------------

/// The Python with `atlassian_jwt`: `TODO_CONNECT_PYTHON`, else `./.venv/bin/python`.
fn interop_python() -> std::path::PathBuf {
    if let Some(path) = std::env::var_os("TODO_CONNECT_PYTHON") {
        let path = std::path::PathBuf::from(path);
        assert!(
            path.exists(),
            "TODO_CONNECT_PYTHON={} does not exist; run scripts/setup.sh",
            path.display()
        );
        return path;
    }
    let venv = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    assert!(
        venv.exists(),
        "no Python with atlassian-jwt: run scripts/setup.sh (or set TODO_CONNECT_PYTHON)"
    );
    venv
}

/// Mints one token per request with `tests/interop/mint.py` (atlassian_jwt.encode_token).
fn mint(site: &Site, requests: &[(&str, String)]) -> Vec<String> {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/mint.py");
    let args: Vec<Value> = requests
        .iter()
        .map(|(method, url)| {
            json!({"secret": site.secret, "iss": site.client_key, "method": method, "url": url})
        })
        .collect();
    let output = std::process::Command::new(interop_python())
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
    let tokens = mint(&site, &requests);
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

// ---------------------------------------------------------------------------------------------
// 6. Users seen per installation
// ---------------------------------------------------------------------------------------------

fn seen(app: &TestApp, account: &str) -> Option<(String, String)> {
    db(app)
        .query_row(
            "SELECT first_seen_at, last_seen_at FROM jwt_users WHERE account_id = ?1",
            [account],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .ok()
}

#[actix_web::test]
async fn a_user_is_recorded_once_and_not_rewritten_on_every_request() {
    let app = spawn_app().await;
    let site = Site::new("alpha");
    site.install(&app).await;
    assert_eq!(seen(&app, "account-1"), None);

    let res = site.api(&app, Method::GET, "/api/tasks", None).await;
    assert_eq!(res.status(), 200);
    let installation: i64 = db(&app)
        .query_row(
            "SELECT site_id FROM jwt_users WHERE account_id = 'account-1'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let expected: i64 = db(&app)
        .query_row(
            "SELECT id FROM jwt_tokens WHERE client_key = ?1",
            [&site.client_key],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(installation, expected);

    // Mark the row as old: a second write would overwrite it with the current time.
    let old = "2000-01-01T00:00:00.000Z";
    db(&app)
        .execute(
            "UPDATE jwt_users SET last_seen_at = ?1 WHERE account_id = 'account-1'",
            [old],
        )
        .unwrap();
    assert_eq!(
        site.api(&app, Method::GET, "/api/tasks", None)
            .await
            .status(),
        200
    );
    assert_eq!(site.get(&app, "/confluence/tasks").await.status(), 200);
    assert_eq!(seen(&app, "account-1").unwrap().1, old);

    // Another user (known by `sub` only) is still written: recording works, it is throttled.
    let token = site.hs256(&json!({
        "iss": site.client_key, "sub": "account-2", "iat": now(), "exp": now() + 60,
        "qsh": "context-qsh",
    }));
    let res = send(&app, Method::GET, "/api/tasks", Some(&token), None, None).await;
    assert_eq!(res.status(), 200);
    assert!(seen(&app, "account-2").is_some());

    // An anonymous viewer is not recorded.
    let users = || -> i64 {
        db(&app)
            .query_row("SELECT COUNT(*) FROM jwt_users", [], |r| r.get(0))
            .unwrap()
    };
    let count = users();
    let anonymous = site.hs256(&json!({
        "iss": site.client_key, "iat": now(), "exp": now() + 60, "qsh": "context-qsh",
    }));
    let res = send(
        &app,
        Method::GET,
        "/api/tasks",
        Some(&anonymous),
        None,
        None,
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(users(), count);
}

#[actix_web::test]
async fn a_token_in_a_form_field_is_verified_like_any_other() {
    let app = spawn_app().await;
    let site = Site::new("formpost");
    site.install(&app).await;
    let post = |body: String, header: Option<String>| {
        let mut req = app
            .client
            .post(format!("{}/api/tasks", app.address))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some(token) = header {
            req = req.header("Authorization", format!("JWT {token}"));
        }
        async move { req.send().await.unwrap().status().as_u16() }
    };
    let good = site.token("POST", "/api/tasks");
    let other = site.token("POST", "/api/tasks?x=1");
    // Verified, then refused by the handler for not being JSON: authentication passed.
    assert_eq!(post(format!("title=x&jwt={good}"), None).await, 400);
    // A forged or mismatching form token is an authentication failure.
    assert_eq!(post("title=x&jwt=not.a.token".into(), None).await, 401);
    assert_eq!(
        post(format!("jwt={other}"), None).await,
        401,
        "qsh of another URL"
    );
    // Form field and header must agree.
    assert_eq!(post(format!("jwt={good}"), Some(other.clone())).await, 401);
    assert_eq!(post(format!("jwt={good}"), Some(good.clone())).await, 400);
    let tasks: i64 = db(&app)
        .query_row("SELECT count(*) FROM tasks", [], |r| r.get(0))
        .unwrap();
    assert_eq!(tasks, 0);
}
