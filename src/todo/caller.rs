//! [`Caller`]: who is calling the task API (and publishing), however the call arrived — a Connect context token
//! (`/api/tasks…`) or a Forge Invocation Token (`/forge/api/tasks…`). The handlers in
//! [`super::api`] are written once against it; each way in implements it on its extractor.

use actix_web::FromRequest;

use super::publish::PageTarget;
use super::publish::target::AsUser;
use crate::connect::{ApiRoute, ConnectContext};
use crate::error::AppError;
use crate::forge::{ForgeClient, ForgeContext};
use crate::site::SiteId;

/// A verified caller of the task API.
pub(crate) trait Caller: FromRequest<Error = AppError> + 'static {
    /// Where a published page is created (the one part of publishing that differs).
    type Pages: PageTarget;
    /// The tenant every task operation is scoped to.
    fn site(&self) -> SiteId;
    /// The calling user, when known (`created_by` of new tasks).
    fn account_id(&self) -> Option<&str>;
    /// The site, as a place to create a page published by the calling `account`.
    fn pages(&self, account: &str) -> Self::Pages;
}

/// Connect: the browser's context token.
impl Caller for ConnectContext<ApiRoute> {
    /// As the user, with an act-as-user token.
    type Pages = AsUser;

    fn site(&self) -> SiteId {
        self.installation.site
    }

    fn account_id(&self) -> Option<&str> {
        self.account_id.as_deref()
    }

    fn pages(&self, account: &str) -> AsUser {
        AsUser {
            host: self.host_client(),
            account: account.to_string(),
        }
    }
}

/// Forge: `invokeRemote` from the Custom UI; the user is the token's `principal`.
impl Caller for ForgeContext {
    /// As the app, with its system token (see `publish::target`).
    type Pages = ForgeClient;

    fn site(&self) -> SiteId {
        self.site
    }

    fn account_id(&self) -> Option<&str> {
        self.account_id.as_deref()
    }

    /// Pages are Confluence's, whichever product the call came from.
    fn pages(&self, _account: &str) -> ForgeClient {
        self.client.confluence()
    }
}
