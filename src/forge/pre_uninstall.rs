//! `POST /forge/pre-uninstall`: Forge's `preUninstall` module calls it when an admin uninstalls
//! the app (a token without a user, 55 s timeout, not blocking the uninstall). The token is
//! verified first and names the installation; the body (`{"context": {"cloudId", "moduleKey"},
//! "contextToken"}`) must not name another cloud than the token. The Forge way into the site is
//! then marked gone (the site stays while Connect still reaches it) and the answer is a quick
//! JSON 200. An unknown or replaced installation changes nothing.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::extract::refuse;
use super::fit::FitError;
use super::{Forge, ForgeCall};
use crate::error::{AppError, Result};
use crate::web::json::read_json;

/// The body is a few hundred bytes (plus a context token); this leaves ample room.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// The cloud id the body names, if any; a body that is not the module's payload is a 400.
fn cloud_id(body: &Value) -> Result<Option<String>> {
    let bad = |why: &str| AppError::bad_request(format!("not a preUninstall payload: {why}"));
    let top = body
        .as_object()
        .ok_or_else(|| bad("the body must be an object"))?;
    let context = match top.get("context") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(context)) => context,
        Some(_) => return Err(bad("context must be an object")),
    };
    match context.get("cloudId") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(id)) if !id.is_empty() && id.len() <= 255 => Ok(Some(id.clone())),
        Some(_) => Err(bad("context.cloudId must be a non-empty string")),
    }
}

/// `POST /forge/pre-uninstall`.
pub(crate) async fn pre_uninstall(
    call: ForgeCall,
    req: HttpRequest,
    body: web::Payload,
    forge: web::Data<Forge>,
) -> Result<HttpResponse> {
    let body: Value = read_json(&req, body, MAX_BODY_BYTES).await?;
    let named = cloud_id(&body)?;
    // The site is the token's installation; a body naming another cloud is a forgery or a
    // mix-up, refused with nothing changed. The body's cloud id is never used otherwise.
    let token_cloud = call.identity.cloud_id.as_deref();
    if named
        .as_deref()
        .is_some_and(|named| Some(named) != token_cloud)
    {
        return Err(refuse(&req, &forge, call.way, FitError::BodyMismatch));
    }
    let status = match forge
        .mark_uninstalled(&call.identity.installation_id)
        .await?
    {
        Some(site) => {
            log::info!("Forge preUninstall for site {site}: its Forge way in is gone");
            "recorded"
        }
        None => {
            log::info!("Forge preUninstall for an installation no site has: nothing to do");
            "unknown"
        }
    };
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(json!({ "status": status })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cloud_id_is_read_from_the_context() {
        let body = json!({"context": {"cloudId": "c-1", "moduleKey": "k"}, "contextToken": "t"});
        assert_eq!(cloud_id(&body).unwrap().as_deref(), Some("c-1"));
        assert_eq!(cloud_id(&json!({})).unwrap(), None);
        assert_eq!(
            cloud_id(&json!({"context": {"moduleKey": "k"}})).unwrap(),
            None
        );
    }

    #[test]
    fn bodies_that_are_not_the_payload_are_refused() {
        for body in [
            json!([]),
            json!("x"),
            json!({"context": "c"}),
            json!({"context": {"cloudId": 7}}),
            json!({"context": {"cloudId": ""}}),
        ] {
            assert!(cloud_id(&body).is_err(), "{body}");
        }
    }
}
