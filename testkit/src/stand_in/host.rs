//! One stand-in site's state and its Confluence REST API's handler: the app never calls a site
//! back, so every request is recorded as it came (authenticated or not) and refused.

use std::sync::{Arc, Mutex};

use actix_web::{HttpRequest, HttpResponse, web};

/// How a request to the stand-in Confluence authenticated.
#[derive(Debug, Clone, PartialEq)]
pub enum Caller {
    /// A Forge app system token (`Authorization: Bearer`) given to [`Host::accept_system_token`].
    System { token: String },
    /// Anything else (no header, a JWT, an unknown token), shown as the header's scheme.
    Other { scheme: String },
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
    seen: Mutex<Vec<Seen>>,
    /// Forge app system tokens accepted as the app.
    system_tokens: Mutex<Vec<String>>,
}

impl Host {
    /// Accepts `token` as a Forge app system token from now on, so that a call the app made
    /// with it would be the app's, not a refused stranger's.
    pub fn accept_system_token(&self, token: &str) {
        self.system_tokens.lock().unwrap().push(token.to_string());
    }

    /// Every request the stand-in received, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn caller(&self, req: &HttpRequest) -> Caller {
        let header = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        match header.strip_prefix("Bearer ") {
            Some(token)
                if self
                    .system_tokens
                    .lock()
                    .unwrap()
                    .iter()
                    .any(|t| t == token) =>
            {
                Caller::System {
                    token: token.to_string(),
                }
            }
            _ => Caller::Other {
                scheme: header.split(' ').next().unwrap_or("").to_string(),
            },
        }
    }

    /// The stand-in Confluence: every request recorded (under its site path when it came
    /// through the API gateway), then answered 404 as the app's or 401 as anyone else's.
    pub async fn confluence(self: Arc<Self>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
        let caller = self.caller(&req);
        let known = matches!(caller, Caller::System { .. });
        self.seen.lock().unwrap().push(Seen {
            method: req.method().to_string(),
            path: super::gateway_path(req.path()).to_string(),
            query: req.query_string().to_string(),
            body: String::from_utf8_lossy(&body).into_owned(),
            caller,
        });
        if known {
            HttpResponse::NotFound().finish()
        } else {
            HttpResponse::Unauthorized().finish()
        }
    }
}
