//! The progress of a Jira issue's tasks as Jira sees it: the issue property
//! [`PROPERTY_KEY`] = `{open, total}`, which the manifest's `jira:entityProperty` indexes for
//! JQL (`todoOpen > 0`).

/// The issue property the server writes and the manifest indexes.
pub const PROPERTY_KEY: &str = "todo-progress";
