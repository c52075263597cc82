//! Text from outside (a parser's message quoting a file, SQLite's report on a damaged file)
//! made fit for the one line an error is printed on.

/// `text` trimmed, with every control character (line breaks included) written as Rust's
/// `{:?}` writes it (`\n`, `\u{1b}`), so a message stays one line and cannot forge another.
pub fn one_line(text: &str) -> String {
    let mut line = String::with_capacity(text.len());
    for c in text.trim().chars() {
        if c.is_control() {
            line.extend(c.escape_debug());
        } else {
            line.push(c);
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn control_characters_are_escaped_and_the_rest_kept() {
        assert_eq!(
            one_line("  *** in database main ***\nTree 17: error\r\n"),
            "*** in database main ***\\nTree 17: error"
        );
        assert_eq!(one_line("a\u{1b}[31mb\tc"), "a\\u{1b}[31mb\\tc");
        assert_eq!(
            one_line("unknown field `café 日本`"),
            "unknown field `café 日本`"
        );
    }
}
