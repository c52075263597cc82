//! The app descriptor: rendered once at start-up from `templates/descriptor.json.tera`,
//! validated as JSON, then served as the same bytes on every request.

use serde_json::Value;

use crate::config::Settings;

/// Renders and validates the descriptor; an error here stops start-up with one line.
/// `paths` names the routes it declares (the route table's, so both always agree).
pub(crate) fn render(
    tera: &tera::Tera,
    settings: &Settings,
    paths: &Value,
) -> Result<String, String> {
    let mut ctx = tera::Context::new();
    ctx.insert("key", &settings.addon_key);
    ctx.insert("base_url", settings.site_url.as_str());
    ctx.insert("paths", paths);
    ctx.insert("version", env!("CARGO_PKG_VERSION"));
    let rendered = tera
        .render("descriptor.json.tera", &ctx)
        .map_err(|e| format!("descriptor template: {e:?}"))?;
    let value: Value = serde_json::from_str(&rendered)
        .map_err(|e| format!("descriptor is not valid JSON: {e}"))?;
    check(&value)?;
    serde_json::to_string_pretty(&value).map_err(|e| e.to_string())
}

/// The invariants Confluence relies on, checked before we ever serve the descriptor.
fn check(value: &Value) -> Result<(), String> {
    for pointer in [
        "/key",
        "/baseUrl",
        "/name",
        "/authentication/type",
        "/lifecycle/installed",
    ] {
        if value
            .pointer(pointer)
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(format!("descriptor lacks {pointer}"));
        }
    }
    Ok(())
}

/// `GET /atlassian-connect.json` and `GET /confluence/descriptor`.
pub(crate) async fn serve(
    connect: actix_web::web::Data<super::Connect>,
) -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-cache"))
        .body(connect.descriptor.clone())
}
