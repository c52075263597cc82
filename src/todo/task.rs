//! The Todo domain's validated types: a task, its title, its id and the page it came from.

use serde::Serialize;

/// Longest title we accept, in characters.
pub const MAX_TITLE_CHARS: usize = 500;

/// A title that is trimmed, 1 to 500 characters, without control characters.
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
        if trimmed.chars().any(char::is_control) {
            return Err("title must not contain control characters".into());
        }
        Ok(Self(trimmed.to_string()))
    }

    /// The validated text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A task id as it arrives in a URL: a positive integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskId(pub i64);

impl TaskId {
    /// Parses a positive decimal integer (no sign, no spaces).
    pub fn parse(input: &str) -> Option<Self> {
        if input.is_empty() || input.len() > 18 || !input.bytes().all(|b| b.is_ascii_digit()) {
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
    pub fn parse(input: &str) -> Result<Self, String> {
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
    pub title: String,
    pub done: bool,
    pub created_by: Option<String>,
    pub page_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
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
        ] {
            assert_eq!(TaskId::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn page_ids_are_short_tokens() {
        assert!(PageId::parse("123456").is_ok());
        assert!(PageId::parse("12 3").is_err());
        assert!(PageId::parse("").is_err());
    }
}
