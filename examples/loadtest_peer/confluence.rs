//! The stand-ins on the peer's port: Atlassian's install-key server (`GET /<KID>`) and the
//! Confluence sites' user API (`GET /fast/wiki/rest/api/user?…` answers at once,
//! `GET /slow/wiki/rest/api/user?…` after the slow delay). A site that is down is a port
//! nothing listens on ([`down_origin`]).

use std::net::TcpListener;
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::json;

use super::{KID, Result};

/// Starts serving on 127.0.0.1:`port` on the current actix system.
pub fn start(port: u16, public_pem: String, slow: Duration) -> Result<()> {
    let server = HttpServer::new(move || {
        let pem = public_pem.clone();
        App::new()
            .route(
                &format!("/{KID}"),
                web::get().to(move || {
                    let pem = pem.clone();
                    async move {
                        HttpResponse::Ok()
                            .content_type("application/x-pem-file")
                            .body(pem)
                    }
                }),
            )
            .route(
                "/{speed}/wiki/rest/api/user",
                web::get().to(move |req: HttpRequest| user(req, slow)),
            )
    })
    .workers(1)
    // No graceful shutdown: the script's SIGTERM ends the peer at once.
    .disable_signals()
    .bind(("127.0.0.1", port))
    .map_err(|e| format!("peer :{port}: {e}"))?;
    actix_web::rt::spawn(server.run());
    Ok(())
}

/// A Confluence user: named after the account id in the query.
async fn user(req: HttpRequest, slow: Duration) -> HttpResponse {
    if req.match_info().get("speed") == Some("slow") {
        actix_web::rt::time::sleep(slow).await;
    }
    let query =
        web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string());
    let Some(account) = query.ok().and_then(|q| q.get("accountId").cloned()) else {
        return HttpResponse::BadRequest().finish();
    };
    let tail = account.rsplit('-').next().unwrap_or_default().to_string();
    HttpResponse::Ok().json(json!({
        "accountId": account, "displayName": format!("Load Tester {tail}"), "publicName": "tester"
    }))
}

/// `http://127.0.0.1:<port>` where nothing listens (bound, then let go): a Confluence that is
/// down refuses connections.
pub fn down_origin() -> Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("down port: {e}"))?;
    let port = listener
        .local_addr()
        .map_err(|e| format!("down port: {e}"))?
        .port();
    drop(listener);
    Ok(format!("http://127.0.0.1:{port}"))
}
