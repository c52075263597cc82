//! The macro request as Confluence really sends it, and a Confluence peer to load it against:
//! what the benchmarks and the load-test peer share. A realistic site ([`CLIENT_KEY`],
//! [`SHARED_SECRET`], [`ACCOUNT_ID`]), the iframe query and token Confluence mints for every
//! macro view ([`macro_query`], [`iframe_claims`]), and [`Peer`]: Atlassian's install-key
//! route and the sites' base URLs on one loopback port (`/fast/wiki/…` answers at once,
//! `/slow/wiki/…` after a delay; the app asks them nothing, so the rounds show it does not care).

use std::net::TcpListener;
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};

use crate::api::qsh;
use crate::now;

/// The path of the macro iframe.
pub const MACRO_PATH: &str = "/confluence/get_task";
/// A site's client key as Confluence sends it (a UUID).
pub const CLIENT_KEY: &str = "4c2a1b7e-9d3f-4e8a-b1c6-7f0d2e5a9c31";
/// A site's shared secret as Confluence sends it (a long random string).
pub const SHARED_SECRET: &str =
    "ATCOgAAF4rR8ZYZ3vN0wqJ6rXbHk9sT2mLcP1dE5fG7hJ8kN3pQ4uV6wY0zA2bC4dE6fG8hJ0kL2mN4pQ6rS8tU0vW";
/// A viewer's Atlassian account id.
pub const ACCOUNT_ID: &str = "557058:f1b2c3d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d";

/// What a query value keeps unescaped: RFC 3986's unreserved characters, as Confluence does.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The query Confluence puts on a macro iframe (without `jwt`): the macro's own `id` plus the
/// standard Connect context parameters (this page, this macro, this viewer).
pub fn macro_query(task_id: i64, addon_key: &str, page: usize, viewer: &str) -> String {
    let viewer = utf8_percent_encode(viewer, QUERY_VALUE);
    format!(
        "id={task_id}&pageId={page}&pageVersion=7&macroId=5f3e1a2b-7c4d-4e9f-a1b2-{page:012}\
         &outputType=display&xdm_e=https%3A%2F%2Fexample.atlassian.net\
         &xdm_c=channel-{addon_key}__dynamic-task-macro{page}\
         &cp=%2Fwiki&xdm_deprecated_addon_key_do_not_use={addon_key}&lic=active\
         &cv=1001.0.0-SNAPSHOT&user_id={viewer}\
         &user_key=ff80808167a1b2c3016a1b2c3d4e0001&tz=Europe%2FBerlin&loc=en-GB"
    )
}

/// Claims of an iframe token as Confluence mints them for `viewer`, for `GET path?query` on an
/// app whose `SITE_URL` path is `base_path`, valid for `ttl_secs`.
pub fn iframe_claims(
    client_key: &str,
    viewer: &str,
    (path, query): (&str, &str),
    base_path: &str,
    ttl_secs: i64,
) -> Value {
    json!({
        "sub": viewer,
        "qsh": qsh::qsh("GET", path, query, base_path),
        "iss": client_key,
        "context": {
            "license": {"active": true},
            "confluence": {"editor": {"version": "v2"}},
            "user": {"accountId": viewer}
        },
        "exp": now() + ttl_secs,
        "iat": now(),
    })
}

/// The iframe URL (path and query, `jwt` last as Confluence puts it) of the realistic site's
/// macro view of `task_id`, signed with [`SHARED_SECRET`].
pub fn macro_uri(task_id: i64, addon_key: &str, ttl_secs: i64) -> Result<String, String> {
    let query = macro_query(task_id, addon_key, 98306, ACCOUNT_ID);
    let claims = iframe_claims(CLIENT_KEY, ACCOUNT_ID, (MACRO_PATH, &query), "", ttl_secs);
    let token = crate::tokens::sign_hmac(&claims, SHARED_SECRET, jsonwebtoken::Algorithm::HS256)?;
    Ok(format!("{MACRO_PATH}?{query}&jwt={token}"))
}

/// The realistic site's install token for `POST /confluence/installed` on the app at `aud`,
/// signed with `private_pem` under `kid`.
pub fn install_token(aud: &str, private_pem: &str, kid: &str) -> Result<String, String> {
    let claims = crate::tokens::install_claims(CLIENT_KEY, aud, "/confluence/installed", "");
    crate::tokens::sign_rs256(&claims, private_pem, Some(kid))
}

/// The realistic site's browser context token (`qsh: context-qsh`) for [`ACCOUNT_ID`].
pub fn context_token() -> Result<String, String> {
    let claims = crate::tokens::context_claims(CLIENT_KEY, ACCOUNT_ID, 900);
    crate::tokens::sign_hmac(&claims, SHARED_SECRET, jsonwebtoken::Algorithm::HS256)
}

/// Atlassian's key route and the sites' base URLs on one loopback port, served by the current
/// actix system.
pub struct Peer {
    /// `http://127.0.0.1:<port>`: the app's `CONNECT_KEYS_URL`; sites live below it.
    pub url: String,
}

impl Peer {
    /// Serves `public_pem` at `/<kid>` and the sites `/fast/wiki` and `/slow/wiki` (anything
    /// below them answered 404, the latter after `slow`), on `port` (0: a free one).
    pub fn start(port: u16, kid: &str, public_pem: String, slow: Duration) -> Result<Self, String> {
        let key_path = format!("/{kid}");
        let server = HttpServer::new(move || {
            let pem = public_pem.clone();
            App::new()
                .route(
                    &key_path,
                    web::get().to(move || {
                        let pem = pem.clone();
                        async move {
                            HttpResponse::Ok()
                                .content_type("application/x-pem-file")
                                .body(pem)
                        }
                    }),
                )
                .default_service(web::to(move |req: HttpRequest| site(req, slow)))
        })
        .workers(1)
        // No graceful shutdown: a peer ends with its process.
        .disable_signals()
        .bind(("127.0.0.1", port))
        .map_err(|e| format!("peer :{port}: {e}"))?;
        let port = server.addrs().first().map_or(port, |a| a.port());
        actix_web::rt::spawn(server.run());
        Ok(Self {
            url: format!("http://127.0.0.1:{port}"),
        })
    }

    /// The base URL of a site that answers at once (`fast`) or after the delay (`slow`).
    pub fn site(&self, speed: &str) -> String {
        format!("{}/{speed}/wiki", self.url)
    }
}

/// A site's answer to anything: the app calls no site, so nothing here is expected; a slow
/// site is slow all the same.
async fn site(req: HttpRequest, slow: Duration) -> HttpResponse {
    if req.path().starts_with("/slow/") {
        actix_web::rt::time::sleep(slow).await;
    }
    HttpResponse::NotFound().finish()
}

/// `http://127.0.0.1:<port>` where nothing listens (bound, then let go): a Confluence that is
/// down refuses connections.
pub fn down_origin() -> Result<String, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("down port: {e}"))?;
    let port = listener
        .local_addr()
        .map_err(|e| format!("down port: {e}"))?
        .port();
    drop(listener);
    Ok(format!("http://127.0.0.1:{port}"))
}
