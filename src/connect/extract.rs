//! [`ConnectContext`], the extractor a handler declares to get a verified Connect request:
//! which site sent it (its installation) and which user (the account id).
//!
//! Checks, in order: one token at most (header, `jwt` query parameter, or the `jwt` field of a
//! form POST; two different ones are refused); a size cap; `alg` exactly HS256; `iss` an
//! installed (and, except on lifecycle routes, enabled) site; the signature with its secret;
//! `exp`; and `qsh`, which is never skipped: equal to the request's hash, or `context-qsh` on
//! routes that declare they accept browser context tokens.

use std::marker::PhantomData;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, ResponseError, web};
use futures_util::future::LocalBoxFuture;

use super::installations::Installation;
use super::jwt::{self, TokenError};
use super::token_source::{expected_qsh, form_jwts, single_token, take_form_body};
use super::{Connect, qsh};
use crate::error::{AppError, HtmlError};
use crate::util::telemetry::Way;

/// What a route accepts and how it answers a refusal.
pub(crate) trait RoutePolicy: 'static {
    /// Whether `qsh: "context-qsh"` (browser context tokens) is accepted.
    const ACCEPTS_CONTEXT_QSH: bool;
    /// Whether a disabled installation may still call (the `enabled` callback must).
    const ALLOWS_DISABLED: bool;
    /// Whether a verified request counts as a visit of its user (`jwt_users`). Lifecycle
    /// callbacks are the product talking, and a refused one must leave the database unchanged.
    const RECORDS_USER: bool;
    /// The way in its refusals are counted under: the lifecycle callbacks are their own, so
    /// an operator tells a refused install or enable from a refused page.
    const WAY: Way;
    /// The error type the route answers with.
    type Rejection: From<AppError> + ResponseError + 'static;
}

/// Pages Confluence shows in an iframe: computed qsh only, HTML errors.
pub(crate) struct IframeRoute;
/// The JSON API the browser calls: context tokens accepted, JSON errors.
pub(crate) struct ApiRoute;
/// `enabled` / `disabled` callbacks: computed qsh only, disabled sites allowed, JSON errors.
pub(crate) struct LifecycleRoute;

impl RoutePolicy for IframeRoute {
    const ACCEPTS_CONTEXT_QSH: bool = false;
    const ALLOWS_DISABLED: bool = false;
    const RECORDS_USER: bool = true;
    const WAY: Way = Way::Connect;
    type Rejection = HtmlError;
}

impl RoutePolicy for ApiRoute {
    const ACCEPTS_CONTEXT_QSH: bool = true;
    const ALLOWS_DISABLED: bool = false;
    const RECORDS_USER: bool = true;
    const WAY: Way = Way::Connect;
    type Rejection = AppError;
}

impl RoutePolicy for LifecycleRoute {
    const ACCEPTS_CONTEXT_QSH: bool = false;
    const ALLOWS_DISABLED: bool = true;
    const RECORDS_USER: bool = false;
    const WAY: Way = Way::Lifecycle;
    type Rejection = AppError;
}

/// A verified request: which site (`installation`) and which user (`account_id`) sent it.
pub(crate) struct ConnectContext<P> {
    pub(crate) installation: Arc<Installation>,
    /// `None` for anonymous viewers.
    pub(crate) account_id: Option<String>,
    _policy: PhantomData<P>,
}

impl<P: RoutePolicy> FromRequest for ConnectContext<P> {
    type Error = P::Rejection;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let form = take_form_body(&req, payload);
        Box::pin(async move {
            let connect = req
                .app_data::<web::Data<Connect>>()
                .cloned()
                .ok_or_else(|| AppError::internal("Connect state not registered"))?;
            let form_tokens = match form {
                Some(body) => form_jwts(&body.await?),
                None => Vec::new(),
            };
            match verify::<P>(&req, &connect, form_tokens).await {
                Ok(ctx) => Ok(ctx),
                Err(Refusal::Token(reason)) => Err(connect.refuse(&req, P::WAY, &reason).into()),
                Err(Refusal::Error(err)) => Err(err.into()),
            }
        })
    }
}

enum Refusal {
    Token(TokenError),
    Error(AppError),
}

impl From<TokenError> for Refusal {
    fn from(err: TokenError) -> Self {
        Self::Token(err)
    }
}

impl From<AppError> for Refusal {
    fn from(err: AppError) -> Self {
        Self::Error(err)
    }
}

async fn verify<P: RoutePolicy>(
    req: &HttpRequest,
    connect: &Connect,
    form_tokens: Vec<String>,
) -> Result<ConnectContext<P>, Refusal> {
    let token = single_token(req, form_tokens)?;
    // Decoded once: header (size, alg) and claims; the issuer only picks the key.
    let unverified = jwt::read_hs256(&token)?;
    let installation = connect
        .installation(unverified.issuer())
        .await?
        .filter(|i| i.enabled || P::ALLOWS_DISABLED)
        .ok_or(TokenError::UnknownIssuer)?;
    let claims = unverified.verify(&installation.decoding_key)?;
    match claims.qsh.as_deref() {
        None => return Err(TokenError::MissingQsh.into()),
        Some(qsh::CONTEXT_QSH) if P::ACCEPTS_CONTEXT_QSH => {}
        Some(qsh::CONTEXT_QSH) => return Err(TokenError::ContextQshNotAllowed.into()),
        Some(claimed) => {
            if claimed != expected_qsh(req, connect.settings.base_path()) {
                return Err(TokenError::QshMismatch.into());
            }
        }
    }
    if P::RECORDS_USER {
        // A use of the app, not a lifecycle call (whose body may still be refused).
        connect
            .bookkeeping
            .site_used(installation.site, crate::site::ways_in::Way::Connect);
    }
    let account_id = claims.account_id().map(str::to_string);
    if let Some(account) = account_id.as_ref().filter(|_| P::RECORDS_USER) {
        connect.bookkeeping.user_seen(installation.site, account);
    }
    Ok(ConnectContext {
        installation,
        account_id,
        _policy: PhantomData,
    })
}
