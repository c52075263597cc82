//! The one way a handler or extractor reads a request body: capped in size, and whole within
//! [`BODY_DEADLINE`] of starting to read it. Read only after the request is authenticated
//! wherever the protocol allows (lifecycle callbacks, the JSON API), so a client without a
//! valid token never makes us wait for its body.

use std::time::Duration;

use actix_web::HttpRequest;
use actix_web::http::header;
use bytes::Bytes;
use futures_util::Stream;

use crate::error::{AppError, Result};
use crate::util::body::{BodyError, read_capped};

/// Time a client has to send a whole body, once we start reading it. Bodies here are at most
/// 64 KiB (a lifecycle payload); a real client sends them in well under a second, and a
/// client that trickles bytes must not hold its connection (and its memory) for longer.
const BODY_DEADLINE: Duration = Duration::from_secs(5);

/// Reads the body of `req` from `payload`: 413 over `cap` (a declared `Content-Length` is
/// refused before a byte is read), 408 when it is not complete within [`BODY_DEADLINE`],
/// 400 when the stream breaks.
pub(crate) async fn read_body<S, E>(req: &HttpRequest, payload: S, cap: usize) -> Result<Bytes>
where
    S: Stream<Item = std::result::Result<Bytes, E>>,
{
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    read_capped(payload, declared, cap, BODY_DEADLINE)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge(_) => AppError::PayloadTooLarge,
            BodyError::TimedOut(_) => AppError::RequestTimeout,
            BodyError::Read(_) => AppError::bad_request("could not read the request body"),
        })
}
