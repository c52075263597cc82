//! JSON request bodies under one policy: `Content-Type: application/json` required (else
//! 400), size capped (413, a declared `Content-Length` refused before reading), syntax errors
//! 400, shape errors (missing, unknown or mistyped fields) 422.

use actix_web::http::header;
use actix_web::{HttpRequest, web};
use serde::de::DeserializeOwned;

use crate::error::{AppError, Result};
use crate::util::body::{BodyError, read_capped};

/// Reads and parses a JSON body of at most `cap` bytes.
pub async fn read_json<T: DeserializeOwned>(
    req: &HttpRequest,
    body: web::Payload,
    cap: usize,
) -> Result<T> {
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(AppError::bad_request("send Content-Type: application/json"));
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let bytes = read_capped(body, declared, cap)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge(_) => AppError::PayloadTooLarge,
            BodyError::Read(_) => AppError::bad_request("could not read the request body"),
        })?;
    serde_json::from_slice(&bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => AppError::unprocessable(e.to_string()),
        _ => AppError::bad_request("malformed JSON"),
    })
}
