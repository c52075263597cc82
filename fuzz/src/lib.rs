//! Invariants the fuzz targets check, written here independently of the code under test (by
//! code point ranges and Unicode general categories, not by calling the app's validators), so
//! a validator that lets something through is caught rather than agreed with.

use icu_properties::CodePointMapData;
use icu_properties::props::GeneralCategory as Gc;

/// Longest title, in characters (`todo::task::MAX_TITLE_CHARS`).
pub const MAX_TITLE_CHARS: usize = 500;

/// Bidirectional controls: marks, embeddings, overrides and isolates (Unicode UAX #9).
fn bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// U+FDD0..U+FDEF and the last two code points of every plane.
fn noncharacter(c: char) -> bool {
    let n = u32::from(c);
    (0xFDD0..=0xFDEF).contains(&n) || n & 0xFFFE == 0xFFFE
}

/// Renders as nothing: a format character, or one of the default-ignorable fillers and
/// selectors that are not (Hangul fillers, variation selectors, the combining grapheme joiner).
fn invisible(c: char) -> bool {
    let fillers = matches!(
        c,
        '\u{034F}' | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' | '\u{180B}'..='\u{180F}'
            | '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}'
    );
    fillers || CodePointMapData::<Gc>::new().get(c) == Gc::Format
}

/// Why `title`, accepted by the app, breaks the title rule, if it does: 1 to 500 characters,
/// trimmed, something visible, and no control, bidi control, invisible formatting character
/// (a zero-width joiner or non-joiner only between two visible characters), line or paragraph
/// separator, surrogate (a Rust `char` cannot be one, so none can reach here) or noncharacter.
pub fn title_breach(title: &str) -> Option<String> {
    let chars: Vec<char> = title.chars().collect();
    if !(1..=MAX_TITLE_CHARS).contains(&chars.len()) {
        return Some(format!("{} characters", chars.len()));
    }
    if title.trim() != title {
        return Some("not trimmed".into());
    }
    if !chars.iter().any(|&c| !c.is_whitespace() && !invisible(c)) {
        return Some("nothing visible".into());
    }
    // A joiner's neighbours: anything but white space and format characters (a variation
    // selector before a joiner is how emoji sequences like ❤️‍🔥 are written).
    let format = |c: char| CodePointMapData::<Gc>::new().get(c) == Gc::Format;
    let solid = |c: Option<&char>| c.is_some_and(|&c| !c.is_whitespace() && !format(c));
    for (i, &c) in chars.iter().enumerate() {
        let joiner = matches!(c, '\u{200C}' | '\u{200D}');
        let joins = joiner && i > 0 && solid(chars.get(i - 1)) && solid(chars.get(i + 1));
        let what = if c.is_control() {
            "a control character"
        } else if bidi_control(c) {
            "a bidi control"
        } else if matches!(c, '\u{2028}' | '\u{2029}') {
            "a line or paragraph separator"
        } else if noncharacter(c) {
            "a noncharacter"
        } else if format(c) && !joins {
            "an invisible formatting character"
        } else {
            continue;
        };
        return Some(format!("{what} U+{:04X} at {i}", u32::from(c)));
    }
    None
}

/// A page id as the API stores it: 1 to 64 of `[A-Za-z0-9_-]`.
pub fn page_id_ok(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `data` as a JSON tree, to read what the app read from it independently. serde skips a field
/// it ignores without checking it, so the app reads bodies a tree refuses: invalid UTF-8 there
/// is replaced (the fields the app read are valid UTF-8), and `None` is returned when an
/// unpaired surrogate escape (`"\ud800"`) remains, which a tree refuses anywhere.
pub fn json_tree(data: &[u8]) -> Option<serde_json::Value> {
    let text = String::from_utf8_lossy(data);
    match serde_json::from_str(&text) {
        Ok(tree) => Some(tree),
        Err(err) => {
            let surrogate = data.windows(3).any(|w| {
                w[0] == b'u'
                    && w[1].eq_ignore_ascii_case(&b'd')
                    && matches!(w[2].to_ascii_lowercase(), b'8'..=b'9' | b'a'..=b'f')
            });
            assert!(surrogate, "read by the app, but not JSON: {err}");
            None
        }
    }
}
