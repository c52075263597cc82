//! Operational routes: the landing page, liveness, readiness and the embedded assets.

use std::time::Duration;

use actix_web::http::{Method, StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};

use super::AppState;
use super::routes::paths;
use crate::error::{AppError, HtmlError};
use crate::web::Web;

/// How long `/readyz` waits for the database.
const READY_PATIENCE: Duration = Duration::from_secs(1);

/// `GET /`: what the app is and how to install it today (Forge); the Connect descriptor only
/// for sites that installed it earlier.
pub(crate) async fn landing(state: web::Data<AppState>) -> Result<HttpResponse, HtmlError> {
    let settings = &state.settings;
    let mut ctx = tera::Context::new();
    ctx.insert("site_url", settings.site_url.as_str());
    ctx.insert(
        "descriptor_url",
        &format!("{}{}", settings.site_url, paths::DESCRIPTOR),
    );
    ctx.insert("addon_key", &settings.addon_key);
    ctx.insert("version", env!("CARGO_PKG_VERSION"));
    let body = state
        .web
        .templates
        .render("index.html", &ctx)
        .map_err(AppError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(body))
}

/// `GET /healthz`: the process is up. Touches nothing.
pub(crate) async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("text/plain; charset=utf-8")
        .body("ok")
}

/// `GET /readyz`: 200 when the database can be read and written within [`READY_PATIENCE`],
/// else 503.
pub(crate) async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let (status, body) = match state.db.ready(READY_PATIENCE).await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(err) => {
            log::warn!("readiness: database unavailable: {err:?}");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    };
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("text/plain; charset=utf-8")
        .body(body)
}

/// Fallback service: an embedded asset, or a 404 (JSON under `/forge/`: Forge wants a JSON
/// body on every non-2xx answer).
pub(crate) async fn asset_or_404(req: HttpRequest, web: web::Data<Web>) -> HttpResponse {
    if matches!(*req.method(), Method::GET | Method::HEAD)
        && let Some(response) = web.assets.respond(&req)
    {
        return response;
    }
    if req.path().starts_with(paths::FORGE_PREFIX) {
        return actix_web::ResponseError::error_response(&AppError::NotFound);
    }
    HttpResponse::NotFound()
        .content_type("text/plain; charset=utf-8")
        .body("not found")
}
