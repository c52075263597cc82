//! The ways into a site (Connect, Forge), each with its own state, and the one rule that says
//! when a site may be purged: every way in it ever had is gone, the last one longer ago than
//! asked, and none was used since. Both backends' `purge` and `todo-connect sites` read it here.

use std::fmt;

use time::OffsetDateTime;

use crate::util::time::rfc3339;

/// A way into a site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Way {
    Connect,
    Forge,
}

impl Way {
    /// Its name in output and columns (`connect_…`, `forge_…`).
    fn name(self) -> &'static str {
        match self {
            Self::Connect => "connect",
            Self::Forge => "forge",
        }
    }
}

/// A way in's lifecycle state, as stored (`installed` / `uninstalled`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Installed,
    Uninstalled,
}

impl State {
    /// The stored text.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Installed => "installed",
            Self::Uninstalled => "uninstalled",
        }
    }

    /// The state a stored text names; `None` for NULL (never had this way in) or anything else.
    pub(crate) fn parse(text: Option<&str>) -> Option<Self> {
        match text? {
            "installed" => Some(Self::Installed),
            "uninstalled" => Some(Self::Uninstalled),
            _ => None,
        }
    }
}

/// One way in of one site: its state (`None`: the site never had it) and its times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct WayIn {
    pub(crate) state: Option<State>,
    pub(crate) installed_at: Option<OffsetDateTime>,
    pub(crate) uninstalled_at: Option<OffsetDateTime>,
    /// The last recorded use (at most a few minutes behind the real last use).
    pub(crate) seen_at: Option<OffsetDateTime>,
}

/// Both ways into a site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct SiteWays {
    pub(crate) connect: WayIn,
    pub(crate) forge: WayIn,
}

impl SiteWays {
    fn each(&self) -> [(Way, &WayIn); 2] {
        [(Way::Connect, &self.connect), (Way::Forge, &self.forge)]
    }

    /// How the site is reached now: `connect`, `forge`, `both`, or `none`.
    pub(crate) fn reached_by(&self) -> &'static str {
        let on = |w: &WayIn| w.state == Some(State::Installed);
        match (on(&self.connect), on(&self.forge)) {
            (true, true) => "both",
            (true, false) => "connect",
            (false, true) => "forge",
            (false, false) => "none",
        }
    }
}

/// What the purge rule says about a site, and why (printed by `purge --dry-run`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    Purge(String),
    Keep(String),
}

impl Verdict {
    /// Whether the site may go.
    pub(crate) fn is_purge(&self) -> bool {
        matches!(self, Self::Purge(_))
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Purge(why) | Self::Keep(why) => f.write_str(why),
        }
    }
}

/// Whether a site may be purged, given its ways in and the cutoff (`--uninstalled-for`
/// before now): every way it ever had is uninstalled, the last uninstall is before the cutoff,
/// and no way in was used at or after that uninstall. Anything unknown keeps the site.
pub(crate) fn purge_verdict(ways: &SiteWays, cutoff: OffsetDateTime) -> Verdict {
    let had: Vec<(Way, &WayIn)> = ways
        .each()
        .into_iter()
        .filter(|(_, w)| w.state.is_some())
        .collect();
    if had.is_empty() {
        return Verdict::Keep("no way in recorded".into());
    }
    let mut last_gone: Option<OffsetDateTime> = None;
    let mut gone = Vec::new();
    for (way, w) in &had {
        if w.state == Some(State::Installed) {
            return Verdict::Keep(format!("{} still installed", way.name()));
        }
        let Some(at) = w.uninstalled_at else {
            return Verdict::Keep(format!("{} uninstall time unknown", way.name()));
        };
        gone.push(format!("{} uninstalled {}", way.name(), rfc3339(at)));
        last_gone = last_gone.max(Some(at));
    }
    let Some(last_gone) = last_gone else {
        return Verdict::Keep("no uninstall recorded".into());
    };
    for (way, w) in ways.each() {
        if let Some(seen) = w.seen_at.filter(|seen| *seen >= last_gone) {
            return Verdict::Keep(format!(
                "used through {} at {}, after its last uninstall",
                way.name(),
                rfc3339(seen)
            ));
        }
    }
    if last_gone >= cutoff {
        return Verdict::Keep(format!("{}: not before the cutoff", gone.join(", ")));
    }
    Verdict::Purge(gone.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;

    fn at(days_ago: i64) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + Duration::days(1000 - days_ago)
    }

    fn now() -> OffsetDateTime {
        at(0)
    }

    fn installed(days_ago: i64) -> WayIn {
        WayIn {
            state: Some(State::Installed),
            installed_at: Some(at(days_ago)),
            ..WayIn::default()
        }
    }

    fn gone(installed_days_ago: i64, days_ago: i64) -> WayIn {
        WayIn {
            state: Some(State::Uninstalled),
            installed_at: Some(at(installed_days_ago)),
            uninstalled_at: Some(at(days_ago)),
            seen_at: None,
        }
    }

    fn verdict(connect: WayIn, forge: WayIn, days: i64) -> Verdict {
        let ways = SiteWays { connect, forge };
        purge_verdict(&ways, now() - Duration::days(days))
    }

    #[test]
    fn a_site_still_reached_through_forge_is_kept_after_connect_uninstalled() {
        let v = verdict(gone(100, 50), installed(60), 0);
        assert_eq!(v, Verdict::Keep("forge still installed".into()));
        let v = verdict(installed(100), gone(60, 50), 0);
        assert_eq!(v, Verdict::Keep("connect still installed".into()));
    }

    #[test]
    fn a_site_whose_every_way_is_gone_long_enough_is_purged() {
        let v = verdict(gone(100, 50), gone(60, 40), 30);
        assert!(v.is_purge(), "{v}");
        assert!(v.to_string().contains("connect uninstalled") && v.to_string().contains("forge"));
        let only_connect = verdict(gone(100, 50), WayIn::default(), 30);
        assert!(only_connect.is_purge(), "{only_connect}");
        let only_forge = verdict(WayIn::default(), gone(100, 50), 30);
        assert!(only_forge.is_purge(), "{only_forge}");
    }

    #[test]
    fn the_last_way_to_go_decides_the_age() {
        let v = verdict(gone(100, 50), gone(60, 20), 30);
        assert!(!v.is_purge(), "{v}");
        assert!(v.to_string().contains("not before the cutoff"), "{v}");
        let v = verdict(gone(100, 0), WayIn::default(), 0);
        assert!(
            !v.is_purge(),
            "uninstalled this instant is not before a 0-day cutoff"
        );
    }

    #[test]
    fn a_site_used_through_any_way_after_its_last_uninstall_is_kept() {
        let mut forge = gone(60, 40);
        forge.seen_at = Some(at(10));
        let v = verdict(gone(100, 50), forge, 0);
        assert!(!v.is_purge(), "{v}");
        assert!(v.to_string().starts_with("used through forge"), "{v}");
        let mut connect = gone(100, 50);
        connect.seen_at = Some(at(40));
        assert!(
            !verdict(connect, gone(60, 40), 0).is_purge(),
            "at the instant"
        );
        let mut before = gone(60, 40);
        before.seen_at = Some(at(45));
        assert!(verdict(gone(100, 50), before, 0).is_purge());
    }

    #[test]
    fn anything_unknown_keeps_the_site() {
        assert!(!verdict(WayIn::default(), WayIn::default(), 0).is_purge());
        let unknown = WayIn {
            state: Some(State::Uninstalled),
            ..WayIn::default()
        };
        assert!(!verdict(unknown, WayIn::default(), 0).is_purge());
    }

    #[test]
    fn states_read_from_their_stored_text() {
        assert_eq!(State::parse(Some("installed")), Some(State::Installed));
        assert_eq!(State::parse(Some("uninstalled")), Some(State::Uninstalled));
        assert_eq!(State::parse(None), None);
        assert_eq!(State::parse(Some("gone")), None);
        let both = SiteWays {
            connect: installed(1),
            forge: installed(1),
        };
        assert_eq!(both.reached_by(), "both");
        assert_eq!(SiteWays::default().reached_by(), "none");
    }
}
