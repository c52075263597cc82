//! Where a published page is created — the one part of publishing that differs by way in:
//! a Connect site as the signed-in user (an act-as-user token), a Forge site as the app (its
//! system token, against the site's `apiBaseUrl`). Both go through [`SiteApi`]'s rules (origin
//! lock, timeouts, size cap, no redirects).
//!
//! [`SiteApi`]: crate::util::site_api::SiteApi

use std::future::Future;

use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;

use crate::connect::host_client::{HostClient, HostError, HostResponse};
use crate::forge::{CallError, ForgeClient};
use crate::util::url::BaseUrl;

/// Scopes of the token the page is created with (the descriptor also declares `ACT_AS_USER`).
const PUBLISH_SCOPES: &[&str] = &["READ", "WRITE"];

/// Why no page was created.
#[derive(Debug)]
pub(crate) enum NotCreated {
    /// Confluence refused, failed or was not reached.
    Host(HostError),
    /// A Forge site with no app system token in memory: nothing was sent.
    NoSystemToken,
}

/// `_links` of created content.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Links {
    /// Where the site's pages live (`https://<site>/wiki`).
    base: Option<String>,
    /// The page, relative to `base`.
    webui: Option<String>,
}

/// A site a page can be created on.
pub(crate) trait PageTarget {
    /// POSTs `page` to the site's content API.
    fn create(&self, page: &Value) -> impl Future<Output = Result<HostResponse, NotCreated>>;
    /// The browser URL of a created page, when its links allow one.
    fn page_url(&self, links: &Links) -> Option<String>;
}

/// A path on the site (`/…`, not `//host`): what `webui` must be.
fn site_path(links: &Links) -> Option<&str> {
    links
        .webui
        .as_deref()
        .filter(|w| w.starts_with('/') && !w.starts_with("//"))
}

/// A Connect site, as the user `account`.
pub(crate) struct AsUser {
    pub(crate) host: HostClient,
    pub(crate) account: String,
}

impl PageTarget for AsUser {
    async fn create(&self, page: &Value) -> Result<HostResponse, NotCreated> {
        let target = "/rest/api/content";
        self.host
            .as_user(
                &self.account,
                PUBLISH_SCOPES,
                Method::POST,
                target,
                Some(page),
            )
            .await
            .map_err(NotCreated::Host)
    }

    /// On the installation's base URL: the site we know, whatever the answer says.
    fn page_url(&self, links: &Links) -> Option<String> {
        site_path(links).map(|w| format!("{}{w}", self.host.base_url()))
    }
}

/// A Forge site, as the app.
impl PageTarget for ForgeClient {
    async fn create(&self, page: &Value) -> Result<HostResponse, NotCreated> {
        let target = "/wiki/rest/api/content";
        match self.as_app(Method::POST, target, Some(page)).await {
            Ok(response) => Ok(response),
            Err(CallError::NoSystemToken(_)) => Err(NotCreated::NoSystemToken),
            Err(CallError::Host(err)) => Err(NotCreated::Host(err)),
        }
    }

    /// The API base URL is Atlassian's gateway, not where people read pages: the site's own
    /// address comes from the answer's `base`, when it is a plain http(s) URL.
    fn page_url(&self, links: &Links) -> Option<String> {
        let base = BaseUrl::parse(links.base.as_deref()?, false).ok()?;
        site_path(links).map(|w| format!("{base}{w}"))
    }
}
