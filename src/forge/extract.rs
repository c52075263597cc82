//! The extractors a Forge route declares: [`ForgeCall`], a verified Forge Invocation Token
//! (nothing stored yet — what the events route starts from), and [`ForgeContext`], a verified
//! call mapped to its site and user, whose user is then recorded like a Connect caller
//! ([`crate::users`]). With Forge off both answer 404; every authentication
//! failure is a 401 with a JSON body, its reason logged at debug level without the token.

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;

use super::Forge;
use super::fit::{FitError, Identity};
use super::system_token::SYSTEM_TOKEN_HEADER;
use crate::error::AppError;
use crate::site::SiteId;
use crate::site::ways_in::Way;
use crate::util::telemetry;

/// A request carrying a verified FIT: who is calling. Its site is not looked up yet.
pub(crate) struct ForgeCall {
    pub(crate) identity: Identity,
    system_token: Option<String>,
    /// The way in a later refusal of this call (its body, its site) is counted under.
    pub(crate) way: telemetry::Way,
}

/// A verified Forge request: its site, the user (`principal`) and a Jira call's issue.
pub(crate) struct ForgeContext {
    pub(crate) site: SiteId,
    pub(crate) account_id: Option<String>,
    /// The Jira issue of a call from an issue panel, from the signed `context.extension`.
    pub(crate) issue: Option<super::JiraIssue>,
}

fn forge_of(req: &HttpRequest) -> Result<web::Data<Forge>, AppError> {
    req.app_data::<web::Data<Forge>>()
        .cloned()
        .ok_or_else(|| AppError::internal("Forge state not registered"))
}

/// The one `Authorization: Bearer <token>` of the request.
fn bearer(req: &HttpRequest) -> Result<&str, FitError> {
    let mut values = req.headers().get_all(AUTHORIZATION);
    let value = values.next().ok_or(FitError::Missing)?;
    if values.next().is_some() {
        return Err(FitError::Malformed);
    }
    let text = value.to_str().map_err(|_| FitError::Malformed)?;
    let (scheme, token) = text.split_once(' ').ok_or(FitError::Missing)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.contains(' ') {
        return Err(FitError::Missing);
    }
    Ok(token)
}

/// The app system token header, when there is exactly one readable one.
fn system_token(req: &HttpRequest) -> Option<String> {
    let mut values = req.headers().get_all(SYSTEM_TOKEN_HEADER);
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    value.to_str().ok().map(str::to_string)
}

impl ForgeCall {
    /// The verified call, or its refusal counted under `way`.
    async fn extract(req: HttpRequest, way: telemetry::Way) -> Result<Self, AppError> {
        let forge = forge_of(&req)?;
        if !forge.is_on() {
            return Err(AppError::NotFound);
        }
        let verified = match bearer(&req) {
            Ok(token) => forge.verify(token).await,
            Err(err) => Err(err),
        };
        match verified {
            Ok(identity) => Ok(Self {
                identity,
                system_token: system_token(&req),
                way,
            }),
            Err(reason) => Err(refuse(&req, &forge, way, reason)),
        }
    }
}

/// The one place a Forge 401 is made: logs why (at debug, never the token), counts it once by
/// way in and reason, and answers 401.
pub(crate) fn refuse(
    req: &HttpRequest,
    forge: &Forge,
    way: telemetry::Way,
    reason: FitError,
) -> AppError {
    log::debug!("refused {} {}: {reason}", req.method(), req.path());
    telemetry::refused(way, reason.refusal());
    forge.unauthorized()
}

impl Forge {
    /// Maps a verified call to its site (recording what is new) and keeps its system token.
    pub(crate) async fn enter(
        &self,
        req: &HttpRequest,
        call: ForgeCall,
    ) -> Result<ForgeContext, AppError> {
        let site = match self.site_of(&call.identity).await? {
            Ok(site) => site,
            Err(reason) => return Err(refuse(req, self, call.way, reason)),
        };
        // Noted, not written: the request does not wait. Should a purge have taken the site
        // after the tenant cache learnt it, the writer finds its row gone and tells the site
        // changes, so the cache drops it and the next call resolves again (this one's
        // site-scoped queries find nothing of a gone site).
        self.bookkeeping.site_used(site, Way::Forge);
        if let Some(token) = &call.system_token {
            self.remember_system_token(site, &call.identity, token);
        }
        Ok(ForgeContext {
            site,
            account_id: call.identity.account_id,
            issue: call.identity.issue,
        })
    }
}

/// Declared by a handler, a bare `ForgeCall` is the start of Forge's lifecycle routes (events,
/// `preUninstall`): their refusals count under `lifecycle`. Product calls declare
/// [`ForgeContext`], whose refusals count under `forge`.
impl FromRequest for ForgeCall {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(Self::extract(req.clone(), telemetry::Way::Lifecycle))
    }
}

impl FromRequest for ForgeContext {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let call = ForgeCall::extract(req.clone(), telemetry::Way::Forge).await?;
            let forge = forge_of(&req)?;
            let ctx = forge.enter(&req, call).await?;
            // A user's UI call is a visit, recorded as Connect records its callers (events
            // carry no principal, and do not come through here).
            if let Some(account) = &ctx.account_id {
                forge.bookkeeping.user_seen(ctx.site, account);
            }
            Ok(ctx)
        })
    }
}
