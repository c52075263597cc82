//! Atlassian ecosystem ids, compared by their uuid: Forge names an installation or an app as an
//! ARI (`ari:cloud:ecosystem::installation/<uuid>`, `ari:cloud:ecosystem::app/<uuid>`) in its
//! tokens and as the bare uuid in documented event bodies; `FORGE_APP_ID` may be given either
//! way. One normalising function, so every comparison of such ids follows the same rule.

/// Which ecosystem id an ARI names: each kind has exactly one ARI prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ecosystem {
    Installation,
    App,
}

impl Ecosystem {
    /// The ARI prefix of this kind.
    const fn prefix(self) -> &'static str {
        match self {
            Self::Installation => "ari:cloud:ecosystem::installation/",
            Self::App => "ari:cloud:ecosystem::app/",
        }
    }

    /// The ARI of a uuid already normalised by [`ecosystem_uuid`].
    pub(crate) fn ari(self, uuid: &str) -> String {
        format!("{}{uuid}", self.prefix())
    }
}

/// The lower-case uuid of `text` when it is that uuid (any case) or the ARI of `kind` around
/// it (prefix in any case); `None` for anything else — another kind's ARI, another ARI, a
/// uuid of the wrong shape, surrounding spaces — so two ids that are not both readable never
/// compare equal.
pub(crate) fn ecosystem_uuid(text: &str, kind: Ecosystem) -> Option<String> {
    let prefix = kind.prefix();
    let uuid = match text.get(..prefix.len()) {
        Some(head) if head.eq_ignore_ascii_case(prefix) => &text[prefix.len()..],
        _ => text,
    };
    is_uuid(uuid).then(|| uuid.to_ascii_lowercase())
}

/// The one stored spelling of an installation id, whichever way in delivered it: the
/// lower-case ARI when `text` is a uuid or an installation ARI (any case), else `text` as it
/// is. Site rows are keyed and reinstalls retired by this string, so a Forge token and a
/// Connect `installed` payload that spell one installation two ways can never look like a
/// reinstall of each other.
pub(crate) fn canonical_installation_id(text: &str) -> String {
    match ecosystem_uuid(text, Ecosystem::Installation) {
        Some(uuid) => Ecosystem::Installation.ari(&uuid),
        None => text.to_string(),
    }
}

/// Five groups of 8-4-4-4-12 hexadecimal digits.
fn is_uuid(text: &str) -> bool {
    let shape = [8, 4, 4, 4, 12];
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == shape.len()
        && groups
            .iter()
            .zip(shape)
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const UUID: &str = "fff8e466-0b1c-4a5e-9d2f-0123456789ab";

    #[test]
    fn a_bare_uuid_and_its_ari_normalise_to_the_same_lower_case_uuid() {
        for (text, kind) in [
            (UUID.to_string(), Ecosystem::Installation),
            (UUID.to_uppercase(), Ecosystem::Installation),
            (
                format!("ari:cloud:ecosystem::installation/{UUID}"),
                Ecosystem::Installation,
            ),
            (
                format!("ARI:CLOUD:ECOSYSTEM::INSTALLATION/{}", UUID.to_uppercase()),
                Ecosystem::Installation,
            ),
            (UUID.to_string(), Ecosystem::App),
            (format!("ari:cloud:ecosystem::app/{UUID}"), Ecosystem::App),
        ] {
            assert_eq!(ecosystem_uuid(&text, kind).as_deref(), Some(UUID), "{text}");
        }
        assert_eq!(
            Ecosystem::App.ari(UUID),
            format!("ari:cloud:ecosystem::app/{UUID}")
        );
    }

    #[test]
    fn every_spelling_of_one_installation_is_stored_as_one_ari() {
        let ari = format!("ari:cloud:ecosystem::installation/{UUID}");
        for text in [
            UUID.to_string(),
            UUID.to_uppercase(),
            ari.clone(),
            format!("ARI:CLOUD:ECOSYSTEM::INSTALLATION/{}", UUID.to_uppercase()),
        ] {
            assert_eq!(canonical_installation_id(&text), ari, "{text}");
        }
        // Not an installation id Forge issues: kept exactly, never merged with another.
        for text in [
            "i-1",
            "ari:cloud:ecosystem::app/x",
            "ari:cloud:ecosystem::installation/1",
        ] {
            assert_eq!(canonical_installation_id(text), text);
        }
    }

    #[test]
    fn anything_else_is_refused() {
        for (text, kind) in [
            (
                format!("ari:cloud:ecosystem::app/{UUID}"),
                Ecosystem::Installation,
            ),
            (
                format!("ari:cloud:ecosystem::installation/{UUID}"),
                Ecosystem::App,
            ),
            (
                format!("ari:cloud:confluence::site/{UUID}"),
                Ecosystem::Installation,
            ),
            (
                format!("ari:cloud:ecosystem::installation/{UUID}/x"),
                Ecosystem::Installation,
            ),
            (format!(" {UUID}"), Ecosystem::Installation),
            (format!("{UUID} "), Ecosystem::App),
            (
                "ari:cloud:ecosystem::installation/".to_string(),
                Ecosystem::Installation,
            ),
            ("someone-else".to_string(), Ecosystem::Installation),
            (
                "fff8e466-0b1c-4a5e-9d2f-0123456789".to_string(),
                Ecosystem::App,
            ),
            (
                "gff8e466-0b1c-4a5e-9d2f-0123456789ab".to_string(),
                Ecosystem::App,
            ),
            (
                "fff8e4660b1c4a5e9d2f0123456789ab".to_string(),
                Ecosystem::App,
            ),
            ("é".repeat(40), Ecosystem::App),
            (String::new(), Ecosystem::App),
        ] {
            assert_eq!(ecosystem_uuid(&text, kind), None, "{text:?} as {kind:?}");
        }
    }
}
