//! An installation of the app on a site as Connect works with it: what a request uses
//! ([`Installation`]) and what an `installed` callback brings ([`NewInstallation`]). The rows
//! are the sites store's ([`crate::site::store::connect`]); the cache of them is
//! [`super::installation_cache`].

use jsonwebtoken::DecodingKey;

use super::jwt::Secret;
use crate::site::SiteId;
use crate::util::url::BaseUrl;

/// One active installation of the app on a site, as the request path needs it.
#[derive(Clone)]
pub struct Installation {
    /// The tenant this installation is.
    pub(crate) site: SiteId,
    pub(crate) client_key: String,
    pub(crate) base_url: BaseUrl,
    /// The `https://` origin of the site's display URL (a custom domain), when it has one.
    pub(crate) display_origin: Option<String>,
    pub(crate) enabled: bool,
    /// The HMAC key built once from the shared secret, not on every request; the secret itself
    /// is not kept (nothing is signed with it: the app never calls a Connect site).
    pub(crate) decoding_key: DecodingKey,
}

impl std::fmt::Debug for Installation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Installation")
            .field("site", &self.site)
            .field("client_key", &self.client_key)
            .field("base_url", &self.base_url)
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

/// What an `installed` callback tells us about a site.
#[derive(Debug, Clone)]
pub struct NewInstallation {
    pub client_key: String,
    pub shared_secret: Secret,
    pub base_url: String,
    pub display_url: Option<String>,
    pub product_type: String,
    pub description: Option<String>,
    pub oauth_client_id: Option<String>,
    pub server_version: Option<String>,
    pub plugins_version: Option<String>,
    pub sen: Option<String>,
    /// The Forge installation, once the app adopted Connect on Forge.
    pub installation_id: Option<String>,
    /// The site's cloud id, when the payload carries one.
    pub cloud_id: Option<String>,
}

impl Installation {
    /// An installation from its stored columns (either backend): the base URL parsed, the
    /// display URL reduced to its origin, the HMAC key built once.
    #[allow(clippy::too_many_arguments)]
    pub fn from_row(
        site: SiteId,
        client_key: String,
        base_url: String,
        display_url: Option<String>,
        enabled: bool,
        secret: String,
    ) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let decoding_key = DecodingKey::from_secret(secret.as_bytes())?;
        let base_url = BaseUrl::parse(&base_url, false)?;
        Ok(Installation {
            site,
            client_key,
            base_url,
            display_origin: display_url
                .and_then(|url| BaseUrl::parse(&url, true).ok())
                .map(|url| url.origin()),
            enabled,
            decoding_key,
        })
    }
}
