//! A real browser against the real binary: headless Chromium, driven through chromedriver,
//! opens the Todo page and the macro editor served by `todo-connect` started as a subprocess.
//! A stand-in `AP` object (injected before any page script) hands out a context JWT minted for
//! an installed site, records what the editor saves and answers `AP.request` as Confluence
//! would (routes below, one block each); every UI step is checked in SQLite. The site's
//! Confluence, where the server would call, is the testkit stand-in, which records every call.
//! Screenshots of the Todo page, the macro editor and a rendered macro land in
//! `target/screenshots/` (`scripts/screenshots.sh` copies them into docs/screenshots/).

mod publish;
pub mod webdriver;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use webdriver::{Driver, Session, require_browser};

use crate::calls_back::stand_in::StandIn;
use crate::harness::*;

/// The account the stand-in `AP` claims is using Confluence.
const ACCOUNT: &str = "account-browser";
/// How long a database poll waits for the row state a UI action should produce.
const DB_WAIT: Duration = Duration::from_secs(5);

/// Where the screenshots go: `screenshots/` in Cargo's target folder (`CARGO_TARGET_DIR` when
/// set, else `target/` in the package), never into the source tree.
pub fn screenshot_dir() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(|dir| manifest.join(dir))
        .unwrap_or_else(|| manifest.join("target"));
    target.join("screenshots")
}

/// `todo-connect` running as a child process, with a fresh database in a temp folder.
struct RunningApp {
    server: Server,
    db_path: PathBuf,
    _dir: tempfile::TempDir,
}

impl RunningApp {
    fn start(keys: &KeyServer) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db_path = dir.path().join("todo.sqlite3");
        let server = Binary::test(dir.path(), &db_path)
            .env("CONNECT_KEYS_URL", &keys.url)
            .serve();
        Self {
            server,
            db_path,
            _dir: dir,
        }
    }

    fn address(&self) -> String {
        self.server.address()
    }

    fn db(&self) -> TestDb {
        TestDb::at(&self.db_path)
    }

    /// An iframe URL as Confluence builds it: the path and query plus a qsh-bound `jwt`.
    fn iframe_url(&self, site: &Site, path_and_query: &str) -> String {
        let token = site.token("GET", path_and_query);
        let sep = if path_and_query.contains('?') {
            '&'
        } else {
            '?'
        };
        format!("{}{path_and_query}{sep}jwt={token}", self.address())
    }
}

/// A row of `tasks` as the assertions need it.
#[derive(Debug, PartialEq)]
pub struct Row {
    pub id: i64,
    pub title: String,
    pub done: bool,
    pub created_by: Option<String>,
    pub page_id: Option<String>,
}

pub fn rows(conn: &TestDb) -> Vec<Row> {
    conn.rows(
        "SELECT id, title, done, created_by, page_id FROM tasks ORDER BY id",
        (),
    )
    .unwrap()
    .iter()
    .map(|r| Row {
        id: r.get(0).unwrap(),
        title: r.get(1).unwrap(),
        done: r.get(2).unwrap(),
        created_by: r.get(3).unwrap(),
        page_id: r.get(4).unwrap(),
    })
    .collect()
}

pub fn row(conn: &TestDb, id: i64) -> Option<Row> {
    rows(conn).into_iter().find(|r| r.id == id)
}

/// Polls the database until `check` finds the state a UI action should have produced.
/// This is synchronisation with the browser, not a timing assertion: it fails only when the
/// state never appears.
pub async fn wait_db<T>(conn: &TestDb, what: &str, check: impl Fn(&TestDb) -> Option<T>) -> T {
    let found = poll_async(DB_WAIT, async || check(conn)).await;
    found.unwrap_or_else(|| {
        panic!(
            "the database never showed {what}; tasks now: {:?}",
            rows(conn)
        )
    })
}

/// The stand-in for Atlassian's `all.js`: a context token for the site, macro data to hand
/// to the editor, `request` (the routes below), and recorders for what the page asks of
/// Confluence and for page errors.
fn stand_in_ap(context_token: &str, macro_data: &Value) -> String {
    format!(
        r#"(function () {{
  var token = {token};
  var macroData = {macro};
  window.__saved = null;
  window.__closed = false;
{errors}
  window.__apRequestRoutes = [];
  window.__apRequests = [];
{user_lookups}
{publish_route}
  window.AP = {{
    request: function (url, options) {{
      options = typeof url === "object" ? url : Object.assign({{ url: url }}, options || {{}});
      window.__apRequests.push((options.type || "GET") + " " + options.url);
      var handled = window.__apRequestRoutes.some(function (route) {{ return route(options); }});
      if (!handled && options.error) {{
        setTimeout(function () {{ options.error({{ status: 404, responseText: "" }}, "error", "Not Found"); }}, 0);
      }}
    }},
    context: {{
      getToken: function (cb) {{
        setTimeout(function () {{ cb(token); }}, 0);
      }}
    }},
    confluence: {{
      getMacroData: function (cb) {{ setTimeout(function () {{ cb(macroData); }}, 0); }},
      saveMacro: function (params) {{ window.__saved = JSON.parse(JSON.stringify(params)); }},
      closeMacroEditor: function () {{ window.__closed = true; }}
    }},
    resize: function () {{}},
    sizeToParent: function () {{}}
  }};
}})();"#,
        token = Value::String(context_token.to_string()),
        macro = macro_data,
        errors = ERROR_RECORDER,
        user_lookups = ap_request_user_lookups(),
        publish_route = publish::AP_ROUTE,
    )
}

/// The display names the stand-in Confluence knows, by account id; any other account is
/// unknown to it (404).
const USER_NAMES: [(&str, &str); 1] = [(ACCOUNT, "Ada <Lovelace>")];

/// `AP.request`'s user lookups (what js/names-connect.js asks Confluence as the viewing user),
/// one route of the stand-in `AP.request`: `GET /rest/api/user?accountId=…` answered from
/// [`USER_NAMES`] with the user as text JSON through `success`, an unknown account through
/// `error` (404, as Confluence answers). Answers wait until `window.__answerNames()`, so a
/// test sees the page before the names arrive; after that they come at once. (The stand-in
/// records every call in `window.__apRequests`, "GET <url>".)
fn ap_request_user_lookups() -> String {
    let names: serde_json::Map<String, Value> = USER_NAMES
        .iter()
        .map(|(id, name)| (id.to_string(), json!(name)))
        .collect();
    format!(
        r#"  (function () {{
    var userNames = {names};
    var held = [];
    window.__answerNames = function () {{
      var waiting = held || [];
      held = null;
      waiting.forEach(function (answer) {{ answer(); }});
    }};
    window.__apRequestRoutes.push(function (options) {{
      var url = new URL(options.url, "https://site.invalid");
      if ((options.type || "GET") !== "GET" || url.pathname !== "/rest/api/user") {{ return false; }}
      var id = url.searchParams.get("accountId");
      function answer() {{
        if (Object.prototype.hasOwnProperty.call(userNames, id)) {{
          options.success(JSON.stringify({{ accountId: id, displayName: userNames[id], publicName: "ada" }}));
        }} else {{
          options.error({{ status: 404, responseText: "{{}}" }}, "error", "Not Found");
        }}
      }}
      if (held) {{ held.push(answer); }} else {{ setTimeout(answer, 0); }}
      return true;
    }});
  }})();"#,
        names = Value::Object(names),
    )
}

/// Replaces the stand-in script (`AP`, or Forge's bridge) injected into every new document of
/// the session.
pub async fn inject_ap(session: &Session, previous: Option<Value>, source: String) -> Value {
    if let Some(identifier) = previous {
        session
            .cdp(
                "Page.removeScriptToEvaluateOnNewDocument",
                json!({"identifier": identifier}),
            )
            .await;
    }
    session
        .cdp(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({"source": source}),
        )
        .await["identifier"]
        .clone()
}

/// What every stand-in host script (Connect's `AP`, Forge's bridge) starts with: script
/// errors, unhandled rejections and CSP violations recorded in `window.__errors`, which
/// [`assert_no_page_errors`] reads.
pub const ERROR_RECORDER: &str = r#"  window.__errors = [];
  window.addEventListener("error", function (e) { window.__errors.push(String(e.message)); });
  window.addEventListener("unhandledrejection", function (e) {
    window.__errors.push("unhandled rejection: " + String(e.reason));
  });
  document.addEventListener("securitypolicyviolation", function (e) {
    window.__errors.push("CSP violation: " + e.violatedDirective + " " + e.blockedURI);
  });"#;

/// Asserts the page reported no script error, unhandled rejection or CSP violation.
pub async fn assert_no_page_errors(session: &Session, page: &str) {
    let errors = session.script("return window.__errors;", json!([])).await;
    assert_eq!(errors, json!([]), "{page} reported errors");
}

pub fn browser_args(profile: &Path) -> Vec<String> {
    vec![
        "--headless=new".into(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-quic".into(),
        "--no-first-run".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        format!("--user-data-dir={}", profile.display()),
        "--window-size=1200,900".into(),
        // Hermetic: only our server is reachable. Where the network is open, the real Connect
        // JavaScript would otherwise load and replace the stand-in AP.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1".into(),
    ]
}

/// Writes a screenshot of the current page at a given viewport (CSS pixels, scaled) to
/// [`screenshot_dir`].
pub async fn save_screenshot(session: &Session, name: &str, width: u32, height: u32, scale: f64) {
    session
        .cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": scale, "mobile": false}),
        )
        .await;
    let png = session.screenshot().await;
    session
        .cdp("Emulation.clearDeviceMetricsOverride", json!({}))
        .await;
    assert!(png.starts_with(b"\x89PNG"), "{name} is not a PNG");
    let dir = screenshot_dir();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), png).unwrap();
}

/// A script answering the `data-id`s of the items of the list `list` (a CSS selector), in order.
pub fn ids_in(list: &str) -> String {
    format!(
        "return Array.prototype.map.call(document.querySelectorAll('{list} li'),
             function (li) {{ return li.getAttribute('data-id'); }});"
    )
}

fn li(id: i64) -> String {
    format!("#task-list li[data-id=\"{id}\"]")
}

/// The creators' slots under the CSS selector `scope`, in document order: for each
/// `[data-account-id]`, its account id, `aria-busy`, text, `title` and rendered width.
const SLOTS: &str = "return Array.prototype.map.call(
    document.querySelectorAll(arguments[0] + ' [data-account-id]'),
    function (p) { return [p.getAttribute('data-account-id'), p.getAttribute('aria-busy'),
                           p.textContent, p.getAttribute('title'),
                           Math.round(p.getBoundingClientRect().width)]; });";

/// Creators' names filled in by the page after render, as the viewing user: first every slot
/// under `scope` shows the placeholder (`aria-busy="true"`, "loading the name" for screen
/// readers), since the stand-in host holds its answers; then the host answers
/// (`window.__answerNames()`, both stand-ins) and each slot shows `shown` — the name, or the
/// neutral word when the host gave none — in the same width (no layout jump), busy no more.
/// `expected`: (account id, what it shows), one per slot in document order.
pub async fn names_fill_in(session: &Session, scope: &str, expected: &[(&str, &str)]) {
    let ids: Vec<&str> = expected.iter().map(|(id, _)| *id).collect();
    let before = session
        .wait_for(
            "the creators' placeholders",
            &format!(
                "var want = arguments[1];
                 var s = (function () {{ {SLOTS} }}).apply(null, arguments);
                 return s.length === want.length
                     && s.every(function (p, i) {{ return p[0] === want[i] && p[1] === 'true'; }})
                     && s;"
            ),
            json!([scope, ids]),
        )
        .await;
    let before = before.as_array().unwrap().clone();
    for (slot, id) in before.iter().zip(&ids) {
        assert_eq!(slot[0], json!(id));
        assert_eq!(
            slot[1],
            json!("true"),
            "busy until the name arrives: {slot}"
        );
        assert_eq!(slot[2], json!("loading the name"), "{slot}");
        assert!(
            slot[4].as_f64().unwrap() > 0.0,
            "the slot holds its width: {slot}"
        );
    }
    session
        .script("window.__answerNames(); return true;", json!([]))
        .await;
    let after = session
        .wait_for(
            "the creators' names",
            &format!(
                "var s = (function () {{ {SLOTS} }}).apply(null, arguments);
                 return s.length > 0 && s.every(function (p) {{ return p[1] === null; }}) && s;"
            ),
            json!([scope]),
        )
        .await;
    let shown: Vec<Value> = after
        .as_array()
        .unwrap()
        .iter()
        .map(|slot| json!([slot[0], slot[2], slot[3]]))
        .collect();
    let want: Vec<Value> = expected
        .iter()
        .map(|(id, name)| json!([id, name, name]))
        .collect();
    assert_eq!(shown, want, "each creator's name, as text");
    let widths = |slots: &[Value]| slots.iter().map(|s| s[4].clone()).collect::<Vec<_>>();
    assert_eq!(
        widths(after.as_array().unwrap()),
        widths(&before),
        "no layout jump"
    );
}

/// Everything one browser test needs; fields drop in order (browser, driver, then the app).
struct World {
    session: Session,
    _driver: Driver,
    _profile: tempfile::TempDir,
    conn: TestDb,
    site: Site,
    context_token: String,
    stand_in: Option<Value>,
    app: RunningApp,
    /// The site's Confluence: where the server would call (it records every call).
    confluence: StandIn,
    _keys: KeyServer,
}

impl World {
    /// The real binary with one installed site, and a browser session ready to open its pages.
    /// `None` (reported as skipped) where the browser is missing.
    async fn start() -> Option<Self> {
        require_browser()?;
        let keys = KeyServer::start();
        let app = RunningApp::start(&keys);
        let confluence = StandIn::start("browser");
        let site = confluence.site.clone();
        site.install_at(&app.address()).await;
        let driver = Driver::start().await;
        let profile = tempfile::tempdir().unwrap();
        let session = driver.session(&browser_args(profile.path())).await;
        Some(Self {
            session,
            _driver: driver,
            _profile: profile,
            conn: app.db(),
            context_token: site.context_token(ACCOUNT),
            site,
            stand_in: None,
            app,
            confluence,
            _keys: keys,
        })
    }

    /// Opens an iframe page as Confluence would, with a fresh stand-in `AP` whose
    /// `getMacroData` answers `macro_data`.
    async fn open(&mut self, path_and_query: &str, macro_data: Value) {
        let source = stand_in_ap(&self.context_token, &macro_data);
        let previous = self.stand_in.take();
        self.stand_in = Some(inject_ap(&self.session, previous, source).await);
        self.session
            .goto(&self.app.iframe_url(&self.site, path_and_query))
            .await;
    }

    /// Clicks the element a CSS selector finds.
    async fn click(&self, css: &str) {
        self.session.click(&self.session.find(css).await).await;
    }

    /// Adds a task through the Todo page form and returns its database row once stored.
    async fn add_through_ui(&self, title: &str) -> Row {
        let input = self.session.find("#new-title").await;
        self.session.clear(&input).await;
        self.session.type_text(&input, title).await;
        self.click("#add-button").await;
        let stored = wait_db(&self.conn, &format!("a task titled {title:?}"), |c| {
            rows(c).into_iter().find(|r| r.title == title)
        })
        .await;
        self.session.find(&li(stored.id)).await;
        stored
    }

    /// Ticks or unticks a task's checkbox and waits for the database and the row to agree.
    async fn toggle(&self, id: i64, done: bool) {
        self.click(&format!("{} [data-action=toggle]", li(id)))
            .await;
        wait_db(&self.conn, &format!("task {id} with done={done}"), |c| {
            row(c, id).filter(|r| r.done == done)
        })
        .await;
        let state = if done { ".done" } else { ":not(.done)" };
        self.session.find(&format!("{}{state}", li(id))).await;
    }
}

/// Add, rename (cancelled, then for real), complete, reopen and delete one task, checking each
/// step in the database. Returns the id of the deleted task.
async fn manage_a_task_on_the_todo_page(w: &mut World) -> i64 {
    let added = add_the_first_task(w).await;
    let id = added.id;
    rename_a_task(w, added).await;
    w.toggle(id, true).await;
    w.toggle(id, false).await;

    w.click(&format!("{} [data-action=delete]", li(id))).await;
    wait_db(&w.conn, "the task deleted", |c| {
        row(c, id).is_none().then_some(())
    })
    .await;
    w.session
        .wait_for(
            "the list to be empty again",
            "return document.querySelectorAll('#task-list li').length === 0
                 && !document.getElementById('empty-state').classList.contains('hidden');",
            json!([]),
        )
        .await;
    assert!(rows(&w.conn).is_empty(), "nothing else was written");
    assert_no_page_errors(&w.session, "the Todo page").await;
    id
}

/// The empty Todo page, then a first task added through its form: stored for the token's
/// site and account.
async fn add_the_first_task(w: &mut World) -> Row {
    w.open("/confluence/tasks", Value::Null).await;
    w.session
        .wait_for(
            "the empty state",
            "var e = document.getElementById('empty-state');
             return e && !e.classList.contains('hidden') && e.textContent;",
            json!([]),
        )
        .await;

    let added = w.add_through_ui("Buy milk").await;
    let expected = Row {
        id: added.id,
        title: "Buy milk".into(),
        done: false,
        created_by: Some(ACCOUNT.into()),
        page_id: None,
    };
    assert_eq!(added, expected);
    let (owner, installation): (i64, i64) = w
        .conn
        .query_row(
            "SELECT t.site_id, j.id FROM tasks t, jwt_tokens j
             WHERE t.id = ?1 AND j.client_key = ?2",
            vals![added.id, w.site.client_key],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(owner, installation, "the task belongs to the token's site");
    added
}

/// Rename, first cancelled with Escape (nothing written, the title comes back), then for real;
/// a second click on Rename while editing keeps the one form.
async fn rename_a_task(w: &mut World, task: Row) {
    let id = task.id;
    let rename = format!("{} [data-action=rename]", li(id));
    let rename_input = format!("{} form.rename-form input", li(id));
    w.click(&rename).await;
    let input = w.session.find(&rename_input).await;
    w.session.type_text(&input, " and bread\u{E00C}").await;
    let shown = w
        .session
        .wait_for(
            "the rename to be cancelled",
            "return !document.querySelector(arguments[0] + ' form')
                 && document.querySelector(arguments[0] + ' .title').textContent;",
            json!([li(id)]),
        )
        .await;
    assert_eq!(shown, "Buy milk");
    assert_eq!(row(&w.conn, id), Some(task));

    w.click(&rename).await;
    w.click(&rename).await;
    let forms = w
        .session
        .script(
            "return document.querySelectorAll(arguments[0] + ' form').length;",
            json!([li(id)]),
        )
        .await;
    assert_eq!(forms, json!(1));
    let input = w.session.find(&rename_input).await;
    w.session.clear(&input).await;
    w.session.type_text(&input, "Buy oat milk").await;
    w.click(&format!("{} [data-action=save]", li(id))).await;
    let renamed = wait_db(&w.conn, "the renamed title", |c| {
        row(c, id).filter(|r| r.title == "Buy oat milk")
    })
    .await;
    assert!(!renamed.done);
    let shown = w
        .session
        .wait_for(
            "the new title in the list",
            "var t = document.querySelector(arguments[0] + ' .title'); return t && t.textContent;",
            json!([li(id)]),
        )
        .await;
    assert_eq!(shown, "Buy oat milk");
}

/// Three tasks, one done, newest first and markup shown as text; the Todo page screenshot.
/// Returns the oldest (done) task.
async fn fill_the_todo_page(w: &mut World) -> Row {
    let first = w.add_through_ui("Write the launch post").await;
    w.add_through_ui("Review the descriptor with security")
        .await;
    w.add_through_ui("Book a room for the <Friday> demo").await;
    w.toggle(first.id, true).await;
    let titles = w
        .session
        .script(
            "return Array.prototype.map.call(document.querySelectorAll('#task-list .title'),
                 function (t) { return t.textContent; });",
            json!([]),
        )
        .await;
    let expected = json!([
        "Book a room for the <Friday> demo",
        "Review the descriptor with security",
        "Write the launch post"
    ]);
    assert_eq!(titles, expected, "newest first, markup shown as text");
    w.session
        .script("window.__answerNames(); return true;", json!([]))
        .await;
    w.session
        .wait_for(
            "the creators' names",
            "return !document.querySelector('#task-list [aria-busy]');",
            json!([]),
        )
        .await;
    assert_no_page_errors(&w.session, "the Todo page").await;
    save_screenshot(&w.session, "todo-page.png", 960, 520, 1.0).await;
    first
}

/// With the list filtered to done tasks, a new (open) task is stored but not shown; clearing
/// the filter shows it.
async fn adding_under_a_filter_shows_only_matches(w: &mut World, done: i64) {
    let set_filter = "var f = document.getElementById('filter'); f.value = arguments[0];
                      f.dispatchEvent(new Event('change')); return true;";
    w.session.script(set_filter, json!(["true"])).await;
    let only_done = format!(
        "var ids = Array.prototype.map.call(document.querySelectorAll('#task-list li'),
             function (li) {{ return li.getAttribute('data-id'); }});
         return ids.length === 1 && ids[0] === '{done}';"
    );
    w.session
        .wait_for("the done filter", &only_done, json!([]))
        .await;
    let input = w.session.find("#new-title").await;
    w.session.type_text(&input, "Send the release notes").await;
    w.click("#add-button").await;
    let stored = wait_db(&w.conn, "the task added under a filter", |c| {
        rows(c)
            .into_iter()
            .find(|r| r.title == "Send the release notes")
    })
    .await;
    assert!(!stored.done);
    w.session
        .wait_for(
            "the confirmation under the filter",
            "return document.getElementById('message').textContent === 'Task added.';",
            json!([]),
        )
        .await;
    let still_only_done = w.session.script(&only_done, json!([])).await;
    assert_eq!(
        still_only_done,
        json!(true),
        "an open task is not listed under the done filter"
    );
    w.session.script(set_filter, json!([""])).await;
    w.session.find(&li(stored.id)).await;
}

/// The macro editor on page 12345: a task created there is saved into the macro.
async fn create_a_task_in_the_macro_editor(w: &mut World, listed: i64) -> Row {
    w.open("/confluence/macro_editor?page_id=12345", Value::Null)
        .await;
    w.session
        .find(&format!("#results li[data-id=\"{listed}\"]"))
        .await;
    save_screenshot(&w.session, "macro-editor.png", 600, 360, 1.0).await;
    let input = w.session.find("#editor-new-title").await;
    w.session.type_text(&input, "Ship the macro editor").await;
    w.click("#editor-create").await;
    let saved = w
        .session
        .wait_for(
            "saveMacro to be called",
            "return window.__saved;",
            json!([]),
        )
        .await;
    let created = wait_db(&w.conn, "the task created in the editor", |c| {
        rows(c)
            .into_iter()
            .find(|r| r.title == "Ship the macro editor")
    })
    .await;
    assert_eq!(saved, json!({"id": created.id.to_string()}));
    assert_eq!(created.page_id.as_deref(), Some("12345"));
    assert_eq!(created.created_by.as_deref(), Some(ACCOUNT));
    let closed = w.session.script("return window.__closed;", json!([])).await;
    assert_eq!(closed, json!(true), "the editor closes after saving");
    assert_no_page_errors(&w.session, "the macro editor (create)").await;
    created
}

/// Editing an existing macro preselects its task, also one older than the first result page,
/// and Insert saves it again.
async fn editing_a_macro_preselects_its_task(w: &mut World, older: i64, recent: i64) {
    // 18 more tasks: the editor's first page (20 newest) holds `recent` but not `older`.
    let client = reqwest::Client::new();
    for n in 0..18 {
        let res = client
            .post(format!("{}/api/tasks", w.app.address()))
            .header("Authorization", format!("JWT {}", w.context_token))
            .json(&json!({"title": format!("Filler task {n}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
    }
    for existing in [older, recent] {
        let macro_data = json!({"id": existing.to_string()});
        w.open("/confluence/macro_editor?page_id=12345", macro_data)
            .await;
        w.session
            .find(&format!("#results li[data-id=\"{existing}\"].selected"))
            .await;
        let selected = w
            .session
            .script(
                "return Array.prototype.map.call(document.querySelectorAll('#results li.selected'),
                     function (li) { return li.getAttribute('data-id'); });",
                json!([]),
            )
            .await;
        assert_eq!(selected, json!([existing.to_string()]), "one task selected");
        w.click("#editor-save").await;
        let saved = w
            .session
            .wait_for(
                "saveMacro after Insert",
                "return window.__saved;",
                json!([]),
            )
            .await;
        assert_eq!(saved, json!({"id": existing.to_string()}));
        assert_no_page_errors(&w.session, "the macro editor (edit)").await;
    }
}

/// A macro whose task was deleted: nothing is preselected and the person is told why.
async fn a_macro_of_a_deleted_task_preselects_nothing(w: &mut World, deleted: i64) {
    let macro_data = json!({"id": deleted.to_string()});
    w.open("/confluence/macro_editor?page_id=12345", macro_data)
        .await;
    let message = w
        .session
        .wait_for(
            "the missing-task message",
            "var m = document.getElementById('message');
             return !m.classList.contains('hidden') && m.textContent;",
            json!([]),
        )
        .await;
    let text = message.as_str().unwrap_or_default();
    assert!(text.contains("no longer exists"), "{message}");
    w.session.find("#results li").await;
    let state = w
        .session
        .script(
            "return [document.querySelectorAll('#results li.selected').length,
                     document.getElementById('editor-save').disabled];",
            json!([]),
        )
        .await;
    assert_eq!(state, json!([0, true]), "nothing selected, Insert disabled");
    assert_no_page_errors(&w.session, "the macro editor (deleted task)").await;
}

/// The rendered macro and its screenshot (a small viewport, like an inline macro).
async fn render_the_macro(w: &mut World, task: &Row) {
    w.open(&format!("/confluence/get_task?id={}", task.id), Value::Null)
        .await;
    let badge = w
        .session
        .wait_for(
            "the macro badge",
            "var b = document.querySelector('#content aui-badge'); return b && b.textContent;",
            json!([]),
        )
        .await;
    assert_eq!(badge, json!(task.title));
    names_fill_in(&w.session, "#content", &[(ACCOUNT, "Ada <Lovelace>")]).await;
    let asked = w
        .session
        .script("return window.__apRequests;", json!([]))
        .await;
    assert_eq!(
        asked,
        json!([format!("GET /rest/api/user?accountId={ACCOUNT}")]),
        "the name was asked of the host, as the viewing user"
    );
    assert_no_page_errors(&w.session, "the macro").await;
    save_screenshot(&w.session, "macro.png", 420, 32, 2.0).await;
}

/// Creators' names are the page's: the server's HTML and JSON carry the account id and no
/// name; an account the host does not give a name for (unknown, or hidden from this viewer)
/// shows the neutral word without a page error; the Todo page fills every row's creator,
/// asking the host once per account.
async fn names_are_filled_in_by_the_page(w: &mut World, task: &Row) {
    let client = reqwest::Client::new();
    let macro_path = format!("/confluence/get_task?id={}", task.id);
    let html = client
        .get(w.app.iframe_url(&w.site, &macro_path))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(&format!(r#"data-account-id="{ACCOUNT}""#)),
        "{html}"
    );
    assert!(
        !html.contains("Lovelace"),
        "no name in the server's HTML: {html}"
    );
    let list = client
        .get(format!("{}/api/tasks?limit=200", w.app.address()))
        .header("Authorization", format!("JWT {}", w.context_token))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        list.contains(&format!(r#""created_by":"{ACCOUNT}""#)),
        "{list}"
    );
    assert!(
        !list.contains("Lovelace") && !list.contains("created_by_name"),
        "no name in the server's JSON: {list}"
    );

    let stranger = "account-stranger";
    let res = client
        .post(format!("{}/api/tasks", w.app.address()))
        .header(
            "Authorization",
            format!("JWT {}", w.site.context_token(stranger)),
        )
        .json(&json!({"title": "Made by someone else"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let theirs = res.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    w.open(&format!("/confluence/get_task?id={theirs}"), Value::Null)
        .await;
    names_fill_in(&w.session, "#content", &[(stranger, "someone")]).await;
    assert_no_page_errors(&w.session, "the macro (unknown creator)").await;

    w.open("/confluence/tasks", Value::Null).await;
    let mut shown: Vec<Row> = rows(&w.conn);
    shown.sort_by_key(|r| -r.id);
    shown.truncate(50);
    let expected: Vec<(&str, &str)> = shown
        .iter()
        .map(|r| match r.created_by.as_deref() {
            Some(ACCOUNT) => (ACCOUNT, "Ada <Lovelace>"),
            _ => (stranger, "someone"),
        })
        .collect();
    names_fill_in(&w.session, "#task-list", &expected).await;
    let asked = w
        .session
        .script("return window.__apRequests.slice().sort();", json!([]))
        .await;
    assert_eq!(
        asked,
        json!([
            format!("GET /rest/api/user?accountId={ACCOUNT}"),
            format!("GET /rest/api/user?accountId={stranger}"),
        ]),
        "each account asked once"
    );
    assert_no_page_errors(&w.session, "the Todo page (names)").await;
}

/// A search whose one match is older than the 5,000 tasks one request examines: the editor
/// and the Todo page go on from where the server stopped (`next_before`) and list it, where
/// showing the first answer alone would say "no results".
async fn a_search_finds_a_task_behind_5000_newer_ones(w: &mut World) {
    let client = reqwest::Client::new();
    let res = client
        .post(format!("{}/api/tasks", w.app.address()))
        .header("Authorization", format!("JWT {}", w.context_token))
        .json(&json!({"title": "Zebra crossing"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let needle = res.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let site: i64 = w
        .conn
        .query_row(
            "SELECT id FROM jwt_tokens WHERE client_key = ?1",
            [&w.site.client_key],
            |r| r.get(0),
        )
        .unwrap();
    w.conn.fill_tasks(site, 5100, "newer task number ");

    w.open("/confluence/macro_editor?page_id=12345", Value::Null)
        .await;
    let search = w.session.find("#editor-search").await;
    w.session.type_text(&search, "Zebra").await;
    w.session
        .find(&format!("#results li[data-id=\"{needle}\"]"))
        .await;
    let listed = w.session.script(&ids_in("#results"), json!([])).await;
    assert_eq!(
        listed,
        json!([needle.to_string()]),
        "the editor lists the match"
    );
    assert_no_page_errors(&w.session, "the macro editor (deep search)").await;

    w.open("/confluence/tasks", Value::Null).await;
    let search = w.session.find("#search").await;
    w.session.type_text(&search, "Zebra").await;
    w.session.find(&li(needle)).await;
    let listed = w.session.script(&ids_in("#task-list"), json!([])).await;
    assert_eq!(
        listed,
        json!([needle.to_string()]),
        "the Todo page lists the match"
    );
    assert_no_page_errors(&w.session, "the Todo page (deep search)").await;
}

#[actix_web::test]
async fn a_person_manages_tasks_and_inserts_a_macro_in_a_real_browser() {
    let Some(mut w) = World::start().await else {
        return;
    };
    let deleted = manage_a_task_on_the_todo_page(&mut w).await;
    let first = fill_the_todo_page(&mut w).await;
    adding_under_a_filter_shows_only_matches(&mut w, first.id).await;
    let created = create_a_task_in_the_macro_editor(&mut w, first.id).await;
    editing_a_macro_preselects_its_task(&mut w, first.id, created.id).await;
    a_macro_of_a_deleted_task_preselects_nothing(&mut w, deleted).await;
    render_the_macro(&mut w, &created).await;
    names_are_filled_in_by_the_page(&mut w, &created).await;
    a_search_finds_a_task_behind_5000_newer_ones(&mut w).await;
    publish::publish_the_open_tasks(&mut w).await;
    w.session.quit().await;
}
