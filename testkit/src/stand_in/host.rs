//! One stand-in site's state and its Confluence REST API's handler: every request
//! authenticated — the app's JWT or a Forge app system token — then recorded and answered.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix_web::{HttpRequest, HttpResponse, web};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

use super::qsh::expected_qsh;
use crate::{ADDON_KEY, now};

/// How a request to the stand-in Confluence authenticated.
#[derive(Debug, Clone, PartialEq)]
pub enum Caller {
    App,
    /// A Forge app system token (`Authorization: Bearer`) given to [`Host::accept_system_token`].
    System {
        token: String,
    },
}

#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: String,
    pub body: String,
    pub caller: Caller,
}

/// The state of one site's stand-in Confluence.
#[derive(Default)]
pub struct Host {
    secret: String,
    names: HashMap<String, String>,
    seen: Mutex<Vec<Seen>>,
    /// Anything that failed verification; every test asserts it stays empty.
    pub failures: Mutex<Vec<String>>,
    /// Forge app system tokens accepted as the app.
    system_tokens: Mutex<Vec<String>>,
}

impl Host {
    /// The state of `site`'s stand-ins; `names` are display names by account id.
    pub fn new(site: &crate::site::Site, names: &[(&str, &str)]) -> Self {
        Self {
            secret: site.secret.clone(),
            names: names
                .iter()
                .map(|(a, n)| (a.to_string(), n.to_string()))
                .collect(),
            ..Self::default()
        }
    }

    pub fn fail(&self, why: String) -> HttpResponse {
        self.failures.lock().unwrap().push(why.clone());
        HttpResponse::Unauthorized().body(why)
    }

    /// Accepts `token` as a Forge app system token from now on.
    pub fn accept_system_token(&self, token: &str) {
        self.system_tokens.lock().unwrap().push(token.to_string());
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn assert_all_verified(&self) {
        assert_eq!(*self.failures.lock().unwrap(), Vec::<String>::new());
    }

    /// Checks the `Authorization` header of a Confluence request: who is calling, or why not.
    pub fn authenticate(&self, req: &HttpRequest) -> Result<Caller, String> {
        if req.query_string().split('&').any(|p| p.starts_with("jwt=")) {
            return Err("a jwt query parameter was sent".into());
        }
        let header = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .ok_or("no Authorization header")?;
        if let Some(token) = header.strip_prefix("Bearer ") {
            if self
                .system_tokens
                .lock()
                .unwrap()
                .iter()
                .any(|t| t == token)
            {
                return Ok(Caller::System {
                    token: token.to_string(),
                });
            }
            return Err("unknown bearer token".into());
        }
        let token = header.strip_prefix("JWT ").ok_or("not a JWT")?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp", "iss"]);
        let key = DecodingKey::from_secret(self.secret.as_bytes()).unwrap();
        let claims = jsonwebtoken::decode::<Value>(token, &key, &validation)
            .map_err(|e| format!("signature or exp: {e}"))?
            .claims;
        if claims["iss"] != ADDON_KEY {
            return Err(format!("iss {}", claims["iss"]));
        }
        let (iat, exp) = (claims["iat"].as_i64(), claims["exp"].as_i64());
        if iat.zip(exp).map(|(i, e)| e - i) != Some(180) || iat > Some(now() + 1) {
            return Err(format!("iat {iat:?} exp {exp:?}"));
        }
        let want = expected_qsh(
            req.method().as_str(),
            req.path(),
            req.query_string(),
            "/wiki",
        );
        if claims["qsh"] != want.as_str() {
            return Err(format!("qsh mismatch for {} {}", req.method(), req.uri()));
        }
        Ok(Caller::App)
    }

    /// The stand-in Confluence: every request authenticated, recorded, then answered.
    pub async fn confluence(self: Arc<Self>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
        let caller = match self.authenticate(&req) {
            Ok(caller) => caller,
            Err(why) => return self.fail(why),
        };
        let body = String::from_utf8_lossy(&body).into_owned();
        let path = super::gateway_path(req.path());
        if matches!(caller, Caller::System { .. }) != (path != req.path()) {
            return self.fail(format!("{} through the wrong door", req.path()));
        }
        self.seen.lock().unwrap().push(Seen {
            method: req.method().to_string(),
            path: path.to_string(),
            query: req.query_string().to_string(),
            body: body.clone(),
            caller,
        });
        match (req.method().as_str(), path) {
            ("GET", "/wiki/rest/api/user") => {
                let query = web::Query::<HashMap<String, String>>::from_query(req.query_string());
                let account = query.map(|q| q.get("accountId").cloned()).ok().flatten();
                let Some(account) = account else {
                    return HttpResponse::BadRequest().finish();
                };
                let name = self.names.get(&account).cloned();
                let name = name.unwrap_or_else(|| format!("Name of {account}"));
                HttpResponse::Ok().json(json!({"accountId": account, "displayName": name}))
            }
            (_, path) if path.starts_with("/wiki/echo") => HttpResponse::Ok().json(json!({
                "method": req.method().as_str(), "query": req.query_string(), "body": body
            })),
            (_, "/wiki/redirect") => HttpResponse::Found()
                .insert_header(("Location", "http://127.0.0.1:9/wiki/echo"))
                .finish(),
            (_, "/wiki/big") => HttpResponse::Ok().body(vec![b'x'; 2 * 1024 * 1024]),
            (_, "/wiki/forbidden") => HttpResponse::Forbidden().finish(),
            _ => HttpResponse::NotFound().finish(),
        }
    }
}
