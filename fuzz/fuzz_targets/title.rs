//! Fuzzes title validation (`TaskTitle::parse`), what every title passes before it is stored.
//! Invariants: never panics; an accepted title is the input trimmed, 1 to 500 characters,
//! with something visible and no control, bidi control, invisible formatting, separator,
//! surrogate or noncharacter code point (checked by `title_breach`, written independently);
//! and it is accepted again unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use todo_connect::fuzzing::TaskTitle;
use todo_connect_fuzz::title_breach;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(title) = TaskTitle::parse(text) {
        assert_eq!(title.as_str(), text.trim());
        if let Some(breach) = title_breach(title.as_str()) {
            panic!("accepted {text:?}: {breach}");
        }
        assert_eq!(TaskTitle::parse(title.as_str()), Ok(title));
    }
});
