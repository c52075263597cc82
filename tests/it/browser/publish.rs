//! "Publish to Confluence" on the Connect Todo page: the server renders the page and the page
//! creates it with `AP.request`, as the person using it. The stand-in `AP` answers
//! `POST /rest/api/content` as Confluence does ([`AP_ROUTE`]), or refuses it the way Confluence
//! refuses a user who may not add pages there; the server's own Confluence (the testkit
//! stand-in) must see no page created.

use serde_json::{Value, json};

use super::{World, assert_no_page_errors};

/// The stand-in `AP.request` route for Confluence's content API, one block of `stand_in_ap`:
/// records what the page posts in `window.__created`; answers Confluence's 403 with
/// `window.__refuse` as its message when a test sets it. Routes push onto
/// `window.__apRequestRoutes` and answer through `success`/`error` themselves.
pub(super) const AP_ROUTE: &str = r#"  // --- Publish to Confluence: POST /rest/api/content, as the user ---
  window.__created = [];
  window.__refuse = null;
  window.__apRequestRoutes.push(function (o) {
    if (o.url !== "/rest/api/content") { return false; }
    window.__created.push({ type: o.type, contentType: o.contentType, page: JSON.parse(o.data) });
    var refused = window.__refuse;
    setTimeout(function () {
      if (refused) {
        var text = JSON.stringify({ statusCode: 403, message: refused, reason: "Forbidden" });
        o.error({ status: 403, responseText: text }, "error", "Forbidden");
      } else {
        var page = JSON.stringify({ id: "4242", type: "page", _links: {
          base: "https://browser.example.net/wiki", webui: "/spaces/DOCS/pages/4242" } });
        o.success(page, "success", { status: 200, responseText: page });
      }
    }, 0);
    return true;
  });
  // --- end of Publish to Confluence ---"#;

/// The message box's text once it shows one containing `part`.
const MESSAGE: &str = "var m = document.getElementById('message');
    return m && !m.classList.contains('hidden') && m.textContent.indexOf(arguments[0]) >= 0
        && m.textContent;";

async fn fill(w: &World, css: &str, text: &str) {
    let input = w.session.find(css).await;
    w.session.clear(&input).await;
    w.session.type_text(&input, text).await;
}

async fn created(w: &World) -> Value {
    w.session
        .script("return window.__created;", json!([]))
        .await
}

/// A bad space key is the server's 422 and posts nothing; Confluence's refusal is shown in its
/// own words; then the page the server rendered is posted once (two submits in a row publish
/// one page) and the result links to it. The server itself creates nothing.
pub(super) async fn publish_the_open_tasks(w: &mut World) {
    w.open("/confluence/tasks", Value::Null).await;
    let newest = w.add_through_ui("Ship <v2> & \"more\"").await;

    fill(w, "#publish-space", "no spaces").await;
    w.click("#publish-button").await;
    w.session
        .wait_for("the server's refusal", MESSAGE, json!(["such as DOCS"]))
        .await;
    assert_eq!(created(w).await, json!([]), "nothing posted");

    let refusal = "You do not have permission to add pages to DOCS.";
    w.session
        .script("window.__refuse = arguments[0];", json!([refusal]))
        .await;
    fill(w, "#publish-space", "DOCS").await;
    fill(w, "#publish-title", "From <Connect>").await;
    w.click("#publish-button").await;
    let shown = w
        .session
        .wait_for("Confluence's refusal", MESSAGE, json!([refusal]))
        .await;
    assert_eq!(
        shown,
        json!(format!("Confluence did not create the page: {refusal}"))
    );
    let hidden = "return document.getElementById('publish-result').classList.contains('hidden');";
    assert_eq!(w.session.script(hidden, json!([])).await, json!(true));

    w.session.script("window.__refuse = null;", json!([])).await;
    // Two submits before the first is answered (a double click that beats the disabled button).
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
             return r && !r.classList.contains('hidden') && a
                 && [r.textContent, a.href, a.target];",
            json!([]),
        )
        .await;
    assert_eq!(
        shown,
        json!([
            "Published \u{201c}From <Connect>\u{201d}. Open the page",
            "https://browser.example.net/wiki/spaces/DOCS/pages/4242",
            "_top"
        ])
    );
    let posted = created(w).await;
    assert_eq!(
        posted.as_array().unwrap().len(),
        2,
        "the refused one and one more"
    );
    let post = &posted[1];
    assert_eq!(
        (&post["type"], &post["contentType"]),
        (&json!("POST"), &json!("application/json"))
    );

    // What the page posted is exactly what the server renders for the same request.
    let res = reqwest::Client::new()
        .post(format!("{}/api/publish", w.app.address()))
        .header("Authorization", format!("JWT {}", w.context_token))
        .json(&json!({"space_key": "DOCS", "title": "From <Connect>"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let rendered: Value = res.json().await.unwrap();
    assert_eq!(post["page"], rendered["page"]);
    let storage = post["page"]["body"]["storage"]["value"].as_str().unwrap();
    let item = format!(
        "<li>Ship &lt;v2&gt; &amp; &quot;more&quot; (#{})</li>",
        newest.id
    );
    assert!(storage.contains(&item), "{storage}");
    assert_eq!(post["page"]["title"], "From <Connect>");

    assert!(
        w.confluence.seen_at("/wiki/rest/api/content").is_empty(),
        "the server created no page"
    );
    assert_no_page_errors(&w.session, "the Todo page (publish)").await;
}
