//! The Todo panel on a Jira issue in Chromium, behind the stand-in Forge host with a Jira-shaped
//! context (`extension.issue` and `extension.project`): empty state, add, complete, rename,
//! delete and the "N of M done" line, each checked in the database; the creators' names, asked
//! of Jira's bulk user API as the viewing user after render; the issue's key on the
//! Todo page, linked to the issue; and the error a view without an issue shows.

use serde_json::{Value, json};

use super::View;
use super::{World, add, global_page, li};
use crate::browser::{assert_no_page_errors, names_fill_in, row, save_screenshot, wait_db};

fn issue_panel(extension: Value) -> View {
    View {
        resource: "issue-panel",
        module: json!({"type": "jira:issuePanel", "key": "todo-issue-panel"}),
        context: json!({"moduleKey": "todo-issue-panel", "extension": extension}),
    }
}

fn jira_issue() -> Value {
    json!({
        "type": "jira:issuePanel",
        "issue": {"id": "10001", "key": "TODO-7", "type": "Task", "typeId": "10003"},
        "project": {"id": "10000", "key": "TODO", "type": "software"},
        "isNewToIssue": false,
    })
}

async fn progress_is(w: &World, text: &str) {
    w.session
        .wait_for(
            "the progress line",
            "return document.getElementById('progress').textContent === arguments[0];",
            json!([text]),
        )
        .await;
}

/// The issue id each of these tasks is stored on.
fn issue_ids(w: &World, ids: &[i64]) -> Vec<Option<String>> {
    ids.iter()
        .map(|id| {
            w.conn
                .query_row("SELECT issue_id FROM tasks WHERE id = ?1", [*id], |r| {
                    r.get(0)
                })
                .unwrap()
        })
        .collect()
}

#[actix_web::test]
async fn a_person_keeps_an_issues_todo_list_in_the_jira_panel() {
    let Some(mut w) = World::start().await else {
        return;
    };
    w.open(issue_panel(jira_issue())).await;
    w.session
        .wait_for(
            "the empty state",
            "var e = document.getElementById('empty-state');
             return e && !e.classList.contains('hidden') && e.textContent;",
            json!([]),
        )
        .await;
    let docs = add(&w, "Write the <docs>").await;
    let ship = add(&w, "Ship it").await;
    assert_eq!(
        issue_ids(&w, &[docs.id, ship.id]),
        vec![Some("10001".to_string()); 2]
    );
    progress_is(&w, "0 of 2 done").await;
    let me = w.site.principal.clone().unwrap_or_default();
    let named = [(me.as_str(), "Ada <Lovelace>"); 2];
    names_fill_in(&w.session, "#task-list", &named).await;
    let asked = w
        .session
        .script("return window.__productCalls;", json!([]))
        .await;
    assert_eq!(
        asked,
        json!([format!(
            "jira /rest/api/3/user/bulk?maxResults=1&accountId={me}"
        )]),
        "Jira's bulk user API, as the viewing user, once"
    );
    let order = w
        .session
        .script(
            "return Array.prototype.map.call(document.querySelectorAll('#task-list .title'),
                 function (t) { return t.textContent; });",
            json!([]),
        )
        .await;
    assert_eq!(
        order,
        json!(["Write the <docs>", "Ship it"]),
        "oldest first, markup as text"
    );

    w.click(&format!("{} [data-action=toggle]", li(docs.id)))
        .await;
    wait_db(&w.conn, "the task completed", |c| {
        row(c, docs.id).filter(|r| r.done)
    })
    .await;
    progress_is(&w, "1 of 2 done").await;

    w.click(&format!("{} [data-action=rename]", li(ship.id)))
        .await;
    let field = w
        .session
        .find(&format!("{} form.rename-form input", li(ship.id)))
        .await;
    w.session.clear(&field).await;
    w.session.type_text(&field, "Ship it today").await;
    w.click(&format!("{} [data-action=save]", li(ship.id)))
        .await;
    wait_db(&w.conn, "the renamed task", |c| {
        row(c, ship.id).filter(|r| r.title == "Ship it today")
    })
    .await;
    save_screenshot(&w.session, "forge-issue-panel.png", 720, 320, 1.0).await;

    w.click(&format!("{} [data-action=delete]", li(docs.id)))
        .await;
    wait_db(&w.conn, "the task deleted", |c| {
        row(c, docs.id).is_none().then_some(())
    })
    .await;
    progress_is(&w, "0 of 1 done").await;
    assert_no_page_errors(&w.session, "the issue panel").await;
    let calls = w.host.calls();
    assert!(
        calls.iter().all(|c| c.status < 300
            && (c.path == "/forge/api/issue/tasks" || c.path.starts_with("/forge/api/tasks/"))),
        "the panel calls the issue routes and the task routes only: {calls:?}"
    );

    // The Todo page lists the issue's task with its key, linked to the issue on the site.
    let mut page = global_page();
    page.context["siteUrl"] = json!("https://jira-site.atlassian.net");
    w.open(page).await;
    let link = w
        .session
        .wait_for(
            "the issue key on the Todo page",
            "var a = document.querySelector(arguments[0] + ' a.issue-key');
             return a && [a.textContent, a.getAttribute('href')];",
            json!([li(ship.id)]),
        )
        .await;
    assert_eq!(
        link,
        json!(["TODO-7", "https://jira-site.atlassian.net/browse/TODO-7"])
    );
    assert_no_page_errors(&w.session, "the Todo page with an issue task").await;

    // Opened where there is no issue, the panel says so and shows no list.
    w.open(issue_panel(json!({"type": "jira:issuePanel"})))
        .await;
    let message = w
        .session
        .wait_for(
            "the error message",
            "var m = document.getElementById('message');
             return m && !m.classList.contains('hidden') && m.textContent;",
            json!([]),
        )
        .await;
    assert!(
        message.as_str().unwrap().contains("no Jira issue"),
        "{message}"
    );
    assert_no_page_errors(&w.session, "the issue panel without an issue").await;
    w.session.quit().await;
}
