//! A verified Forge identity as the sites store takes it, and what the store's refusals answer.
//! Which site an identity belongs to is decided in [`crate::site::forge_identity`] and recorded
//! by [`crate::site::store::forge`]; the in-memory side is [`super::tenant_cache`].

use super::fit::{FitError, Identity};
use super::jira::Product;
use crate::site::forge_identity::{ForgeIdentity, Refused};

/// The plain values of `identity` the sites store matches and records: the site's Confluence
/// API base URL (never a Jira one), and the product a Forge-first site is recorded under.
pub(crate) fn store_identity(identity: &Identity) -> ForgeIdentity {
    ForgeIdentity {
        installation_id: identity.installation_id.clone(),
        cloud_id: identity.cloud_id.clone(),
        api_base_url: identity.confluence_api_base_url.clone(),
        product: first_product(identity),
    }
}

/// The product a Forge-first site is recorded under: the one its first call came from (a Jira
/// panel may be the first to call), Confluence when the token names none (the app's required
/// product).
fn first_product(identity: &Identity) -> &'static str {
    identity.product.unwrap_or(Product::Confluence).as_str()
}

/// The token failure a refusal answers with (a 401, like every Forge authentication failure).
pub(crate) fn refusal(why: Refused) -> FitError {
    match why {
        Refused::TwoSites => FitError::TwoSites,
        Refused::Retired => FitError::BadClaim("installationId (replaced by a reinstall)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jira_call() -> Identity {
        Identity {
            installation_id: "i-a".into(),
            cloud_id: Some("c-a".into()),
            api_base_url: Some("https://api.atlassian.com/ex/jira/c-a".into()),
            product: Some(Product::Jira),
            confluence_api_base_url: Some("https://api.atlassian.com/ex/confluence/c-a".into()),
            account_id: Some("acc".into()),
            issue: None,
        }
    }

    #[test]
    fn the_store_gets_the_confluence_api_base_url_and_the_first_calls_product() {
        let ids = store_identity(&jira_call());
        assert_eq!(ids.installation_id, "i-a");
        assert_eq!(ids.cloud_id.as_deref(), Some("c-a"));
        assert_eq!(
            ids.api_base_url.as_deref(),
            Some("https://api.atlassian.com/ex/confluence/c-a"),
            "never the Jira URL"
        );
        assert_eq!(ids.product, "jira");
        let unnamed = Identity {
            product: None,
            ..jira_call()
        };
        assert_eq!(store_identity(&unnamed).product, "confluence");
    }
}
