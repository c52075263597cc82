//! The Custom UI in a real browser: headless Chromium opens each view built from `forge/`
//! (`scripts/forge-ui.sh`), served by the stand-in Forge host, whose bridge forwards every
//! `invokeRemote` to the real binary's `/forge/api/...` with a token minted by the harness.
//! Each UI action is checked in SQLite; screenshots land in `target/screenshots/`.

use serde_json::{Value, json};

use super::host::{ForgeHost, View};
use super::ui_build;
use crate::browser::webdriver::{Driver, Session, require_browser};
use crate::browser::{
    Row, assert_no_page_errors, browser_args, ids_in, inject_ap, names_fill_in, row, rows,
    save_screenshot, wait_db,
};
use crate::calls_back::publish::system_token;
use crate::calls_back::stand_in::StandIn;
use crate::harness::*;
use global_page::{page_filter_reopen_and_rename, publish_the_open_tasks};

mod global_page;
mod issue_panel;

/// The page the macro sits on (its `content.id`).
const PAGE_ID: &str = "4242";

/// Everything one test needs; fields drop in order (browser, driver, host, then the server).
pub(super) struct World {
    pub(super) session: Session,
    _driver: Driver,
    _profile: tempfile::TempDir,
    stand_in: Option<Value>,
    pub(super) host: ForgeHost,
    pub(super) conn: TestDb,
    pub(super) site: ForgeSite,
    /// The site's Confluence behind its `apiBaseUrl` (it records every call the server makes).
    confluence: StandIn,
    _server: Server,
    _jwks: JwksServer,
    _dir: tempfile::TempDir,
}

impl World {
    /// The real binary with Forge on, the stand-in host in front of the built UI, a browser.
    /// `None` (reported as skipped) where the browser or the built Custom UI is missing.
    pub(super) async fn start() -> Option<Self> {
        require_browser()?;
        let build = skip::require(ui_build())?;
        let jwks = JwksServer::start();
        let dir = tempfile::tempdir().unwrap();
        let db_path = dir.path().join("todo.sqlite3");
        let mut bin = Binary::test(dir.path(), &db_path);
        for (key, value) in forge_env(&jwks) {
            bin = bin.env(key, value);
        }
        let server = bin.serve();
        let confluence = StandIn::start("forge-ui");
        let site = confluence.forge_site(&system_token());
        let host = ForgeHost::start(build, server.address(), site.clone());
        let driver = Driver::start().await;
        let profile = tempfile::tempdir().unwrap();
        let session = driver.session(&browser_args(profile.path())).await;
        Some(Self {
            session,
            _driver: driver,
            _profile: profile,
            stand_in: None,
            host,
            conn: TestDb::at(&db_path),
            site,
            confluence,
            _server: server,
            _jwks: jwks,
            _dir: dir,
        })
    }

    /// Opens a view as Confluence would: a fresh bridge for its context, then the page.
    pub(super) async fn open(&mut self, view: View) {
        let (url, script) = self.host.open(view);
        let previous = self.stand_in.take();
        self.stand_in = Some(inject_ap(&self.session, previous, script).await);
        self.session.goto(&url).await;
    }

    pub(super) async fn click(&self, css: &str) {
        self.session.click(&self.session.find(css).await).await;
    }

    async fn type_into(&self, css: &str, text: &str) {
        let input = self.session.find(css).await;
        self.session.clear(&input).await;
        self.session.type_text(&input, text).await;
    }

    /// The titles the Todo page lists, top to bottom.
    async fn listed_titles(&self) -> Value {
        self.session
            .script(
                "return Array.prototype.map.call(document.querySelectorAll('#task-list .title'),
                     function (t) { return t.textContent; });",
                json!([]),
            )
            .await
    }

    /// What the page handed to `view.submit`, once it has.
    pub(super) async fn submitted(&self) -> Value {
        self.session
            .wait_for(
                "view.submit",
                "return window.__submitted.length > 0 && window.__submitted;",
                json!([]),
            )
            .await
    }
}

fn li(id: i64) -> String {
    format!("#task-list li[data-id=\"{id}\"]")
}

fn global_page() -> View {
    View {
        resource: "global-page",
        module: json!({"type": "confluence:globalPage", "key": "todo-global-page"}),
        context: json!({"moduleKey": "todo-global-page", "extension": {"type": "confluence:globalPage"}}),
    }
}

fn macro_view(resource: &'static str, config: Value) -> View {
    View {
        resource,
        module: json!({"type": "xen:macro", "key": "todo-task"}),
        context: json!({
            "moduleKey": "todo-task",
            "localId": "macro-local-1",
            "extension": {
                "type": "macro",
                "config": config,
                "content": {"id": PAGE_ID, "type": "page"},
                "isEditing": resource == "macro-config",
            },
        }),
    }
}

/// Adds a task through the Todo page and returns its row once stored.
async fn add(w: &World, title: &str) -> Row {
    w.type_into("#new-title", title).await;
    w.click("#add-button").await;
    let stored = wait_db(&w.conn, &format!("a task titled {title:?}"), |c| {
        rows(c).into_iter().find(|r| r.title == title)
    })
    .await;
    w.session.find(&li(stored.id)).await;
    stored
}

/// The Todo page: add (stored for the token's user, markup shown as text), complete, search,
/// delete, each checked in the database.
async fn manage_tasks_on_the_global_page(w: &mut World) -> (Row, Row) {
    w.open(global_page()).await;
    w.session
        .wait_for(
            "the empty state",
            "var e = document.getElementById('empty-state');
             return e && !e.classList.contains('hidden') && e.textContent;",
            json!([]),
        )
        .await;
    let milk = add(w, "Buy milk").await;
    let principal = w.site.principal.clone();
    assert_eq!(
        milk,
        Row {
            id: milk.id,
            title: "Buy milk".into(),
            done: false,
            created_by: principal,
            page_id: None
        }
    );
    let demo = add(w, "Book a room for the <b>Friday</b> demo & more").await;
    let gone = add(w, "Throw this one away").await;
    assert_eq!(
        w.listed_titles().await,
        json!([
            "Throw this one away",
            "Book a room for the <b>Friday</b> demo & more",
            "Buy milk"
        ]),
        "newest first, markup shown as text"
    );
    let bold = w
        .session
        .script(
            "return document.querySelectorAll('#task-list b').length;",
            json!([]),
        )
        .await;
    assert_eq!(bold, json!(0), "no markup from a title reaches the DOM");

    w.click(&format!("{} [data-action=toggle]", li(milk.id)))
        .await;
    wait_db(&w.conn, "the task completed", |c| {
        row(c, milk.id).filter(|r| r.done)
    })
    .await;
    w.session.find(&format!("{}.done", li(milk.id))).await;

    w.type_into("#search", "room").await;
    w.session
        .wait_for(
            "the search to narrow the list",
            "return document.querySelectorAll('#task-list li').length === 1
                 && document.querySelector(arguments[0]) !== null;",
            json!([li(demo.id)]),
        )
        .await;
    let searched = w.host.calls().into_iter().any(|c| {
        c.method == "GET" && c.path.starts_with("/forge/api/tasks?") && c.path.contains("q=room")
    });
    assert!(
        searched,
        "the search was the server's: {:?}",
        w.host.calls()
    );
    w.session
        .script(
            "var s = document.getElementById('search'); s.value = '';
             s.dispatchEvent(new Event('input')); return true;",
            json!([]),
        )
        .await;
    w.session
        .wait_for(
            "the full list again",
            "return document.querySelectorAll('#task-list li').length === 3;",
            json!([]),
        )
        .await;

    w.click(&format!("{} [data-action=delete]", li(gone.id)))
        .await;
    wait_db(&w.conn, "the task deleted", |c| {
        row(c, gone.id).is_none().then_some(())
    })
    .await;
    w.session
        .wait_for(
            "the row to leave the list",
            "return document.querySelector(arguments[0]) === null;",
            json!([li(gone.id)]),
        )
        .await;
    assert_eq!(rows(&w.conn).len(), 2, "nothing else was written");
    let me = w.site.principal.clone().unwrap_or_default();
    let named = [(me.as_str(), "Ada <Lovelace>"); 2];
    names_fill_in(&w.session, "#task-list", &named).await;
    let asked = w
        .session
        .script("return window.__productCalls;", json!([]))
        .await;
    assert_eq!(
        asked,
        json!([format!("confluence /wiki/rest/api/user?accountId={me}")]),
        "one account, asked once for the page's life"
    );
    assert_no_page_errors(&w.session, "the Forge Todo page").await;
    save_screenshot(&w.session, "forge-global-page.png", 960, 420, 1.0).await;
    let calls = w.host.calls();
    assert!(
        calls
            .iter()
            .all(|c| c.path.starts_with("/forge/api/tasks") && c.status < 300),
        "every call went to the Forge API and succeeded: {calls:?}"
    );
    (row(&w.conn, milk.id).unwrap(), demo)
}

/// The macro configuration: a task created there is stored with the page and its id saved
/// into the macro; an existing macro's task is preselected and saved again.
async fn configure_the_macro(w: &mut World, existing: &Row) -> Row {
    w.open(macro_view("macro-config", json!({}))).await;
    w.session
        .find(&format!("#results li[data-id=\"{}\"]", existing.id))
        .await;
    save_screenshot(&w.session, "forge-macro-config.png", 600, 360, 1.0).await;
    w.type_into("#editor-new-title", "Ship the Forge macro")
        .await;
    w.click("#editor-create").await;
    let submitted = w.submitted().await;
    let created = wait_db(&w.conn, "the task created in the config", |c| {
        rows(c)
            .into_iter()
            .find(|r| r.title == "Ship the Forge macro")
    })
    .await;
    assert_eq!(
        submitted,
        json!([{"config": {"id": created.id.to_string()}}])
    );
    assert_eq!(created.page_id.as_deref(), Some(PAGE_ID));
    assert_eq!(created.created_by, w.site.principal);
    assert_no_page_errors(&w.session, "the macro config (create)").await;

    w.open(macro_view(
        "macro-config",
        json!({"id": existing.id.to_string()}),
    ))
    .await;
    w.session
        .find(&format!(
            "#results li[data-id=\"{}\"].selected",
            existing.id
        ))
        .await;
    w.click("#editor-save").await;
    let submitted = w.submitted().await;
    assert_eq!(
        submitted,
        json!([{"config": {"id": existing.id.to_string()}}])
    );
    assert_eq!(rows(&w.conn).len(), 3, "picking a task writes nothing");
    assert_no_page_errors(&w.session, "the macro config (pick)").await;
    created
}

/// The macro view shows the configured task as the Connect macro does (markup as text, open
/// or done, the creator); a task that is gone is said to be gone.
async fn render_the_macro(w: &mut World, done: &Row, markup: &Row, created: &Row) {
    w.open(macro_view(
        "macro-view",
        json!({"id": markup.id.to_string()}),
    ))
    .await;
    let shown = w
        .session
        .wait_for(
            "the macro badge",
            "var m = document.querySelector('#content .task-macro');
             return m && [m.getAttribute('data-task-id'), m.querySelector('.badge').textContent,
                          m.querySelector('.state').textContent, m.querySelectorAll('b').length];",
            json!([]),
        )
        .await;
    assert_eq!(
        shown,
        json!([markup.id.to_string(), markup.title, "Open", 0])
    );
    let principal = w.site.principal.clone().unwrap_or_default();
    names_fill_in(&w.session, "#content", &[(&principal, "Ada <Lovelace>")]).await;
    let asked = w
        .session
        .script("return window.__productCalls;", json!([]))
        .await;
    assert_eq!(
        asked,
        json!([format!(
            "confluence /wiki/rest/api/user?accountId={principal}"
        )]),
        "the name was asked of Confluence through the bridge, as the viewing user"
    );
    assert_no_page_errors(&w.session, "the macro").await;

    w.open(macro_view(
        "macro-view",
        json!({"id": created.id.to_string()}),
    ))
    .await;
    let title = w
        .session
        .wait_for(
            "the created task's macro",
            "var b = document.querySelector('#content .task-macro .badge'); return b && b.textContent;",
            json!([]),
        )
        .await;
    assert_eq!(title, json!(created.title));
    names_fill_in(&w.session, "#content", &[(&principal, "Ada <Lovelace>")]).await;
    save_screenshot(&w.session, "forge-macro.png", 420, 32, 2.0).await;

    // A creator Confluence gives this viewer no name for: the neutral word, no page error.
    let mut stranger = w.site.clone();
    stranger.principal = Some("forge-stranger".into());
    let (status, theirs) = w
        .host
        .call_as(
            &stranger,
            reqwest::Method::POST,
            "/forge/api/tasks",
            Some(json!({"title": "Made by someone else"})),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(theirs.get("created_by_name"), None, "{theirs}");
    w.open(macro_view(
        "macro-view",
        json!({"id": theirs["id"].to_string()}),
    ))
    .await;
    names_fill_in(&w.session, "#content", &[("forge-stranger", "someone")]).await;
    assert_no_page_errors(&w.session, "the macro (unknown creator)").await;

    w.open(macro_view("macro-view", json!({"id": done.id.to_string()})))
        .await;
    let state = w
        .session
        .wait_for(
            "the done macro",
            "var m = document.querySelector('#content .task-macro .state.done'); return m && m.textContent;",
            json!([]),
        )
        .await;
    assert_eq!(state, json!("Done"));

    w.open(macro_view("macro-view", json!({"id": "999999"})))
        .await;
    let note = w
        .session
        .wait_for(
            "the missing-task note",
            "var n = document.querySelector('#content .macro-note'); return n && !n.id && n.textContent;",
            json!([]),
        )
        .await;
    assert_eq!(note, json!("That task no longer exists."));
    assert_no_page_errors(&w.session, "the macro (missing task)").await;
}

/// A search whose one match is older than the 5,000 tasks one request examines: the macro
/// config and the Todo page go on from where the server stopped and list it.
async fn a_search_finds_a_task_behind_5000_newer_ones(w: &mut World) {
    w.open(global_page()).await;
    let needle = add(w, "Zebra crossing").await;
    let site: i64 = w
        .conn
        .query_row(
            "SELECT site_id FROM tasks WHERE id = ?1",
            [needle.id],
            |r| r.get(0),
        )
        .unwrap();
    w.conn.fill_tasks(site, 5100, "newer task number ");

    w.open(macro_view("macro-config", json!({}))).await;
    w.type_into("#editor-search", "Zebra").await;
    w.session
        .find(&format!("#results li[data-id=\"{}\"]", needle.id))
        .await;
    let listed = w.session.script(&ids_in("#results"), json!([])).await;
    assert_eq!(
        listed,
        json!([needle.id.to_string()]),
        "the config lists it"
    );
    assert_no_page_errors(&w.session, "the macro config (deep search)").await;

    w.open(global_page()).await;
    w.type_into("#search", "Zebra").await;
    w.session.find(&li(needle.id)).await;
    let listed = w.session.script(&ids_in("#task-list"), json!([])).await;
    assert_eq!(
        listed,
        json!([needle.id.to_string()]),
        "the Todo page lists it"
    );
    assert_no_page_errors(&w.session, "the Todo page (deep search)").await;
}

#[actix_web::test]
async fn a_person_uses_the_forge_custom_ui_in_a_real_browser() {
    let Some(mut w) = World::start().await else {
        return;
    };
    let (done, markup) = manage_tasks_on_the_global_page(&mut w).await;
    let created = configure_the_macro(&mut w, &markup).await;
    render_the_macro(&mut w, &done, &markup, &created).await;
    a_search_finds_a_task_behind_5000_newer_ones(&mut w).await;
    page_filter_reopen_and_rename(&mut w, &done).await;
    publish_the_open_tasks(&mut w).await;
    w.session.quit().await;
}
