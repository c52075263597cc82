//! What a published page is: the request's space key and title, checked, and the page body in
//! storage format. The same for every way in.

use serde_json::{Value, json};

use super::MAX_PUBLISHED_TASKS;
use crate::error::{AppError, Result};
use crate::todo::task::Task;
use crate::util::html;

/// A Confluence space key: letters, digits, `_`, `-`, `:` and a leading `~` (personal spaces).
pub(crate) fn parse_space_key(input: &str) -> Result<String> {
    let key = input.trim();
    let body = key.strip_prefix('~').unwrap_or(key);
    let ok = !body.is_empty()
        && key.len() <= 255
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b':'));
    if ok {
        Ok(key.to_string())
    } else {
        Err(AppError::unprocessable(
            "space_key must be a Confluence space key, such as DOCS",
        ))
    }
}

/// The title asked for, or a dated default when none (or only spaces) is given.
pub(crate) fn parse_title(title: Option<&str>) -> Result<String> {
    let title = match title.map(str::trim) {
        Some(t) if !t.is_empty() => t,
        _ => return Ok(default_title()),
    };
    if title.chars().count() > 255 || title.chars().any(char::is_control) {
        return Err(AppError::unprocessable(
            "title must be at most 255 characters, without control characters",
        ));
    }
    Ok(title.to_string())
}

/// Confluence refuses a second page with the same title in a space, so the default is dated.
fn default_title() -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let now = time::OffsetDateTime::now_utc();
    format!(
        "Open tasks ({} UTC)",
        now.format(&format).unwrap_or_default()
    )
}

/// The new page as Confluence's content API takes it (`POST …/rest/api/content`).
pub(crate) fn content(title: &str, space_key: &str, tasks: &[Task], truncated: bool) -> Value {
    json!({
        "type": "page",
        "title": title,
        "space": { "key": space_key },
        "body": { "storage": { "value": storage_body(tasks, truncated), "representation": "storage" } },
    })
}

/// The page body in storage format (XHTML): one list item per open task, every title escaped.
fn storage_body(tasks: &[Task], truncated: bool) -> String {
    if tasks.is_empty() {
        return "<p>No open tasks.</p>".to_string();
    }
    let mut out = String::from("<p>Open tasks from the Todo app:</p><ul>");
    for task in tasks {
        out.push_str("<li>");
        // HTML escaping is valid XML escaping for storage format content.
        out.push_str(&html::escape(&task.title));
        out.push_str(&format!(" (#{})</li>", task.id));
    }
    out.push_str("</ul>");
    if truncated {
        out.push_str(&format!(
            "<p>Only the newest {MAX_PUBLISHED_TASKS} open tasks are listed.</p>"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_escaped_in_the_storage_body() {
        let task = Task {
            id: 3,
            title: "<b>Fix</b> & \"ship\"".into(),
            done: false,
            created_by: None,
            page_id: None,
            created_at: String::new(),
            updated_at: String::new(),
            issue: None,
        };
        assert_eq!(
            storage_body(&[task], false),
            "<p>Open tasks from the Todo app:</p><ul><li>&lt;b&gt;Fix&lt;/b&gt; &amp; \
             &quot;ship&quot; (#3)</li></ul>"
        );
    }

    #[test]
    fn space_keys_are_plain_tokens() {
        assert!(parse_space_key("DOCS").is_ok());
        assert!(parse_space_key("~557058:abc-1").is_ok());
        for bad in ["", "~", "a b", "A/B", "a?b", &"K".repeat(256)] {
            assert!(parse_space_key(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_missing_or_blank_title_is_dated_and_a_bad_one_refused() {
        assert_eq!(parse_title(Some("  Ours ")).unwrap(), "Ours");
        for none in [None, Some(""), Some("   ")] {
            assert!(parse_title(none).unwrap().starts_with("Open tasks ("));
        }
        assert!(parse_title(Some("a\u{0}b")).is_err());
        assert!(parse_title(Some(&"t".repeat(256))).is_err());
    }
}
