//! What a Forge Invocation Token says about the product it came from: Confluence or Jira (one
//! app, one installation, both products on a site), the Jira issue a panel was opened on, and
//! each product's API base URL.
//!
//! Assumption (no Jira token sample is published): a Jira token is shaped like a Confluence one,
//! with `app.apiBaseUrl = https://api.atlassian.com/ex/jira/<cloudId>`,
//! `context.extension = {type, issue: {id, key, …}, project: {id, key, …}}` and, in a
//! multi-product app, `app.installation.contexts = [{name, apiBaseUrl, cloudId}, …]`. Ids may be
//! strings or numbers; anything else there is a bad claim.

use serde_json::Value;

use super::fit::FitError;

/// The Atlassian product a call or an API base URL belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Product {
    Confluence,
    Jira,
}

impl Product {
    /// The name Atlassian uses (`product_type`, `/ex/<name>/`).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Confluence => "confluence",
            Self::Jira => "jira",
        }
    }

    /// The product and cloud id of an API base URL `…/ex/<product>/<cloudId>`.
    pub(crate) fn of_api_base(url: &str) -> Option<(Self, &str)> {
        let trimmed = url.trim_end_matches('/');
        let (head, cloud) = trimmed.rsplit_once('/')?;
        let product = match head.rsplit_once("/ex/")?.1 {
            "confluence" => Self::Confluence,
            "jira" => Self::Jira,
            _ => return None,
        };
        Some((product, cloud))
    }
}

/// The Jira issue a call is about, from the signed token's `context.extension`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JiraIssue {
    /// Stable: stays when the issue moves project.
    pub(crate) id: String,
    /// The key at the time of the call (`PROJ-12`); changes when the issue moves.
    pub(crate) key: String,
    pub(crate) project_id: String,
}

/// The issue in `context.extension`: none when there is no `issue`; a bad claim when it is there
/// but not `{id, key}` with a project id beside it.
pub(crate) fn issue_of_extension(extension: Option<&Value>) -> Result<Option<JiraIssue>, FitError> {
    let bad = FitError::BadClaim("context.extension.issue");
    let Some(issue) = extension.and_then(|e| e.get("issue")) else {
        return Ok(None);
    };
    if issue.is_null() {
        return Ok(None);
    }
    let id = issue.get("id").and_then(id_text).ok_or(bad.clone())?;
    let key = issue
        .get("key")
        .and_then(Value::as_str)
        .filter(|k| valid_key(k))
        .ok_or(bad.clone())?;
    let project_id = extension
        .and_then(|e| e.get("project"))
        .and_then(|p| p.get("id"))
        .and_then(id_text)
        .ok_or(FitError::BadClaim("context.extension.project"))?;
    Ok(Some(JiraIssue {
        id,
        key: key.to_string(),
        project_id,
    }))
}

/// An id as Jira sends it: a string or a number, 1–64 of `[A-Za-z0-9_-]`.
pub(crate) fn id_text(value: &Value) -> Option<String> {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) if n.is_u64() => n.to_string(),
        _ => return None,
    };
    let ok = !text.is_empty()
        && text.len() <= 64
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
    ok.then_some(text)
}

/// An issue key: 1–255 printable ASCII characters without spaces (`PROJ-12`).
fn valid_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= 255 && key.bytes().all(|b| b.is_ascii_graphic())
}

/// The Confluence API base URL of a call: its own `apiBaseUrl` when that is Confluence's, else
/// the Confluence entry of `app.installation.contexts` for the same cloud id (a Jira call of a
/// multi-product app) — so a Jira call never passes its Jira URL, or another site's, off as
/// the site's Confluence one.
pub(crate) fn confluence_api_base(
    api_base_url: Option<&str>,
    installation: Option<&Value>,
) -> Option<String> {
    let of = |url: &str| Product::of_api_base(url).map(|(p, c)| (p, c.to_string()));
    let own = api_base_url.and_then(of);
    if let (Some(url), Some((Product::Confluence, _))) = (api_base_url, &own) {
        return Some(url.to_string());
    }
    let cloud = own.map(|(_, c)| c)?;
    installation?
        .get("contexts")?
        .as_array()?
        .iter()
        .filter_map(|c| c.get("apiBaseUrl")?.as_str())
        .filter(|url| url.len() <= 2048 && url.bytes().all(|b| b.is_ascii_graphic()))
        .find(|url| of(url) == Some((Product::Confluence, cloud.clone())))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_product_and_cloud_id_come_from_the_api_base_url() {
        let cases = [
            (
                "https://api.atlassian.com/ex/jira/c-1",
                Some((Product::Jira, "c-1")),
            ),
            (
                "https://api.atlassian.com/ex/confluence/c-2/",
                Some((Product::Confluence, "c-2")),
            ),
            ("https://api.atlassian.com/ex/bitbucket/c-3", None),
            ("https://api.atlassian.com/c-4", None),
        ];
        for (url, expected) in cases {
            assert_eq!(Product::of_api_base(url), expected, "{url}");
        }
    }

    #[test]
    fn an_issue_is_read_from_the_extension_with_string_or_number_ids() {
        let ext = json!({"type": "jira:issuePanel", "issue": {"id": 10001, "key": "TODO-7", "type": "Task"},
                         "project": {"id": "10000", "key": "TODO"}});
        let issue = issue_of_extension(Some(&ext)).unwrap().unwrap();
        assert_eq!(
            issue,
            JiraIssue {
                id: "10001".into(),
                key: "TODO-7".into(),
                project_id: "10000".into()
            }
        );
        assert_eq!(issue_of_extension(None).unwrap(), None);
        assert_eq!(
            issue_of_extension(Some(&json!({"content": {"id": "1"}}))).unwrap(),
            None
        );
    }

    #[test]
    fn a_malformed_issue_is_a_bad_claim() {
        for ext in [
            json!({"issue": {"key": "A-1"}, "project": {"id": "1"}}),
            json!({"issue": {"id": "1 2", "key": "A-1"}, "project": {"id": "1"}}),
            json!({"issue": {"id": -1, "key": "A-1"}, "project": {"id": "1"}}),
            json!({"issue": {"id": "1", "key": "A 1"}, "project": {"id": "1"}}),
            json!({"issue": {"id": "1", "key": "A-1"}}),
            json!({"issue": "A-1"}),
        ] {
            assert!(issue_of_extension(Some(&ext)).is_err(), "{ext}");
        }
    }

    #[test]
    fn a_jira_call_names_the_confluence_api_base_from_the_installation_contexts() {
        let jira = "https://api.atlassian.com/ex/jira/c-1";
        let confluence = "https://api.atlassian.com/ex/confluence/c-1";
        let installation = json!({"contexts": [
            {"name": "jira", "apiBaseUrl": jira, "cloudId": "c-1"},
            {"name": "confluence", "apiBaseUrl": confluence, "cloudId": "c-1"},
        ]});
        assert_eq!(
            confluence_api_base(Some(jira), Some(&installation)).as_deref(),
            Some(confluence)
        );
        assert_eq!(
            confluence_api_base(Some(confluence), None).as_deref(),
            Some(confluence)
        );
        assert_eq!(
            confluence_api_base(Some(jira), None),
            None,
            "never the Jira one"
        );
        let elsewhere = json!({"contexts": [
            {"name": "confluence", "apiBaseUrl": "https://api.atlassian.com/ex/confluence/c-2"},
        ]});
        assert_eq!(
            confluence_api_base(Some(jira), Some(&elsewhere)),
            None,
            "never another cloud's"
        );
    }
}
