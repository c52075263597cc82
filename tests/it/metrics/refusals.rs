//! Authentication refusals in the metrics, by way in and reason, against the real binary: after
//! a known set of refused requests — every reason each way in can give, Connect's and Forge's
//! key servers answering, refusing and down — and successful ones between them, each
//! `auth_refusals_total{way,reason}` moved by exactly the refusals sent (each a 401) and every
//! other series stayed where it was.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{Deployment, Sample, parser_python, value};
use crate::harness::raw_http::{Response, request_authorized};
use crate::harness::*;

const INSTALLED: &str = "/confluence/installed";
const WAYS: [&str; 3] = ["connect", "forge", "lifecycle"];
const REASONS: [&str; 9] = [
    "missing",
    "malformed",
    "expired",
    "signature",
    "claims",
    "qsh",
    "unknown_site",
    "unknown_key",
    "keys_unavailable",
];

/// What a way in cannot refuse for: Connect's product tokens carry no claim beyond those
/// checked as `expired`, `qsh` or `unknown_site` and need no key server; Forge has no qsh.
const UNREACHABLE: [(&str, &str); 4] = [
    ("connect", "claims"),
    ("connect", "unknown_key"),
    ("connect", "keys_unavailable"),
    ("forge", "qsh"),
];

/// The deployment under test, and the refusals sent to it by way in and reason.
struct Probe {
    deployment: Deployment,
    jwks: JwksServer,
    sent: BTreeMap<(&'static str, &'static str), u32>,
}

impl Probe {
    /// `method path` with `authorization` and a JSON `body`: its answer.
    fn send(
        &self,
        method: &str,
        path: &str,
        authorization: Option<String>,
        body: &Value,
    ) -> Response {
        let body = if body.is_null() {
            String::new()
        } else {
            body.to_string()
        };
        let port = self.deployment.port();
        request_authorized(port, method, path, authorization.as_deref(), &body)
    }

    /// Sends a request that must be refused (asserts the 401) and counts it under `way, reason`.
    fn refused(
        &mut self,
        way: &'static str,
        reason: &'static str,
        request: (&str, &str, Option<String>, Value),
    ) {
        let (method, path, authorization, body) = request;
        let res = self.send(method, path, authorization, &body);
        assert_eq!(
            res.status,
            401,
            "{way}/{reason} {method} {path}: {}",
            res.text()
        );
        *self.sent.entry((way, reason)).or_default() += 1;
    }

    /// Sends a request that must succeed with `status`.
    fn accepted(&self, status: u16, request: (&str, &str, Option<String>, Value)) {
        let (method, path, authorization, body) = request;
        let res = self.send(method, path, authorization, &body);
        assert_eq!(res.status, status, "{method} {path}: {}", res.text());
    }
}

fn jwt(token: String) -> Option<String> {
    Some(format!("JWT {token}"))
}

fn bearer(token: String) -> Option<String> {
    Some(format!("Bearer {token}"))
}

/// A FIT of `site` with `change` applied to its claims, signed with `key` under `kid`.
fn fit(
    site: &ForgeSite,
    change: impl FnOnce(&mut Value),
    key: &testkit::rsa::RsaKeys,
    kid: &str,
) -> String {
    let mut claims = site.claims();
    change(&mut claims);
    sign_fit(&claims, key, Some(kid))
}

/// An `installed` token of `site` with `change` applied, signed with `key` naming `kid`.
fn install_token(site: &Site, change: fn(&mut Value), key: &str, kid: &str) -> String {
    let mut claims = site.install_claims(INSTALLED);
    change(&mut claims);
    testkit::tokens::sign_rs256(&claims, key, Some(kid)).unwrap()
}

fn refusals(samples: &[Sample], way: &str, reason: &str) -> f64 {
    value(
        samples,
        "auth_refusals_total",
        &[("way", way), ("reason", reason)],
    )
}

#[test]
fn every_refusal_counts_once_under_its_way_in_and_reason() {
    let Some(python) = parser_python() else {
        return;
    };
    let jwks = JwksServer::start();
    jwks.set_down(true);
    let env = forge_env(&jwks);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let deployment = Deployment::start(&env);
    // A key the key server serves but that is no key: Atlassian's key server unusable.
    deployment._keys.publish("broken-kid", "not a key");
    let before = deployment.scrape(&python);
    let mut probe = Probe {
        deployment,
        jwks,
        sent: BTreeMap::new(),
    };
    let (a, b) = (ForgeSite::new(), ForgeSite::new());
    forge_while_the_key_set_is_down(&mut probe, &a);
    connect_and_its_lifecycle(&mut probe);
    forge_and_its_lifecycle(&mut probe, &a, &b);

    let after = probe.deployment.scrape(&python);
    let family = after.iter().filter(|s| s.name == "auth_refusals_total");
    assert_eq!(family.count(), WAYS.len() * REASONS.len(), "{after:?}");
    for way in WAYS {
        for reason in REASONS {
            let moved = refusals(&after, way, reason) - refusals(&before, way, reason);
            let sent = probe.sent.get(&(way, reason)).copied().unwrap_or(0);
            let series = format!("auth_refusals_total{{way={way},reason={reason}}}");
            assert_eq!(moved, f64::from(sent), "{series}");
            // Every reason a way in can give was given (the test covers them all).
            assert_eq!(sent > 0, !UNREACHABLE.contains(&(way, reason)), "{series}");
        }
    }
}

/// Forge's key set unreachable: a product call and an event are refused for want of keys; once
/// it is back (a failed fetch is remembered a few seconds), the same call succeeds.
fn forge_while_the_key_set_is_down(probe: &mut Probe, a: &ForgeSite) {
    let call = || ("GET", "/forge/api/tasks", bearer(a.token()), Value::Null);
    probe.refused("forge", "keys_unavailable", call());
    let event = (
        "POST",
        "/forge/events",
        bearer(a.token()),
        a.installed_event(),
    );
    probe.refused("lifecycle", "keys_unavailable", event);
    probe.jwks.set_down(false);
    for _ in 0..200 {
        let res = probe.send("GET", "/forge/api/tasks", bearer(a.token()), &Value::Null);
        if res.status == 200 {
            return;
        }
        assert_eq!(res.status, 401, "{}", res.text());
        *probe.sent.entry(("forge", "keys_unavailable")).or_default() += 1;
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("the key set never came back");
}

fn connect_and_its_lifecycle(probe: &mut Probe) {
    let site = Site::new("refusals");
    let id = probe.deployment.install_with_task(&site);
    probe.deployment.render_macro(&site, id);
    let stranger = Site::new("refusals-stranger");
    let forged = Site {
        secret: "not-the-shared-secret".into(),
        ..site.clone()
    };
    let page = format!("/confluence/get_task?id={id}");
    let expired = |s: &Site, method: &str, path: &str| {
        let mut claims = s.claims(method, path);
        claims["exp"] = json!(now() - 600);
        s.hs256(&claims)
    };
    let get = |auth: Option<String>| ("GET", page.as_str(), auth, Value::Null);
    let api = (
        "GET",
        "/api/tasks",
        jwt(site.context_token("a")),
        Value::Null,
    );
    probe.accepted(200, api.clone());
    probe.refused(
        "connect",
        "missing",
        ("GET", "/api/tasks", None, Value::Null),
    );
    for (reason, auth) in [
        ("missing", None),
        ("malformed", jwt("not-a-token".into())),
        ("malformed", Some("Bearer x.y.z".into())),
        ("expired", jwt(expired(&site, "GET", &page))),
        ("signature", jwt(forged.token("GET", &page))),
        ("qsh", jwt(site.token("GET", "/confluence/get_task?id=0"))),
        ("qsh", api.2),
        ("unknown_site", jwt(stranger.token("GET", &page))),
    ] {
        probe.refused("connect", reason, get(auth));
    }

    // enabled / disabled: the Connect extractor, counted as lifecycle by the route's policy.
    let enabled = |auth: Option<String>, body: Value| ("POST", "/confluence/enabled", auth, body);
    let token = |s: &Site| jwt(s.token("POST", "/confluence/enabled"));
    probe.accepted(204, enabled(token(&site), site.payload()));
    let stale = jwt(expired(&site, "POST", "/confluence/enabled"));
    for (reason, auth, body) in [
        ("expired", stale, site.payload()),
        ("unknown_site", token(&stranger), stranger.payload()),
        ("claims", token(&site), stranger.payload()),
    ] {
        probe.refused("lifecycle", reason, enabled(auth, body));
    }

    // installed: Atlassian's RS256 token, its key from the key server.
    let key = testkit::keys::install_keys().private_pem.as_str();
    let install = |auth: Option<String>, body: Value| ("POST", INSTALLED, auth, body);
    let signed = |change: fn(&mut Value), kid: &str| jwt(install_token(&site, change, key, kid));
    let same: fn(&mut Value) = |_| {};
    let forged_install = jwt(install_token(
        &site,
        same,
        &rotated_key().private_pem,
        INSTALL_KID,
    ));
    let payload = site.payload();
    probe.accepted(204, install(signed(same, INSTALL_KID), payload.clone()));
    for (reason, auth, body) in [
        ("missing", None, &payload),
        ("malformed", jwt("x".into()), &payload),
        (
            "expired",
            signed(|c| c["exp"] = json!(now() - 600), INSTALL_KID),
            &payload,
        ),
        ("signature", forged_install, &payload),
        (
            "claims",
            signed(|c| c["aud"] = json!("https://x.example"), INSTALL_KID),
            &payload,
        ),
        ("claims", signed(same, INSTALL_KID), &stranger.payload()),
        (
            "qsh",
            signed(|c| c["qsh"] = json!("0".repeat(64)), INSTALL_KID),
            &payload,
        ),
        ("unknown_key", signed(same, "no-such-kid"), &payload),
        ("keys_unavailable", signed(same, "broken-kid"), &payload),
    ] {
        probe.refused("lifecycle", reason, install(auth, body.clone()));
    }
}

fn forge_and_its_lifecycle(probe: &mut Probe, a: &ForgeSite, b: &ForgeSite) {
    let key = forge_key();
    let call = |auth: Option<String>| ("GET", "/forge/api/tasks", auth, Value::Null);
    probe.accepted(200, call(bearer(b.token())));
    // a's installation with b's cloud: two sites.
    let mixed = ForgeSite {
        cloud_id: b.cloud_id.clone(),
        api_base_url: b.api_base_url.clone(),
        ..a.clone()
    };
    let expired = |s: &ForgeSite| fit(s, |c| c["exp"] = json!(now() - 120), key, FORGE_KID);
    let forged = |s: &ForgeSite| fit(s, |_| {}, rotated_key(), FORGE_KID);
    let theirs = |s: &ForgeSite| fit(s, |c| c["aud"] = json!(OTHER_APP_ARI), key, FORGE_KID);
    let unknown_kid = |s: &ForgeSite| fit(s, |_| {}, key, "no-such-forge-kid");
    for (reason, auth) in [
        ("missing", None),
        ("missing", Some("Basic dXNlcjpwYXNz".into())),
        ("malformed", bearer("not-a-token".into())),
        ("expired", bearer(expired(a))),
        ("signature", bearer(forged(a))),
        ("claims", bearer(theirs(a))),
        ("unknown_key", bearer(unknown_kid(a))),
        ("unknown_site", bearer(mixed.token())),
    ] {
        probe.refused("forge", reason, call(auth));
    }

    // Forge's lifecycle: the event trigger and preUninstall.
    let event = |auth: Option<String>, body: Value| ("POST", "/forge/events", auth, body);
    let installed = a.installed_event();
    probe.accepted(200, event(bearer(a.token()), installed.clone()));
    for (reason, auth, body) in [
        ("missing", None, &installed),
        ("malformed", bearer("x".into()), &installed),
        ("expired", bearer(expired(a)), &installed),
        ("signature", bearer(forged(a)), &installed),
        ("claims", bearer(theirs(a)), &installed),
        ("claims", bearer(a.token()), &b.installed_event()),
        ("unknown_key", bearer(unknown_kid(a)), &installed),
        (
            "unknown_site",
            bearer(mixed.token()),
            &mixed.installed_event(),
        ),
    ] {
        probe.refused("lifecycle", reason, event(auth, body.clone()));
    }
    let uninstall = json!({"context": {"cloudId": b.cloud_id, "moduleKey": "k"}});
    let pre_uninstall = ("POST", "/forge/pre-uninstall", bearer(a.token()), uninstall);
    probe.refused("lifecycle", "claims", pre_uninstall);
}
