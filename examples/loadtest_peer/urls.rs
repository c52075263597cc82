//! The macro URLs the load test sends: each one Confluence's iframe URL for one view of a task,
//! with its own token (Confluence mints one per render), for the 20-site kinds (`setup`) and
//! the scale round (`seed`) alike.

use jsonwebtoken::{Algorithm, EncodingKey};
use testkit::confluence::{MACRO_PATH, iframe_claims, macro_query};
use testkit::tokens::sign_with;

use super::Result;

/// Different viewers the macro URLs of a site are minted for (each becomes a recorded user).
pub const VIEWERS: usize = 10;

/// An account id of site `site` (`n`: which of its users).
pub fn account(site: usize, n: usize) -> String {
    format!("557058:0c4d2a7e-5e6f-4a7b-8c9d-{site:06}{n:06}")
}

/// What every URL of a run shares: the app key, the path of `SITE_URL` (part of the qsh) and
/// how long the tokens live.
pub struct Minter {
    pub addon_key: String,
    pub base_path: String,
    pub ttl: i64,
}

impl Minter {
    /// The app's `SITE_URL` and `ADDON_KEY`, tokens valid for `ttl` seconds.
    pub fn new(site_url: &str, addon_key: &str, ttl: i64) -> Result<Self> {
        let base_path = todo_connect::util::url::BaseUrl::parse(site_url, false)
            .map_err(|e| format!("SITE_URL: {e}"))?
            .path()
            .to_string();
        Ok(Self {
            addon_key: addon_key.to_string(),
            base_path,
            ttl,
        })
    }

    /// The iframe URL (path and query, `jwt` last) Confluence would load for `viewer`'s view of
    /// `task` on page `page` of the site `client_key`, signed with the site's `hmac` key.
    pub fn macro_url(
        &self,
        client_key: &str,
        hmac: &EncodingKey,
        task: i64,
        page: usize,
        viewer: &str,
    ) -> Result<String> {
        let query = macro_query(task, &self.addon_key, page, viewer);
        let target = (MACRO_PATH, query.as_str());
        let claims = iframe_claims(client_key, viewer, target, &self.base_path, self.ttl);
        let token = sign_with(&claims, hmac, Algorithm::HS256, None)?;
        Ok(format!("{MACRO_PATH}?{query}&jwt={token}"))
    }
}
