//! What a site's stored Connect way in means, decided once for both backends: which stored row
//! a request may use ([`usable_installation`]), and what a Connect install does with the rows
//! the same site already has ([`install_plan`]). The sites store reads and writes the rows;
//! these functions decide.

use crate::connect::installations::Installation;
use crate::site::SiteId;

/// A site's Connect columns as stored (`jwt_tokens`), before anything is decided about them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredConnect {
    pub(crate) site: SiteId,
    pub(crate) client_key: String,
    pub(crate) base_url: Option<String>,
    pub(crate) display_url: Option<String>,
    /// Whether the site is installed at all (through either way in).
    pub(crate) installed: bool,
    pub(crate) enabled: bool,
    /// Erased when Connect is uninstalled.
    pub(crate) shared_secret: Option<String>,
}

/// The installation a request may use from a stored row, or `None`: a site uninstalled, a
/// Connect way in uninstalled while Forge still reaches the site (installed, no secret), or a
/// row the app cannot use (a base URL it no longer accepts, an empty secret). Every `None` is
/// the same answer to the request — an unknown issuer, a 401 — and an unusable row is logged
/// (without its secret) so an operator can repair it.
pub(crate) fn usable_installation(row: StoredConnect) -> Option<Installation> {
    let StoredConnect {
        site,
        client_key,
        base_url,
        display_url,
        installed,
        enabled,
        shared_secret,
    } = row;
    let secret = shared_secret.filter(|_| installed)?;
    let parsed = match base_url {
        Some(base_url) if !secret.is_empty() => Installation::from_row(
            site,
            client_key.clone(),
            base_url,
            display_url,
            enabled,
            secret,
        ),
        Some(_) => Err("its shared secret is empty".into()),
        None => Err("it has no base URL".into()),
    };
    match parsed {
        Ok(installation) => Some(installation),
        Err(why) => {
            log::warn!("installation of {client_key} (site {site}) is unusable: {why}");
            None
        }
    }
}

/// A site known only through Forge (no client key) that holds a Forge identity an install
/// names: the same Confluence site, met through Forge before its Connect install arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ForgeOnlySite {
    pub(crate) site: SiteId,
    pub(crate) cloud_id: Option<String>,
    pub(crate) api_base_url: Option<String>,
}

/// Why a Connect install is refused before anything is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstallRefused {
    /// Another Connect site (another client key) holds the installation id or cloud id.
    IdentityTaken,
}

/// What a Connect install does with the rows of the same site: refused when another Connect
/// site holds its Forge identity (two client keys are never one site); otherwise every
/// Forge-only site holding it merges into the installed one (its tasks, users and Forge state
/// move; its cloud id and API base URL are kept), oldest first.
pub(crate) fn install_plan(
    identity_taken: bool,
    mut met_through_forge: Vec<ForgeOnlySite>,
) -> Result<Vec<ForgeOnlySite>, InstallRefused> {
    if identity_taken {
        return Err(InstallRefused::IdentityTaken);
    }
    met_through_forge.sort_by_key(|forge_only| forge_only.site);
    Ok(met_through_forge)
}

/// The sites an install changed the identities of: the installed one and those merged into
/// it (the caches of identities drop exactly these).
pub(crate) fn moved_sites(site: SiteId, merged: &[ForgeOnlySite]) -> Vec<SiteId> {
    std::iter::once(site)
        .chain(merged.iter().map(|m| m.site))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> StoredConnect {
        StoredConnect {
            site: SiteId(3),
            client_key: "key".into(),
            base_url: Some("https://example.atlassian.net/wiki".into()),
            display_url: Some("https://wiki.example.com/".into()),
            installed: true,
            enabled: true,
            shared_secret: Some("secret".into()),
        }
    }

    #[test]
    fn an_installed_row_with_a_secret_is_usable() {
        let found = usable_installation(row()).unwrap();
        assert_eq!(found.site, SiteId(3));
        assert_eq!(
            found.display_origin.as_deref(),
            Some("https://wiki.example.com")
        );
        let disabled = StoredConnect {
            enabled: false,
            ..row()
        };
        assert!(!usable_installation(disabled).unwrap().enabled);
    }

    #[test]
    fn an_uninstalled_or_unusable_row_is_no_installation() {
        let unusable = [
            StoredConnect {
                installed: false,
                ..row()
            },
            StoredConnect {
                shared_secret: None,
                ..row()
            },
            StoredConnect {
                shared_secret: Some(String::new()),
                ..row()
            },
            StoredConnect {
                base_url: None,
                ..row()
            },
            StoredConnect {
                base_url: Some("not a url".into()),
                ..row()
            },
        ];
        for stored in unusable {
            assert!(usable_installation(stored.clone()).is_none(), "{stored:?}");
        }
    }

    fn forge_only(site: i64) -> ForgeOnlySite {
        ForgeOnlySite {
            site: SiteId(site),
            cloud_id: None,
            api_base_url: None,
        }
    }

    #[test]
    fn an_install_merges_every_forge_only_row_of_its_site_unless_its_identity_is_taken() {
        let plan = install_plan(false, vec![forge_only(9), forge_only(4)]).unwrap();
        assert_eq!(plan, vec![forge_only(4), forge_only(9)]);
        assert_eq!(
            install_plan(true, vec![forge_only(4)]),
            Err(InstallRefused::IdentityTaken)
        );
        assert_eq!(
            moved_sites(SiteId(1), &plan),
            vec![SiteId(1), SiteId(4), SiteId(9)]
        );
    }
}
