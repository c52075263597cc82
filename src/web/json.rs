//! JSON request bodies under one policy: `Content-Type: application/json` required (else
//! 400), size capped (413, a declared `Content-Length` refused before reading) and read within
//! a deadline (408, see [`super::body`]), syntax errors
//! 400, shape errors (missing, unknown or mistyped fields) 422, and so is text with an unpaired
//! surrogate escape (`"\ud800"`): well-formed JSON, but not a string any field can hold.

use actix_web::http::header;
use actix_web::{HttpRequest, web};
use serde::de::DeserializeOwned;

use super::body::read_body;
use crate::error::{AppError, Result};

/// Reads and parses a JSON body of at most `cap` bytes.
pub(crate) async fn read_json<T: DeserializeOwned>(
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
    let bytes = read_body(req, body, cap).await?;
    parse_json(&bytes)
}

/// Parses a body already read, under the policy above: syntax errors 400, shape errors and
/// unpaired surrogates 422. Separate from the read so the fuzz targets reach it directly.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => AppError::unprocessable(e.to_string()),
        _ if lone_surrogate(&e, bytes) => {
            AppError::unprocessable("text must not contain unpaired surrogates (\\uD800-\\uDFFF)")
        }
        _ => AppError::bad_request("malformed JSON"),
    })
}

/// Whether a syntax error is serde_json refusing an unpaired surrogate escape (it reports one
/// as a syntax error; the body is valid JSON text, so the client gets a 422 like any other
/// unacceptable value).
fn lone_surrogate(err: &serde_json::Error, body: &[u8]) -> bool {
    let message = err.to_string();
    let about_escapes = message.starts_with("lone leading surrogate")
        || message.starts_with("unexpected end of hex escape");
    // `\uD800` to `\uDFFF`, in either case.
    let has_surrogate_escape = body.windows(4).any(|w| {
        w[0] == b'\\'
            && w[1] == b'u'
            && w[2].eq_ignore_ascii_case(&b'd')
            && matches!(w[3].to_ascii_lowercase(), b'8'..=b'9' | b'a'..=b'f')
    });
    about_escapes && has_surrogate_escape
}
