//! One stand-in site's state and its two servers' handlers: the Confluence REST API (every
//! request authenticated — the app's JWT, a bearer token issued here, or a Forge app system
//! token — then recorded and answered) and the authorization server's token exchange.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

use super::qsh::expected_qsh;
use crate::{ADDON_KEY, now};

/// How long the stand-in authorization server takes over each exchange, on purpose.
const SLOW_EXCHANGE: Duration = Duration::from_millis(200);

/// How a request to the stand-in Confluence authenticated.
#[derive(Debug, Clone, PartialEq)]
pub enum Caller {
    App,
    User {
        account: String,
        scope: String,
        token: String,
    },
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

/// State shared by the stand-in Confluence and the stand-in authorization server of one site.
#[derive(Default)]
pub struct Host {
    client_key: String,
    secret: String,
    base_url: String,
    pub(super) oauth_url: Mutex<String>,
    names: HashMap<String, String>,
    seen: Mutex<Vec<Seen>>,
    /// Anything that failed verification; every test asserts it stays empty.
    pub failures: Mutex<Vec<String>>,
    pub exchanges: AtomicUsize,
    pub expires_in: AtomicU64,
    pub issued: Mutex<HashMap<String, (String, String)>>,
    /// Forge app system tokens accepted as the app.
    system_tokens: Mutex<Vec<String>>,
}

impl Host {
    /// The state of `site`'s stand-ins; `names` are display names by account id.
    pub fn new(site: &crate::site::Site, names: &[(&str, &str)]) -> Self {
        Self {
            client_key: site.client_key.clone(),
            secret: site.secret.clone(),
            base_url: site.base_url.clone(),
            names: names
                .iter()
                .map(|(a, n)| (a.to_string(), n.to_string()))
                .collect(),
            expires_in: AtomicU64::new(3600),
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
            let issued = self.issued.lock().unwrap();
            let (account, scope) = issued.get(token).ok_or("unknown bearer token")?;
            return Ok(Caller::User {
                account: account.clone(),
                scope: scope.clone(),
                token: token.to_string(),
            });
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
            ("POST", "/wiki/rest/api/content") => {
                let page: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                let key = page["space"]["key"].as_str().unwrap_or("");
                HttpResponse::Ok().json(json!({
                    "id": "4242", "type": "page", "title": page["title"],
                    "_links": {"base": self.base_url, "webui": format!("/spaces/{key}/pages/4242")}
                }))
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

    /// The stand-in authorization server: checks the grant and the assertion, counts exchanges.
    pub async fn token(self: Arc<Self>, form: web::Form<HashMap<String, String>>) -> HttpResponse {
        self.exchanges.fetch_add(1, Ordering::SeqCst);
        // Part of the scenario: slow enough that concurrent callers overlap with this exchange.
        actix_web::rt::time::sleep(SLOW_EXCHANGE).await;
        let grant = form.get("grant_type").map(String::as_str);
        if grant != Some("urn:ietf:params:oauth:grant-type:jwt-bearer") {
            return self.fail(format!("grant_type {grant:?}"));
        }
        let Some(assertion) = form.get("assertion") else {
            return self.fail("no assertion".into());
        };
        let aud = self.oauth_url.lock().unwrap().clone();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_audience(&[aud]);
        validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
        let key = DecodingKey::from_secret(self.secret.as_bytes()).unwrap();
        let claims = match jsonwebtoken::decode::<Value>(assertion, &key, &validation) {
            Ok(data) => data.claims,
            Err(e) => return self.fail(format!("assertion: {e}")),
        };
        let iss = format!("urn:atlassian:connect:clientid:oauth-{}", self.client_key);
        let account = claims["sub"]
            .as_str()
            .and_then(|s| s.strip_prefix("urn:atlassian:connect:useraccountid:"));
        let lifetime = claims["exp"].as_i64().zip(claims["iat"].as_i64());
        if claims["iss"] != iss.as_str()
            || claims["tnt"] != self.base_url.as_str()
            || lifetime.map(|(e, i)| e - i) != Some(60)
        {
            return self.fail(format!("assertion claims {claims}"));
        }
        let (Some(account), Some(scope)) = (account, form.get("scope")) else {
            return self.fail(format!("assertion sub or scope missing: {claims}"));
        };
        let n = self.exchanges.load(Ordering::SeqCst);
        let token = format!("access-{account}-{n}-{}", now());
        self.issued
            .lock()
            .unwrap()
            .insert(token.clone(), (account.to_string(), scope.clone()));
        HttpResponse::Ok().json(json!({
            "access_token": token,
            "expires_in": self.expires_in.load(Ordering::SeqCst),
            "token_type": "Bearer",
        }))
    }
}
