//! The signed install: what it stores, what it lets a site do, and every way an install is
//! refused without touching the database.

use reqwest::Method;
use serde_json::{Value, json};

use super::{alg_none, assert_refused, create_task, row, send, task_ids, with, without};
use crate::harness::api::{Settings, qsh};
use crate::harness::*;

const INSTALLED: &str = "/confluence/installed";

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
        site.install_claims(INSTALLED),
        "aud",
        json!(["https://other.example", format!("{SITE_URL}/")]),
    );
    let token = Site::rs256(&claims, Some(INSTALL_KID));
    let res = send(
        &app,
        Method::POST,
        INSTALLED,
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

// ---- refused installs ------------------------------------------------------------------------

/// An installed site with a task, and an attacker (or a broken sender) who tries to replace
/// the site's secret with one of its own.
struct Hijack {
    app: TestApp,
    site: Site,
    attacker: Site,
}

impl Hijack {
    async fn new() -> Self {
        let app = spawn_app().await;
        let site = Site::new("alpha");
        site.install(&app).await;
        create_task(&app, &site, "Keep me").await;
        let attacker = Site {
            secret: "attacker-secret".into(),
            ..site.clone()
        };
        Self {
            app,
            site,
            attacker,
        }
    }

    /// The attacker's body.
    fn body(&self) -> String {
        self.attacker.payload().to_string()
    }

    /// Valid install claims for the attacker's body.
    fn claims(&self) -> Value {
        self.attacker.install_claims(INSTALLED)
    }

    /// Posts each attempt (name, token, body, expected status): each gets its status with a
    /// JSON error (a 401 naming the realm), and leaves the secret and every row unchanged. The
    /// site still works with its own secret afterwards.
    async fn assert_each_refused(&self, attempts: Vec<(&str, Option<String>, String, u16)>) {
        let app = &self.app;
        let before = dump(app).await;
        for (name, token, body, status) in attempts {
            let res = send(
                app,
                Method::POST,
                INSTALLED,
                token.as_deref(),
                None,
                Some(body),
            )
            .await;
            assert_eq!(res.status(), status, "{name}");
            if status == 401 {
                assert_refused(&res, name);
            }
            assert!(
                res.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("application/json"),
                "{name}"
            );
            let body: Value = res.json().await.unwrap();
            assert!(body["error"].is_string(), "{name}: {body}");
            assert_eq!(
                stored_secret(app, &self.site.client_key),
                Some(self.site.secret.clone()),
                "{name}"
            );
            assert_eq!(dump(app).await, before, "{name} changed the database");
        }
        let status = self
            .site
            .api(app, Method::GET, "/api/tasks", None)
            .await
            .status();
        assert_eq!(status, 200);
    }
}

/// An RS256 token signed with the install key under its published kid.
fn signed(claims: &Value) -> Option<String> {
    Some(Site::rs256(claims, Some(INSTALL_KID)))
}

#[actix_web::test]
async fn an_install_without_a_valid_rs256_signature_is_refused_and_changes_nothing() {
    let h = Hijack::new().await;
    let other_keys = new_rsa_keys().unwrap();
    h.app.keys.publish("other-kid", &other_keys.public_pem);
    let (body, claims, site) = (h.body(), h.claims(), &h.site);
    let hijack = site.hs256(&json!({
        "iss": site.client_key, "iat": now(), "exp": now() + 180,
        "aud": SITE_URL, "qsh": qsh::qsh("POST", INSTALLED, "", ""),
    }));
    h.assert_each_refused(vec![
        ("unsigned (no Authorization)", None, body.clone(), 401),
        (
            "HS256 with the site's current secret (the hijack)",
            Some(hijack),
            body.clone(),
            401,
        ),
        (
            "a key that does not match the kid",
            Some(Site::rs256(&claims, Some("other-kid"))),
            body.clone(),
            401,
        ),
        (
            "a kid the key server does not know",
            Some(Site::rs256(&claims, Some("unknown-kid"))),
            body.clone(),
            401,
        ),
        (
            "missing kid",
            Some(Site::rs256(&claims, None)),
            body.clone(),
            401,
        ),
        ("alg none", Some(alg_none(&claims)), body, 401),
    ])
    .await;
}

#[actix_web::test]
async fn an_install_token_with_a_wrong_or_missing_claim_is_refused_and_changes_nothing() {
    let h = Hijack::new().await;
    let (body, claims) = (h.body(), h.claims());
    let claim = |name, value| signed(&with(claims.clone(), name, value));
    let no = |name| signed(&without(claims.clone(), name));
    let expired = with(
        with(claims.clone(), "exp", json!(now() - 120)),
        "iat",
        json!(now() - 300),
    );
    let uninstall_qsh = json!(qsh::qsh("POST", "/confluence/uninstalled", "", ""));
    let tokens = [
        (
            "wrong aud",
            claim("aud", json!("https://evil.example.test")),
        ),
        ("no aud", no("aud")),
        ("expired", signed(&expired)),
        ("no exp", no("exp")),
        ("issued in the future", claim("iat", json!(now() + 600))),
        (
            "iss is not the body's clientKey",
            claim("iss", json!("client-mallory")),
        ),
        ("qsh of another lifecycle path", claim("qsh", uninstall_qsh)),
        ("context-qsh", claim("qsh", json!("context-qsh"))),
        ("no qsh", no("qsh")),
    ];
    let attempts = tokens
        .into_iter()
        .map(|(name, token)| (name, token, body.clone(), 401))
        .collect();
    h.assert_each_refused(attempts).await;
}

#[actix_web::test]
async fn a_signed_install_with_a_bad_body_gets_400_and_changes_nothing() {
    let h = Hijack::new().await;
    let token = signed(&h.claims());
    let payload = h.attacker.payload();
    let bad = |body: Value| body.to_string();
    let cases = [
        ("malformed JSON body", "{\"key\": ".to_string()),
        (
            "body without sharedSecret",
            bad(without(payload.clone(), "sharedSecret")),
        ),
        (
            "body without baseUrl",
            bad(without(payload.clone(), "baseUrl")),
        ),
        (
            "body without productType",
            bad(without(payload.clone(), "productType")),
        ),
        (
            "body for another app key",
            bad(with(payload.clone(), "key", json!("someone-elses-app"))),
        ),
        (
            "baseUrl that is not a URL",
            bad(with(payload, "baseUrl", json!("javascript:alert(1)"))),
        ),
    ];
    let attempts = cases
        .into_iter()
        .map(|(name, body)| (name, token.clone(), body, 400))
        .collect();
    h.assert_each_refused(attempts).await;
}

#[actix_web::test]
async fn an_unsigned_or_hs256_install_of_a_new_site_is_refused_too() {
    let app = spawn_app().await;
    let site = Site::new("newcomer");
    let body = site.payload().to_string();
    let res = send(
        &app,
        Method::POST,
        INSTALLED,
        None,
        None,
        Some(body.clone()),
    )
    .await;
    assert_refused(&res, "unsigned install of a new site");
    let hs = site.hs256(&site.install_claims(INSTALLED));
    let res = send(&app, Method::POST, INSTALLED, Some(&hs), None, Some(body)).await;
    assert_refused(&res, "HS256 install of a new site");
    assert_eq!(dump(&app).await, "");
}

#[actix_web::test]
async fn a_path_like_kid_is_refused_without_asking_the_key_server() {
    let app = spawn_app().await;
    let site = Site::new("alpha");
    site.install(&app).await;
    let before = dump(&app).await;
    let hits_before = app.keys.hits.lock().unwrap().clone();
    let claims = Site {
        secret: "attacker-secret".into(),
        ..site.clone()
    }
    .install_claims(INSTALLED);
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
        let body = Some(site.payload().to_string());
        let res = send(&app, Method::POST, INSTALLED, Some(&token), None, body).await;
        assert_refused(&res, kid);
        assert_eq!(dump(&app).await, before, "{kid}");
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
    assert_eq!(dump(&app).await, "");
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
        Settings::load(&|k| env.get(k).cloned(), dir.path())
    };
    let settings = load("https://connect-install-keys.atlassian.com").unwrap();
    assert!(settings.host_allowed("acme.atlassian.net"));
    assert!(settings.host_allowed("acme.jira.com"));
    assert!(!settings.host_allowed("evil.example.com"));
    assert!(!settings.host_allowed("acme.atlassian.net.evil.com"));
    assert!(load("http://127.0.0.1:9").is_err());
}
