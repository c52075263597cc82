//! How replicas tell each other that a site changed: the `LISTEN`/`NOTIFY` channel and its
//! payloads (a Connect client key, or a site by id). The listener is `listen.rs`.

/// The `LISTEN`/`NOTIFY` channel of site changes (lifecycle, Forge identities); the payload is
/// the Connect client key of the site, or empty when no installation cache entry is affected.
pub(crate) const SITE_CHANGES_CHANNEL: &str = "todo_connect_installations";

/// The notification payload naming one site by id (a Forge-side change: a new installation
/// id, a retired one): other replicas forget that site's Forge cache entries only. A Connect
/// client key never starts with the marker's control character.
pub(crate) fn site_payload(site: crate::site::SiteId) -> String {
    format!("{SITE_PAYLOAD_MARK}{site}")
}

/// The site a payload of [`site_payload`] names; `None` for a client key or an empty payload.
pub(crate) fn payload_site(payload: &str) -> Option<crate::site::SiteId> {
    let id = payload.strip_prefix(SITE_PAYLOAD_MARK)?;
    id.parse().ok().map(crate::site::SiteId)
}

const SITE_PAYLOAD_MARK: &str = "\u{1}site:";
