//! [`Caller`]: who is calling the task API (and publishing), however the call arrived — a Connect context token
//! (`/api/tasks…`) or a Forge Invocation Token (`/forge/api/tasks…`). The handlers in
//! [`super::api`] are written once against it; each way in implements it on its extractor.

use actix_web::FromRequest;

use crate::connect::{ApiRoute, ConnectContext};
use crate::error::AppError;
use crate::forge::ForgeContext;
use crate::site::SiteId;

/// A verified caller of the task API.
pub(crate) trait Caller: FromRequest<Error = AppError> + 'static {
    /// The tenant every task operation is scoped to.
    fn site(&self) -> SiteId;
    /// The calling user, when known (`created_by` of new tasks).
    fn account_id(&self) -> Option<&str>;
}

/// Connect: the browser's context token.
impl Caller for ConnectContext<ApiRoute> {
    fn site(&self) -> SiteId {
        self.installation.site
    }

    fn account_id(&self) -> Option<&str> {
        self.account_id.as_deref()
    }
}

/// Forge: `invokeRemote` from the Custom UI; the user is the token's `principal`.
impl Caller for ForgeContext {
    fn site(&self) -> SiteId {
        self.site
    }

    fn account_id(&self) -> Option<&str> {
        self.account_id.as_deref()
    }
}
