//! Which site a verified Forge identity belongs to: the rule, as one plain function of what the
//! sites store read ([`decide`]), tested once here. The store
//! ([`super::store::forge::resolve`]) reads, asks [`decide`] and writes what it answers, the
//! same on either backend.
//!
//! Matching, in order: an installation id a reinstall retired is refused; the token's
//! installation id names a known site; else its cloud id names a known site (a reinstall, or a
//! Connect site that adopted Forge), which then records the new installation id and retires
//! the old one; else a new Forge-only site is created, keyed by installation id. Both ids are
//! unique columns, so a token can never reach two sites; a token whose installation id and
//! cloud id name two different sites is refused. Rows are written only when something changes.

use super::SiteId;

/// A verified Forge identity as the sites store takes it: plain values, so this layer knows
/// nothing of Forge's tokens (`forge/tenants.rs` makes one from a verified token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ForgeIdentity {
    /// `app.installationId`: names the site until a reinstall replaces it.
    pub(crate) installation_id: String,
    /// The site's cloud id, stable across reinstalls, when the token names it.
    pub(crate) cloud_id: Option<String>,
    /// The site's Confluence API base URL, when the call names it (never a Jira URL).
    pub(crate) api_base_url: Option<String>,
    /// The product a new site is recorded under (`product_type`): the one its first call came
    /// from.
    pub(crate) product: &'static str,
}

/// Why a verified identity is given no site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Its installation id and cloud id name two different sites (or a site recorded with
    /// another cloud id).
    TwoSites,
    /// Its installation id was replaced by a reinstall.
    Retired,
}

/// The site a verified Forge identity belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Resolved {
    pub(crate) site: SiteId,
    /// The site now answers to a new installation id (a reinstall or an adoption): caches
    /// that map identities to that site must forget it.
    pub(crate) moved: bool,
}

/// The site row an installation id names, as far as the rule needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Known {
    pub(crate) site: SiteId,
    pub(crate) cloud_id: Option<String>,
    pub(crate) api_base_url: Option<String>,
    /// Whether the Forge way in was ever recorded on it (`forge_state` set).
    pub(crate) forge_seen: bool,
}

/// What the store's reads found for one identity, inside the resolving transaction.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Found {
    /// The installation id is in `forge_retired_installations`.
    pub(crate) retired: bool,
    /// The site whose current installation id it is.
    pub(crate) by_installation: Option<Known>,
    /// The site recorded with the identity's cloud id.
    pub(crate) by_cloud: Option<SiteId>,
}

/// What the store does for one identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// No site: nothing is written.
    Refuse(Refused),
    /// The known site, which the call tells nothing new: nothing is written.
    Use(SiteId),
    /// The known site learns what the call tells: a cloud id, a new API base URL, or the
    /// Forge way in for the first time (first use installs it).
    Refresh(SiteId),
    /// The site of the cloud id answers to this installation id from now on; its old one is
    /// retired.
    Reinstall(SiteId),
    /// A new Forge-only site.
    Create,
}

/// The rule of this module's header, over what the store read.
pub(crate) fn decide(found: &Found, identity: &ForgeIdentity) -> Action {
    if found.retired {
        return Action::Refuse(Refused::Retired);
    }
    match (&found.by_installation, found.by_cloud) {
        (Some(known), Some(other)) if known.site != other => Action::Refuse(Refused::TwoSites),
        (Some(known), _) => {
            let cloud = identity.cloud_id.as_deref();
            if known.cloud_id.is_some() && cloud.is_some() && known.cloud_id.as_deref() != cloud {
                Action::Refuse(Refused::TwoSites)
            } else if tells_something_new(known, identity) {
                Action::Refresh(known.site)
            } else {
                Action::Use(known.site)
            }
        }
        (None, Some(site)) => Action::Reinstall(site),
        (None, None) => Action::Create,
    }
}

/// Whether a call of a known site changes its row: a cloud id it lacks, an API base URL it
/// does not have, or the Forge way in not recorded yet. A missing value never erases one.
fn tells_something_new(known: &Known, identity: &ForgeIdentity) -> bool {
    let learns_cloud = known.cloud_id.is_none() && identity.cloud_id.is_some();
    let new_api = identity.api_base_url.is_some() && identity.api_base_url != known.api_base_url;
    learns_cloud || new_api || !known.forge_seen
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: SiteId = SiteId(1);
    const B: SiteId = SiteId(2);

    fn who(cloud: Option<&str>, api: Option<&str>) -> ForgeIdentity {
        ForgeIdentity {
            installation_id: "i-a".into(),
            cloud_id: cloud.map(str::to_string),
            api_base_url: api.map(str::to_string),
            product: "confluence",
        }
    }

    fn known(site: SiteId, cloud: Option<&str>, api: Option<&str>) -> Known {
        Known {
            site,
            cloud_id: cloud.map(str::to_string),
            api_base_url: api.map(str::to_string),
            forge_seen: true,
        }
    }

    fn by_installation(known: Known) -> Found {
        Found {
            by_installation: Some(known),
            ..Found::default()
        }
    }

    #[test]
    fn a_retired_installation_id_is_refused_whatever_else_was_found() {
        for by_installation in [None, Some(known(A, Some("c"), None))] {
            let found = Found {
                retired: true,
                by_installation,
                by_cloud: Some(A),
            };
            let action = decide(&found, &who(Some("c"), None));
            assert_eq!(action, Action::Refuse(Refused::Retired));
        }
    }

    #[test]
    fn ids_naming_two_sites_are_refused() {
        let found = Found {
            by_installation: Some(known(A, Some("c-a"), None)),
            by_cloud: Some(B),
            ..Found::default()
        };
        let action = decide(&found, &who(Some("c-b"), None));
        assert_eq!(action, Action::Refuse(Refused::TwoSites));
    }

    #[test]
    fn a_site_recorded_with_another_cloud_id_is_refused() {
        let found = by_installation(known(A, Some("c-a"), None));
        let action = decide(&found, &who(Some("c-z"), None));
        assert_eq!(action, Action::Refuse(Refused::TwoSites));
    }

    #[test]
    fn a_known_site_the_call_tells_nothing_new_is_used_as_it_is() {
        let api = Some("https://api/ex/confluence/c-a");
        let found = Found {
            by_cloud: Some(A),
            ..by_installation(known(A, Some("c-a"), api))
        };
        assert_eq!(decide(&found, &who(Some("c-a"), api)), Action::Use(A));
        // A token without a cloud id or an API base URL erases nothing.
        let found = by_installation(known(A, Some("c-a"), api));
        assert_eq!(decide(&found, &who(None, None)), Action::Use(A));
    }

    #[test]
    fn a_known_site_learns_a_cloud_id_a_new_api_base_url_or_its_first_forge_use() {
        let api = Some("https://api/ex/confluence/c-a");
        let no_cloud = by_installation(known(A, None, api));
        assert_eq!(
            decide(&no_cloud, &who(Some("c-a"), api)),
            Action::Refresh(A)
        );
        let old_api = by_installation(known(A, Some("c-a"), Some("https://old")));
        assert_eq!(decide(&old_api, &who(Some("c-a"), api)), Action::Refresh(A));
        let no_api = by_installation(known(A, Some("c-a"), None));
        assert_eq!(decide(&no_api, &who(Some("c-a"), api)), Action::Refresh(A));
        let mut first = known(A, Some("c-a"), api);
        first.forge_seen = false;
        let first = by_installation(first);
        assert_eq!(decide(&first, &who(Some("c-a"), api)), Action::Refresh(A));
    }

    #[test]
    fn a_new_installation_of_a_known_cloud_is_a_reinstall() {
        let found = Found {
            by_cloud: Some(B),
            ..Found::default()
        };
        assert_eq!(
            decide(&found, &who(Some("c-b"), None)),
            Action::Reinstall(B)
        );
    }

    #[test]
    fn ids_no_site_has_make_a_new_site() {
        assert_eq!(
            decide(&Found::default(), &who(Some("c"), None)),
            Action::Create
        );
        assert_eq!(decide(&Found::default(), &who(None, None)), Action::Create);
    }
}
