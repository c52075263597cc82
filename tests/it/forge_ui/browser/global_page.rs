//! The Forge Todo page beyond adding and searching: the listing behaviours the Connect Todo
//! page has (paging, filter, reopen, rename) and "Publish to Confluence" through the bridge's
//! `requestConfluence` (answered by the stand-in host, `host::PUBLISH_ROUTE`).

use serde_json::json;

use super::{World, global_page, li};
use crate::browser::{Row, assert_no_page_errors, ids_in, row, save_screenshot, wait_db};

/// The listing behaviours of the Connect Todo page on a site with thousands of tasks: "Show
/// more" pages on from `next_before` (newest first, no task twice), the Open/Done filter, a
/// task reopened and completed again, and a rename cancelled with Escape and then saved — each
/// checked in the database.
pub(super) async fn page_filter_reopen_and_rename(w: &mut World, done: &Row) {
    w.open(global_page()).await;
    let count = "return document.querySelectorAll('#task-list li').length === arguments[0]
                     && !document.getElementById('more').classList.contains('hidden');";
    w.session
        .wait_for("the first page", count, json!([50]))
        .await;
    w.click("#more").await;
    w.session
        .wait_for("the second page", count, json!([100]))
        .await;
    let listed = w.session.script(&ids_in("#task-list"), json!([])).await;
    let newest: Vec<String> = w
        .conn
        .rows("SELECT id FROM tasks ORDER BY id DESC LIMIT 100", ())
        .unwrap()
        .iter()
        .map(|r| r.get::<i64>(0).unwrap().to_string())
        .collect();
    assert_eq!(
        listed,
        json!(newest),
        "the newest 100, in order, none twice"
    );

    let message = "return document.getElementById('message').textContent === arguments[0];";
    let newest: i64 = newest[0].parse().unwrap();
    let before = row(&w.conn, newest).unwrap();
    let rename = format!("{} [data-action=rename]", li(newest));
    let input = format!("{} form.rename-form input", li(newest));
    w.click(&rename).await;
    let field = w.session.find(&input).await;
    w.session.type_text(&field, " changed\u{E00C}").await;
    let shown = w
        .session
        .wait_for(
            "the rename to be cancelled",
            "return !document.querySelector(arguments[0] + ' form')
                 && document.querySelector(arguments[0] + ' .title').textContent;",
            json!([li(newest)]),
        )
        .await;
    assert_eq!(shown, json!(before.title));
    assert_eq!(row(&w.conn, newest), Some(before), "Escape writes nothing");
    w.click(&rename).await;
    let field = w.session.find(&input).await;
    w.session.clear(&field).await;
    w.session.type_text(&field, "Water the <plants>").await;
    w.click(&format!("{} [data-action=save]", li(newest))).await;
    wait_db(&w.conn, "the renamed title", |c| {
        row(c, newest).filter(|r| r.title == "Water the <plants>")
    })
    .await;
    w.session
        .wait_for("the rename message", message, json!(["Task renamed."]))
        .await;

    let set_filter = "var f = document.getElementById('filter'); f.value = arguments[0];
                      f.dispatchEvent(new Event('change')); return true;";
    let only = "var ids = Array.prototype.map.call(document.querySelectorAll('#task-list li'),
                    function (li) { return li.getAttribute('data-id'); });
                return ids.length === 1 && ids[0] === arguments[0];";
    w.session.script(set_filter, json!(["true"])).await;
    let id = done.id.to_string();
    w.session
        .wait_for("the done filter", only, json!([id]))
        .await;
    let toggle = format!("{} [data-action=toggle]", li(done.id));
    w.click(&toggle).await;
    wait_db(&w.conn, "the task reopened", |c| {
        row(c, done.id).filter(|r| !r.done)
    })
    .await;
    w.session
        .wait_for("the reopen message", message, json!(["Task reopened."]))
        .await;
    w.click(&toggle).await;
    wait_db(&w.conn, "the task completed again", |c| {
        row(c, done.id).filter(|r| r.done)
    })
    .await;
    w.session
        .wait_for("the complete message", message, json!(["Task completed."]))
        .await;
    w.session.script(set_filter, json!(["false"])).await;
    w.session
        .wait_for(
            "the open filter",
            "return document.querySelectorAll('#task-list li').length === 50
                 && document.querySelector(arguments[0]) === null;",
            json!([li(done.id)]),
        )
        .await;

    assert_no_page_errors(&w.session, "the Todo page (paging, filter, rename)").await;
}

/// "Publish to Confluence" on the Todo page: the server renders the page (a bad space key is
/// its 422, nothing posted) and the page creates it with `requestConfluence`, as the user;
/// Confluence's refusal is shown in its own words; two submits in a row publish one page, and
/// the result links to it. The server needs no app system token for any of it and calls nobody.
pub(super) async fn publish_the_open_tasks(w: &mut World) {
    w.open(global_page()).await;
    w.session.find("#task-list li").await;
    let message = "var m = document.getElementById('message');
                   return m && !m.classList.contains('hidden') && m.textContent.indexOf(arguments[0]) >= 0
                       && m.textContent;";
    let created = "return window.__created;";
    w.type_into("#publish-space", "no spaces").await;
    w.click("#publish-button").await;
    w.session
        .wait_for("the server's refusal", message, json!(["such as DOCS"]))
        .await;
    assert_eq!(w.session.script(created, json!([])).await, json!([]));

    let refusal = "You do not have permission to add pages to DOCS.";
    w.session
        .script("window.__refuse = arguments[0];", json!([refusal]))
        .await;
    w.type_into("#publish-space", "DOCS").await;
    w.type_into("#publish-title", "From <Forge>").await;
    w.click("#publish-button").await;
    let shown = w
        .session
        .wait_for("Confluence's refusal", message, json!([refusal]))
        .await;
    assert_eq!(
        shown,
        json!(format!("Confluence did not create the page: {refusal}"))
    );

    w.session.script("window.__refuse = null;", json!([])).await;
    w.session
        .script(
            "var f = document.getElementById('publish-form');
             f.dispatchEvent(new Event('submit', { cancelable: true }));
             f.dispatchEvent(new Event('submit', { cancelable: true }));",
            json!([]),
        )
        .await;
    let shown = w
        .session
        .wait_for(
            "the published page",
            "var r = document.getElementById('publish-result');
             var a = r && r.querySelector('a');
             return r && !r.classList.contains('hidden') && a && [r.textContent, a.href];",
            json!([]),
        )
        .await;
    assert_eq!(
        shown,
        json!([
            "Published \u{201c}From <Forge>\u{201d}. Open the page",
            "https://forge.example.net/wiki/spaces/DOCS/pages/4242"
        ])
    );
    let posted = w.session.script(created, json!([])).await;
    assert_eq!(
        posted.as_array().unwrap().len(),
        2,
        "the refused one and one more"
    );
    let post = &posted[1];
    assert_eq!(
        (&post["product"], &post["method"]),
        (&json!("confluence"), &json!("POST"))
    );
    let headers = post["headers"].as_array().unwrap();
    assert!(
        headers.contains(&json!(["content-type", "application/json"])),
        "{headers:?}"
    );
    // Exactly what the server renders for the same request.
    let body = Some(json!({"space_key": "DOCS", "title": "From <Forge>"}));
    let (status, rendered) = w
        .host
        .call_as(&w.site, reqwest::Method::POST, "/forge/api/publish", body)
        .await;
    assert_eq!(status, 200);
    assert_eq!(post["page"], rendered["page"]);
    let storage = post["page"]["body"]["storage"]["value"].as_str().unwrap();
    assert!(
        storage.contains("<li>Water the &lt;plants&gt; (#"),
        "the newest open task: {storage}"
    );
    assert!(
        storage.contains("Only the newest 500 open tasks are listed."),
        "{storage}"
    );
    assert!(!storage.contains("Buy milk"), "done: {storage}");
    assert!(
        w.confluence.host.seen().is_empty(),
        "the server called nobody"
    );
    assert_no_page_errors(&w.session, "the Todo page (publish)").await;
    // A short list for the picture: the form and its result in view.
    w.type_into("#search", "plants").await;
    w.session
        .wait_for(
            "the one match",
            "return document.querySelectorAll('#task-list li').length === 1;",
            json!([]),
        )
        .await;
    save_screenshot(&w.session, "forge-global-page-published.png", 960, 460, 1.0).await;
}
