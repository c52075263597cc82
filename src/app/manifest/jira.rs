//! What the manifest adds for Jira, in the forms that can serve it ([`Form::serves_jira`]:
//! Atlassian lets only an app without `connectModules` serve two products): Confluence stays
//! the required product and Jira an optional one the site admin connects; a Todo panel on the
//! issue view (Custom UI, calling our remote); a trigger for issue and project deletions; the
//! progress property indexed for JQL; and the three Jira scopes these need.
//!
//! [`Form::serves_jira`]: super::Form::serves_jira

use serde_json::{Value, json};

use super::{EVENTS_ENDPOINT, UI_ENDPOINT};
use crate::app::routes::paths;
use crate::todo::progress::PROPERTY_KEY;

/// The issue panel's module key and its Custom UI resource (`forge/build/issue-panel`).
const ISSUE_PANEL: &str = "todo-issue-panel";
const ISSUE_PANEL_VIEW: &str = "issue-panel";
/// The trigger delivering Jira's deletions to the events endpoint.
const JIRA_TRIGGER: &str = "todo-jira-deletions";
/// The deletions that take tasks with them (a project's issues send no events of their own).
const JIRA_EVENTS: [&str; 2] = ["avi:jira:deleted:issue", "avi:jira:deleted:project"];
/// The `jira:entityProperty` module that indexes the progress property.
const PROGRESS_INDEX: &str = "todo-progress-index";
/// JQL names of the indexed values: `todoOpen > 0`, `todoTotal = 0`.
const SEARCH_ALIASES: [(&str, &str); 2] = [("open", "todoOpen"), ("total", "todoTotal")];
/// The Jira scopes: the deletion events (`read:jira-work`, which the validator demands for
/// them), writing the progress property (`write:jira-work`) and display names of Jira users,
/// which the issue panel reads as the viewing user (`read:jira-user`,
/// `requestJira('/rest/api/3/user/bulk?accountId=…')`). Nothing else.
const JIRA_SCOPES: [&str; 3] = ["read:jira-work", "write:jira-work", "read:jira-user"];

/// Adds the Jira parts to a manifest built for a form that serves Jira; `icon` is the app icon's
/// URL on our remote.
pub(super) fn add_jira(manifest: &mut Value, icon: &str) {
    manifest["app"]["compatibility"] = json!({
        "confluence": {"required": true},
        "jira": {"required": false},
    });
    let modules = &mut manifest["modules"];
    modules["jira:issuePanel"] = json!([{
        "key": ISSUE_PANEL,
        "title": "Todo",
        "icon": icon,
        "resource": ISSUE_PANEL_VIEW,
        "resolver": {"endpoint": UI_ENDPOINT},
        "viewportSize": "medium",
    }]);
    modules["jira:entityProperty"] = json!([{
        "key": PROGRESS_INDEX,
        "entityType": "issue",
        "propertyKey": PROPERTY_KEY,
        "values": SEARCH_ALIASES
            .iter()
            .map(|(path, alias)| json!({"path": path, "type": "number", "searchAlias": alias}))
            .collect::<Vec<_>>(),
    }]);
    if let Some(triggers) = modules["trigger"].as_array_mut() {
        triggers.push(json!({
            "key": JIRA_TRIGGER,
            "endpoint": EVENTS_ENDPOINT,
            "events": JIRA_EVENTS,
        }));
    }
    if let Some(resources) = manifest["resources"].as_array_mut() {
        resources
            .push(json!({"key": ISSUE_PANEL_VIEW, "path": format!("build/{ISSUE_PANEL_VIEW}")}));
    }
    if let Some(scopes) = manifest["permissions"]["scopes"].as_array_mut() {
        scopes.extend(JIRA_SCOPES.iter().map(|s| Value::from(*s)));
    }
}

/// The app icon on our remote (`SITE_URL` + the icon path the descriptor names).
pub(super) fn icon_url(site_url: &str) -> String {
    format!("{}{}", site_url.trim_end_matches('/'), paths::ICON)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jira_is_optional_beside_confluence_and_its_parts_name_our_endpoints() {
        let mut m = json!({"app": {}, "modules": {"trigger": [{"key": "t"}]}, "resources": [],
                           "permissions": {"scopes": ["read:app-system-token"]}});
        add_jira(&mut m, &icon_url("https://todo.example.com/"));
        assert_eq!(m["app"]["compatibility"]["confluence"]["required"], true);
        assert_eq!(m["app"]["compatibility"]["jira"]["required"], false);
        let panel = &m["modules"]["jira:issuePanel"][0];
        assert_eq!(panel["resolver"]["endpoint"], UI_ENDPOINT);
        assert_eq!(
            panel["icon"],
            "https://todo.example.com/images/confluence/logo_300x300.png"
        );
        assert_eq!(m["modules"]["trigger"][1]["endpoint"], EVENTS_ENDPOINT);
        let values = &m["modules"]["jira:entityProperty"][0]["values"];
        assert_eq!(
            values[0],
            json!({"path": "open", "type": "number", "searchAlias": "todoOpen"})
        );
        assert_eq!(m["permissions"]["scopes"].as_array().unwrap().len(), 4);
    }
}
