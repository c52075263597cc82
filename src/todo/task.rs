//! The Todo domain's validated types: a task, its title, its id and the page it came from.

use serde::Serialize;

/// Longest title we accept, in characters.
pub const MAX_TITLE_CHARS: usize = 500;

/// A title that is trimmed, 1 to 500 characters, with at least one visible character and
/// none that hides, reorders or breaks text (see [`refusal`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskTitle(String);

impl TaskTitle {
    /// Validates user input into a title.
    pub fn parse(input: &str) -> Result<Self, String> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err("title must not be empty".into());
        }
        if trimmed.chars().count() > MAX_TITLE_CHARS {
            return Err(format!(
                "title must be at most {MAX_TITLE_CHARS} characters"
            ));
        }
        let chars: Vec<char> = trimmed.chars().collect();
        for (i, &c) in chars.iter().enumerate() {
            let around = (
                i.checked_sub(1).map(|p| chars[p]),
                chars.get(i + 1).copied(),
            );
            if let Some(what) = refusal(c, around) {
                return Err(format!(
                    "title must not contain {what} (U+{:04X})",
                    u32::from(c)
                ));
            }
        }
        if !chars.iter().any(|&c| visible(c)) {
            return Err("title must contain a visible character".into());
        }
        Ok(Self(trimmed.to_string()))
    }

    /// The validated text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why `c` (between `around.0` and `around.1`) may not be in a title, if it may not.
///
/// Refused: controls (Cc); format characters (Cf: zero-width spaces, the byte-order mark,
/// bidirectional overrides and isolates that make a title read differently from what it
/// holds); line and paragraph separators (Zl, Zp); unassigned code points (Cn) and among
/// them the noncharacters U+FDD0..U+FDEF and U+xFFFE/U+xFFFF, which are not even allowed in
/// the XML storage format "Publish to Confluence" sends; surrogates (Cs, which a Rust string
/// cannot hold: the JSON reader refuses them). One exception, for users' sake: a zero-width
/// joiner or non-joiner *between two visible characters* is how emoji sequences (👩‍💻) and
/// Persian or Indic words are written, so it stays; alone, doubled or at an edge it is refused.
fn refusal(c: char, around: (Option<char>, Option<char>)) -> Option<&'static str> {
    use icu_properties::props::GeneralCategory as Gc;
    if noncharacter(c) {
        return Some("a noncharacter");
    }
    match icu_properties::CodePointMapData::<Gc>::new().get(c) {
        Gc::Control => Some("a control character"),
        Gc::LineSeparator | Gc::ParagraphSeparator => Some("a line or paragraph separator"),
        Gc::Unassigned => Some("an unassigned code point"),
        Gc::Surrogate => Some("a surrogate"),
        Gc::Format if joins(c, around) => None,
        Gc::Format => Some("an invisible formatting character"),
        _ => None,
    }
}

/// A zero-width (non-)joiner with a visible, non-format character on each side.
fn joins(c: char, around: (Option<char>, Option<char>)) -> bool {
    let joiner = matches!(c, '\u{200C}' | '\u{200D}');
    let solid = |n: Option<char>| {
        n.is_some_and(|n| {
            use icu_properties::props::GeneralCategory as Gc;
            !n.is_whitespace() && icu_properties::CodePointMapData::<Gc>::new().get(n) != Gc::Format
        })
    };
    joiner && solid(around.0) && solid(around.1)
}

/// U+FDD0..U+FDEF and the last two code points of every plane.
fn noncharacter(c: char) -> bool {
    let n = u32::from(c);
    (0xFDD0..=0xFDEF).contains(&n) || n & 0xFFFE == 0xFFFE
}

/// Shows as something: neither white space nor a default-ignorable code point (variation
/// selectors, Hangul fillers, joiners …), which render as nothing.
fn visible(c: char) -> bool {
    use icu_properties::props::DefaultIgnorableCodePoint;
    !c.is_whitespace()
        && !icu_properties::CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c)
}

/// A task id as it arrives in a URL: a positive integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TaskId(pub i64);

impl TaskId {
    /// Parses a positive decimal integer (no sign, no spaces) up to `i64::MAX`, so every id the
    /// store hands out (and every `next_before` cursor) is read back.
    pub(crate) fn parse(input: &str) -> Option<Self> {
        if input.is_empty() || input.len() > 19 || !input.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        input.parse().ok().filter(|id| *id > 0).map(Self)
    }
}

/// A Confluence page id (numeric in Confluence Cloud; we accept a short token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageId(String);

impl PageId {
    /// 1 to 64 characters of `[A-Za-z0-9_-]`.
    pub(crate) fn parse(input: &str) -> Result<Self, String> {
        let ok = !input.is_empty()
            && input.len() <= 64
            && input
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
        if ok {
            Ok(Self(input.to_string()))
        } else {
            Err("page_id must be 1 to 64 letters, digits, - or _".into())
        }
    }

    /// The validated id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A task as stored and as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Task {
    pub id: i64,
    pub(crate) title: String,
    pub(crate) done: bool,
    pub(crate) created_by: Option<String>,
    pub(crate) page_id: Option<String>,
    pub(crate) created_at: String,
    pub(crate) updated_at: String,
    /// The Jira issue the task is on, when it is on one (shown only then).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) issue: Option<IssueRef>,
}

/// The Jira issue of a task as the API shows it: the id it is stored by and the key last seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct IssueRef {
    pub(crate) id: String,
    pub(crate) key: String,
}

impl IssueRef {
    /// Both columns, or neither (they are written together).
    pub(crate) fn from_columns(id: Option<String>, key: Option<String>) -> Option<Self> {
        Some(Self { id: id?, key: key? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_title_is_trimmed() {
        assert_eq!(
            TaskTitle::parse("  Buy milk \n").unwrap().as_str(),
            "Buy milk"
        );
    }

    #[test]
    fn empty_long_and_control_titles_are_refused() {
        assert!(TaskTitle::parse("   ").is_err());
        assert!(TaskTitle::parse(&"x".repeat(501)).is_err());
        assert!(
            TaskTitle::parse(&"é".repeat(500)).is_ok(),
            "500 characters, not bytes"
        );
        assert!(TaskTitle::parse("a\u{0}b").is_err());
        assert!(TaskTitle::parse("a\tb").is_err());
    }

    /// Each refused class, hidden inside a word and at the edge of a title.
    #[test]
    fn invisible_reordering_and_unassigned_characters_are_refused() {
        let refused = [
            ('\u{200B}', "an invisible formatting character"), // zero-width space (Cf)
            ('\u{FEFF}', "an invisible formatting character"), // byte-order mark (Cf)
            ('\u{202E}', "an invisible formatting character"), // right-to-left override
            ('\u{2066}', "an invisible formatting character"), // left-to-right isolate
            ('\u{00AD}', "an invisible formatting character"), // soft hyphen
            ('\u{2028}', "a line or paragraph separator"),     // Zl
            ('\u{2029}', "a line or paragraph separator"),     // Zp
            ('\u{0378}', "an unassigned code point"),          // Cn
            ('\u{E0080}', "an unassigned code point"),
            ('\u{FFFF}', "a noncharacter"),
            ('\u{FFFE}', "a noncharacter"),
            ('\u{FDD0}', "a noncharacter"),
            ('\u{FDEF}', "a noncharacter"),
            ('\u{1FFFF}', "a noncharacter"),
            ('\u{10FFFE}', "a noncharacter"),
            ('\u{0085}', "a control character"), // C1 next line (Cc)
            ('\u{0007}', "a control character"),
        ];
        for (c, what) in refused {
            let expected = format!("title must not contain {what} (U+{:04X})", u32::from(c));
            assert_eq!(TaskTitle::parse(&format!("a{c}b")), Err(expected.clone()));
            // White space at the edges (U+2028, U+0085) is trimmed off like any other.
            if !c.is_whitespace() {
                for title in [format!("{c}ab"), format!("ab{c}")] {
                    assert_eq!(TaskTitle::parse(&title), Err(expected.clone()), "{title:?}");
                }
            }
        }
    }

    #[test]
    fn a_title_of_nothing_visible_is_refused() {
        let nothing = "title must contain a visible character".to_string();
        // Variation selector, Hangul filler, combining grapheme joiner: ignorable, not Cf.
        for title in ["\u{FE0F}", "\u{3164}", " \u{034F} ", "\u{115F}\u{3000}"] {
            assert_eq!(TaskTitle::parse(title), Err(nothing.clone()), "{title:?}");
        }
        // Zero-width-only, BOM-only and joiner-only titles fail on their first character.
        for title in ["\u{200B}\u{200B}", "\u{FEFF}", "\u{200D}"] {
            assert!(TaskTitle::parse(title).is_err(), "{title:?}");
        }
    }

    #[test]
    fn joiners_inside_emoji_and_words_and_other_scripts_are_kept() {
        for title in [
            "👩\u{200D}💻 fix the laptop",
            "❤\u{FE0F}\u{200D}🔥 ship it",
            "می\u{200C}خواهم",              // Persian with a zero-width non-joiner
            "Café ☕ ünïcödé 日本語 עברית", // letters of every kind, Hebrew is not an override
            "\u{E000} private-use icon",
        ] {
            assert_eq!(TaskTitle::parse(title).unwrap().as_str(), title);
        }
        for title in ["a\u{200D}\u{200D}b", "a \u{200D} b", "\u{200C}a"] {
            assert!(TaskTitle::parse(title).is_err(), "{title:?}");
        }
    }

    #[test]
    fn task_ids_are_positive_integers_only() {
        assert_eq!(TaskId::parse("7"), Some(TaskId(7)));
        for bad in [
            "0",
            "-1",
            "+1",
            "1.5",
            " 1",
            "abc",
            "",
            "99999999999999999999",
            "9223372036854775808",
        ] {
            assert_eq!(TaskId::parse(bad), None, "{bad:?}");
        }
    }

    /// Found by the `task_api` fuzz target: a `next_before` cursor of 19 digits was refused.
    #[test]
    fn every_positive_id_is_read_back() {
        for id in [
            1,
            999_999_999_999_999_999,
            1_000_000_000_000_000_000,
            i64::MAX,
        ] {
            assert_eq!(TaskId::parse(&id.to_string()), Some(TaskId(id)));
        }
    }

    #[test]
    fn page_ids_are_short_tokens() {
        assert!(PageId::parse("123456").is_ok());
        assert!(PageId::parse("12 3").is_err());
        assert!(PageId::parse("").is_err());
    }
}
