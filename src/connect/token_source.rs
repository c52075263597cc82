//! Where a request's Connect token comes from — the `Authorization: JWT` header, every `jwt`
//! query parameter, or the `jwt` field of a urlencoded form POST — and the query string hash
//! it must carry. All tokens present must be the same; the extractor verifies the one left.

use actix_web::dev::Payload;
use actix_web::http::{Method, header};
use actix_web::{HttpMessage, HttpRequest, web};
use futures_util::future::LocalBoxFuture;

use super::jwt::{self, TokenError};
use super::qsh;
use crate::error::AppError;
use crate::web::body::read_body;

/// A form body larger than this is not read for a `jwt` field.
const MAX_FORM_BYTES: usize = 16 * 1024;

/// The token of an `Authorization: JWT <token>` header: `None` without the header, an error
/// when the header is there in another form.
pub(crate) fn jwt_header(req: &HttpRequest) -> Result<Option<&str>, TokenError> {
    req.headers()
        .get(header::AUTHORIZATION)
        .map(|value| {
            value
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("JWT "))
                .map(str::trim)
                .ok_or(TokenError::Malformed)
        })
        .transpose()
}

/// The qsh this request must carry: its method, path (relative to `base_path`) and query.
pub(crate) fn expected_qsh(req: &HttpRequest, base_path: &str) -> String {
    qsh::qsh(
        req.method().as_str(),
        req.path(),
        req.query_string(),
        base_path,
    )
}

/// The one token of the request; a header and a parameter that disagree are refused.
pub(crate) fn single_token(
    req: &HttpRequest,
    form_tokens: Vec<String>,
) -> Result<String, TokenError> {
    let from_header = jwt_header(req)?.map(str::to_string);
    let from_query = query_jwts(req.query_string());
    let mut found: Option<String> = None;
    let candidates = from_header.into_iter().chain(from_query).chain(form_tokens);
    for token in candidates {
        if token.len() > jwt::MAX_TOKEN_LEN {
            return Err(TokenError::TooLarge);
        }
        match &found {
            Some(existing) if *existing != token => return Err(TokenError::Malformed),
            _ => found = Some(token),
        }
    }
    found.ok_or(TokenError::Missing)
}

/// Every `jwt` parameter of a query. The qsh leaves out each parameter whose decoded name is
/// `jwt`, so each of them is a token that must agree with the others (`?jwt=A&jwt=B` would
/// otherwise smuggle an unverified, unhashed value past the check).
fn query_jwts(query: &str) -> Vec<String> {
    // The same decoding as the canonical query, so both agree on which names are `jwt`.
    query
        .split('&')
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (qsh::decode(name) == "jwt").then(|| qsh::decode(value).into_owned())
        })
        .collect()
}

/// The `jwt` fields of a urlencoded form body.
pub(crate) fn form_jwts(body: &[u8]) -> Vec<String> {
    std::str::from_utf8(body)
        .map(query_jwts)
        .unwrap_or_default()
}

/// For a urlencoded form POST, reads the body (capped, within the body deadline: its token is
/// in it, so it is read before anything is verified) and puts it back for the handler.
pub(crate) fn take_form_body(
    req: &HttpRequest,
    payload: &mut Payload,
) -> Option<LocalBoxFuture<'static, Result<web::Bytes, AppError>>> {
    let is_form =
        req.method() == Method::POST && req.content_type() == "application/x-www-form-urlencoded";
    if !is_form {
        return None;
    }
    let taken = payload.take();
    let (mut sender, replacement) = actix_http::h1::Payload::create(true);
    *payload = Payload::from(replacement);
    let req = req.clone();
    Some(Box::pin(async move {
        let body = read_body(&req, taken, MAX_FORM_BYTES).await?;
        sender.feed_data(body.clone());
        sender.feed_eof();
        Ok(body)
    }))
}

#[cfg(test)]
mod tests {
    use super::query_jwts;

    #[test]
    fn every_parameter_the_qsh_leaves_out_is_a_token() {
        assert_eq!(
            query_jwts("a=1&jwt=x&%6Awt=y&b=jwt&jwt"),
            vec!["x".to_string(), "y".to_string(), String::new()]
        );
        assert!(query_jwts("jwtx=1&xjwt=2").is_empty());
    }
}
