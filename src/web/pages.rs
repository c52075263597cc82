//! Operational routes: the landing page, liveness, readiness and the embedded assets.

use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::AppState;
use crate::db::Pool;
use crate::error::{AppError, HtmlError, Result};

/// `GET /`: what the app is and the descriptor URL to upload in Confluence.
pub async fn landing(state: web::Data<AppState>) -> Result<HttpResponse, HtmlError> {
    let mut ctx = tera::Context::new();
    ctx.insert("site_url", &state.settings.site_url);
    ctx.insert(
        "descriptor_url",
        &format!("{}/atlassian-connect.json", state.settings.site_url),
    );
    ctx.insert("addon_key", &state.settings.addon_key);
    ctx.insert("version", env!("CARGO_PKG_VERSION"));
    let body = state
        .templates
        .render("index.html", &ctx)
        .map_err(AppError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(body))
}

/// `GET /healthz`: the process is up. Touches nothing.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("text/plain; charset=utf-8")
        .body("ok")
}

/// `GET /readyz`: 200 when the database can be read and written within a second, else 503.
/// The write probe takes and releases the write lock without changing anything, so a database
/// locked by another process (a stuck maintenance job) reports not ready.
pub async fn readyz(pool: web::Data<Pool>) -> HttpResponse {
    let pool = pool.get_ref().clone();
    let answered = web::block(move || -> Result<()> {
        let conn = pool.get_timeout(Duration::from_secs(1))?;
        conn.busy_timeout(Duration::from_secs(1))?;
        let probe = conn
            .query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))
            .and_then(|()| conn.execute_batch("BEGIN IMMEDIATE; ROLLBACK;"));
        if probe.is_err() && !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        conn.busy_timeout(crate::db::BUSY_TIMEOUT)?;
        Ok(probe?)
    })
    .await;
    let (status, body) = match answered {
        Ok(Ok(())) => (actix_web::http::StatusCode::OK, "ready"),
        Ok(Err(err)) => {
            log::warn!("readiness: database unavailable: {err:?}");
            (
                actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
                "database unavailable",
            )
        }
        Err(err) => {
            log::warn!("readiness: {err}");
            (
                actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
                "database unavailable",
            )
        }
    };
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("text/plain; charset=utf-8")
        .body(body)
}

/// Fallback service: an embedded asset, or a 404.
pub async fn asset_or_404(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if matches!(
        *req.method(),
        actix_web::http::Method::GET | actix_web::http::Method::HEAD
    ) && let Some(response) = state.assets.respond(&req)
    {
        return response;
    }
    HttpResponse::NotFound()
        .content_type("text/plain; charset=utf-8")
        .body("not found")
}
