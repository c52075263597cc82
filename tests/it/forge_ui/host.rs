//! A stand-in for Forge's side of a Custom UI, so the UI built from `forge/` runs unchanged
//! (with the real `@forge/bridge` bundled in) against the real server:
//!
//! - it serves `forge/build/` on its own origin with a content security policy as strict as
//!   Forge's for Custom UI (scripts and styles only from the resource itself, nothing inline);
//! - [`bridge_script`] is the host half of the bridge (`window.__bridge.callBridge`), injected
//!   before any page script: `getContext` answers the view's context, `submit` and `close` are
//!   recorded, `invoke` (what `invokeRemote` sends) is posted to this host, and
//!   `fetchProduct` (what `requestConfluence` / `requestJira` send) answers the user APIs from
//!   [`USER_NAMES`] — held until the page calls `window.__answerNames()`, so a test sees what a
//!   view shows before the names arrive (see [`product_fetch`]);
//! - `POST /__forge/invoke` does what Forge does with it: mints a fresh Forge Invocation Token
//!   for the site, module and context (the harness's minter, the harness's JWKS server behind
//!   it) and calls the server at the asked method and path with `Authorization: Bearer`. The
//!   browser never sees a token.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use actix_web::http::header;
use actix_web::middleware::DefaultHeaders;
use actix_web::{App, HttpResponse, HttpServer, web};
use serde_json::{Value, json};

use crate::harness::*;

/// Forge's policy for Custom UI, in the parts that matter here: nothing from elsewhere,
/// nothing inline.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                       img-src 'self' data:; font-src 'self'; connect-src 'self'; \
                       base-uri 'none'; form-action 'none'";

/// What one `invokeRemote` became: the call the server got and its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub method: String,
    pub path: String,
    pub status: u16,
}

/// What the host knows: the server, the site, and the view currently open.
struct Shared {
    server: String,
    site: ForgeSite,
    view: Mutex<View>,
    calls: Mutex<Vec<Invocation>>,
    client: reqwest::Client,
    /// Sent as `x-forge-oauth-system` with every call once set (an endpoint with
    /// `appSystemToken` enabled).
    system_token: Mutex<Option<String>>,
}

/// The module a page is and the context Forge gives it.
#[derive(Clone, Debug)]
pub struct View {
    /// `macro-view`, `macro-config` or `global-page`: the resource folder.
    pub resource: &'static str,
    /// `app.module` of the tokens: `{type, key}`.
    pub module: Value,
    /// What `view.getContext()` answers (and what the token's `context` carries, minus the
    /// macro config, which Forge never puts in a token).
    pub context: Value,
}

/// The running stand-in.
pub struct ForgeHost {
    pub address: String,
    shared: Arc<Shared>,
}

impl ForgeHost {
    /// Serves `build` for `site`, forwarding to the todo-connect server at `server`.
    pub fn start(build: PathBuf, server: String, site: ForgeSite) -> Self {
        let shared = Arc::new(Shared {
            server,
            site,
            view: Mutex::new(View {
                resource: "global-page",
                module: Value::Null,
                context: Value::Null,
            }),
            calls: Mutex::default(),
            client: reqwest::Client::new(),
            system_token: Mutex::default(),
        });
        let data = web::Data::from(shared.clone());
        let http = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/__forge/invoke", web::post().to(invoke))
                .service(
                    web::scope("")
                        .wrap(DefaultHeaders::new().add((header::CONTENT_SECURITY_POLICY, CSP)))
                        .service(actix_files::Files::new("/", build.clone())),
                )
        })
        .workers(1)
        .bind("127.0.0.1:0")
        .unwrap();
        let port = http.addrs()[0].port();
        actix_web::rt::spawn(http.run());
        Self {
            address: format!("http://127.0.0.1:{port}"),
            shared,
        }
    }

    /// Makes `view` the one open; returns its page URL and the bridge script for it.
    pub fn open(&self, view: View) -> (String, String) {
        let url = format!("{}/{}/index.html", self.address, view.resource);
        let script = bridge_script(&view.context);
        *self.shared.view.lock().unwrap() = view;
        (url, script)
    }

    /// A call to the server as a user of `site` would make it through Forge (a fresh token, no
    /// view): how a test gives `site` tasks of its own, another site's included. Answers the
    /// status and the JSON body.
    pub async fn call_as(
        &self,
        site: &ForgeSite,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let token = sign_fit(&site.claims(), forge_key(), Some(FORGE_KID));
        let mut req = self
            .shared
            .client
            .request(method, format!("{}{path}", self.shared.server))
            .header("Authorization", format!("Bearer {token}"));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.expect("the server answers");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// From now on every call carries `token` as the app system token.
    pub fn send_system_token(&self, token: &str) {
        *self.shared.system_token.lock().unwrap() = Some(token.to_string());
    }

    /// Every invocation so far, in order.
    pub fn calls(&self) -> Vec<Invocation> {
        self.shared.calls.lock().unwrap().clone()
    }
}

/// `POST /__forge/invoke`: `{method, path, headers?, body?}` from the bridge, sent to the
/// server with a freshly minted token; answers `{status, headers, body}`.
async fn invoke(shared: web::Data<Shared>, input: web::Json<Value>) -> HttpResponse {
    let method = input["method"].as_str().unwrap_or_default().to_string();
    let path = input["path"].as_str().unwrap_or_default().to_string();
    assert!(
        path.starts_with('/'),
        "invokeRemote paths are absolute: {path:?}"
    );
    let view = shared.view.lock().unwrap().clone();
    let mut claims = shared.site.claims();
    claims["app"]["module"] = view.module.clone();
    // The site's context (cloud id, site URL) plus the view's (module, extension), without
    // the macro config: Forge never puts it in a token.
    for (key, value) in view.context.as_object().into_iter().flatten() {
        claims["context"][key] = value.clone();
    }
    if let Some(extension) = claims["context"]["extension"].as_object_mut() {
        extension.remove("config");
    }
    let token = sign_fit(&claims, forge_key(), Some(FORGE_KID));
    let mut req = shared
        .client
        .request(
            method.parse().expect("an HTTP method"),
            format!("{}{path}", shared.server),
        )
        .header("Authorization", format!("Bearer {token}"));
    if let Some(system) = shared.system_token.lock().unwrap().clone() {
        req = req.header("x-forge-oauth-system", system);
    }
    if let Some(headers) = input["headers"].as_object() {
        for (name, value) in headers {
            req = req.header(name.as_str(), value.as_str().unwrap_or_default());
        }
    }
    if !input["body"].is_null() {
        req = req.body(input["body"].to_string());
    }
    let res = req.send().await.expect("the server answers");
    let status = res.status().as_u16();
    let text = res.text().await.unwrap_or_default();
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    shared.calls.lock().unwrap().push(Invocation {
        method,
        path,
        status,
    });
    HttpResponse::Ok().json(json!({"status": status, "headers": {}, "body": body}))
}

/// The host half of the bridge for a page whose context is `context`, plus recorders for
/// what the page submits and for page errors and CSP violations.
pub fn bridge_script(context: &Value) -> String {
    format!(
        r#"(function () {{
  var context = {context};
  window.__submitted = [];
  window.__closed = false;
{errors}
{product}
  window.__bridge = {{
    callBridge: function (command, payload) {{
      if (command === "invoke") {{
        return fetch("/__forge/invoke", {{
          method: "POST",
          headers: {{ "Content-Type": "application/json" }},
          body: JSON.stringify(payload)
        }}).then(function (r) {{ return r.json(); }}).then(function (res) {{
          var ok = res.status >= 200 && res.status < 300;
          return ok ? {{ success: true, payload: res }} : {{ success: false, error: res }};
        }});
      }}
      if (command === "fetchProduct") {{ return productFetch(payload); }}
      if (command === "getContext") {{ return Promise.resolve(JSON.parse(JSON.stringify(context))); }}
      if (command === "submit") {{ window.__submitted.push(JSON.parse(JSON.stringify(payload))); return Promise.resolve(true); }}
      if (command === "close") {{ window.__closed = true; return Promise.resolve(true); }}
      return Promise.resolve(null);
    }}
  }};
}})();"#,
        errors = crate::browser::ERROR_RECORDER,
        product = product_fetch(),
    )
}

/// The display names Forge's product APIs know, by account id: any other account is unknown
/// (Confluence answers 404, Jira's bulk API leaves it out).
pub const USER_NAMES: [(&str, &str); 1] = [("forge-account-1", "Ada <Lovelace>")];

/// The product half of the bridge (`fetchProduct`, what `requestConfluence` and `requestJira`
/// of the real bundled `@forge/bridge` send: `{product, restPath, fetchRequestInit}`, answered
/// with `{status, statusText, headers, body, isAttachment}`): Confluence's
/// `GET /wiki/rest/api/user?accountId=` and Jira's `GET /rest/api/3/user/bulk?accountId=…` from
/// [`USER_NAMES`]; anything else 404. Every call is recorded in `window.__productCalls`
/// (`"<product> <restPath>"`); answers wait until `window.__answerNames()`, after which they
/// come at once.
fn product_fetch() -> String {
    let names: serde_json::Map<String, Value> = USER_NAMES
        .iter()
        .map(|(id, name)| (id.to_string(), json!(name)))
        .collect();
    format!(
        r#"  var userNames = {names};
  var heldAnswers = [];
  window.__productCalls = [];
  window.__answerNames = function () {{
    var held = heldAnswers || [];
    heldAnswers = null;
    held.forEach(function (answer) {{ answer(); }});
  }};
  function known(id) {{ return Object.prototype.hasOwnProperty.call(userNames, id); }}
  function productAnswer(product, restPath) {{
    var url = new URL(restPath, "https://product.invalid");
    var ids = url.searchParams.getAll("accountId");
    if (product === "confluence" && url.pathname === "/wiki/rest/api/user" && ids.length === 1 && known(ids[0])) {{
      return [200, {{ accountId: ids[0], displayName: userNames[ids[0]], publicName: "ada" }}];
    }}
    if (product === "jira" && url.pathname === "/rest/api/3/user/bulk") {{
      var values = ids.filter(known).map(function (id) {{ return {{ accountId: id, displayName: userNames[id] }}; }});
      return [200, {{ values: values, total: values.length, isLast: true }}];
    }}
    return [404, {{ message: "no such user" }}];
  }}
  function productFetch(payload) {{
    window.__productCalls.push(payload.product + " " + payload.restPath);
    return new Promise(function (resolve) {{
      function answer() {{
        var found = productAnswer(payload.product, payload.restPath);
        resolve({{
          status: found[0],
          statusText: found[0] === 200 ? "OK" : "Not Found",
          headers: {{ "content-type": "application/json" }},
          body: JSON.stringify(found[1]),
          isAttachment: false
        }});
      }}
      if (heldAnswers) {{ heldAnswers.push(answer); }} else {{ answer(); }}
    }});
  }}"#,
        names = Value::Object(names),
    )
}
