//! How replicas tell each other that a site changed: the `LISTEN`/`NOTIFY` channel and its
//! payloads (a Connect client key, a site by id, or tasks of a site). The listener is
//! `listen.rs`.

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

/// The notification payload naming a task of a site (`Some(id)`) or every task of it (`None`)
/// after a write to tasks: other replicas forget those tasks' rendered macros. A replica that
/// does not know this payload takes it for a client key no installation has: harmless.
pub(crate) fn tasks_payload(site: crate::site::SiteId, task: Option<i64>) -> String {
    match task {
        Some(task) => format!("{TASKS_PAYLOAD_MARK}{site}:{task}"),
        None => format!("{TASKS_PAYLOAD_MARK}{site}:"),
    }
}

/// The site and task (`None`: every task of the site) a payload of [`tasks_payload`] names.
pub(crate) fn payload_tasks(payload: &str) -> Option<(crate::site::SiteId, Option<i64>)> {
    let (site, task) = payload.strip_prefix(TASKS_PAYLOAD_MARK)?.split_once(':')?;
    let site = crate::site::SiteId(site.parse().ok()?);
    match task {
        "" => Some((site, None)),
        task => Some((site, Some(task.parse().ok()?))),
    }
}

const TASKS_PAYLOAD_MARK: &str = "\u{1}tasks:";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::SiteId;

    #[test]
    fn each_payload_reads_back_as_what_it_names_and_nothing_else() {
        let one = tasks_payload(SiteId(3), Some(42));
        let all = tasks_payload(SiteId(3), None);
        assert_eq!(payload_tasks(&one), Some((SiteId(3), Some(42))));
        assert_eq!(payload_tasks(&all), Some((SiteId(3), None)));
        assert_eq!(payload_site(&one), None);
        assert_eq!(payload_tasks(&site_payload(SiteId(3))), None);
        assert_eq!(payload_tasks("tasks:3:42"), None, "a client key");
        assert_eq!(payload_tasks("\u{1}tasks:3:x"), None);
    }
}
