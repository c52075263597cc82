//! The release that retires Connect (`manifest --retire-connect`) hands the TODO macros already
//! saved in pages to the Forge macro, which now carries the Connect macro's key. Forge gives it
//! the Connect parameters as they were saved: `{"id": "7"}`, always a string. In a real
//! browser, behind the stand-in Forge host: such a macro shows its task, its configuration
//! opens with that task selected and saves it back, an id that is another site's or no number
//! at all says so in the frame, and the inline frame is as narrow as the task.

use reqwest::Method;
use serde_json::{Value, json};

use super::browser::World;
use super::host::View;
use crate::browser::{assert_no_page_errors, rows};
use crate::harness::*;

/// The Connect macro's key, which the Forge macro takes once Connect is retired.
const CONNECT_MACRO_KEY: &str = "dynamic-task-macro";
const NO_TASK: &str = "No task chosen yet. Edit this macro to pick or create one.";
const BAD_ID: &str =
    "This macro's saved task is not a valid task number. Edit this macro to pick a task.";
const GONE: &str = "That task no longer exists.";

/// A macro saved by the Connect editor, as Forge opens it after the move: the Forge module under
/// the Connect key, the Connect parameters in `config`, the Connect macro id beside them.
fn saved_by_connect(resource: &'static str, config: Value) -> View {
    View {
        resource,
        module: json!({"type": "xen:macro", "key": CONNECT_MACRO_KEY}),
        context: json!({
            "moduleKey": CONNECT_MACRO_KEY,
            "localId": "connect-macro-local-1",
            "extension": {
                "type": "macro",
                "config": config,
                "connectMetadata": {"macroId": "4f6c1b0e-connect-macro"},
                "content": {"id": "4242", "type": "page"},
                "isEditing": resource == "macro-config",
            },
        }),
    }
}

/// Creates a task for `site` through the Forge task API; its id.
async fn create(w: &World, site: &ForgeSite, title: &str) -> i64 {
    let (status, task) = w
        .host
        .call_as(
            site,
            Method::POST,
            "/forge/api/tasks",
            Some(json!({"title": title})),
        )
        .await;
    assert_eq!(status, 201, "{task}");
    task["id"].as_i64().expect("a task id")
}

/// What the macro frame shows once it has loaded: the task's id and title, or the note.
async fn shown(w: &World) -> Value {
    w.session
        .wait_for(
            "the macro to load",
            "var m = document.querySelector('#content .task-macro');
             if (m) { return ['task', m.getAttribute('data-task-id'),
                              m.querySelector('.badge').textContent]; }
             var n = document.querySelector('#content .macro-note');
             return n && !n.id && ['note', n.textContent];",
            json!([]),
        )
        .await
}

/// Task 7 of this site, with tasks 1 to 6 another site's: a Connect-saved id that is another
/// site's task is the same shape as ours.
async fn seven_tasks(w: &World) -> (i64, Vec<i64>) {
    let other = ForgeSite::new();
    let mut foreign = Vec::new();
    for n in 1..=6 {
        foreign.push(create(w, &other, &format!("Another site's secret {n}")).await);
    }
    let ours = create(w, &w.site, "Fix").await;
    assert_eq!(ours, 7, "a fresh database numbers tasks from 1");
    (ours, foreign)
}

async fn the_saved_macros_render_their_task_or_say_why_not(w: &mut World, foreign: i64) {
    for config in [json!({"id": "7"}), json!({"id": " 7\n"}), json!({"id": 7})] {
        w.open(saved_by_connect("macro-view", config.clone())).await;
        assert_eq!(shown(w).await, json!(["task", "7", "Fix"]), "{config}");
        assert_no_page_errors(&w.session, "a Connect-saved macro").await;
    }
    let calls = w.host.calls().len();
    for (config, note) in [
        (json!({"id": "seven"}), BAD_ID),
        (json!({"id": "7,8"}), BAD_ID),
        (json!({"id": "-7"}), BAD_ID),
        (json!({"id": {"value": "7"}}), BAD_ID),
        (json!({"id": ""}), NO_TASK),
        (json!({}), NO_TASK),
    ] {
        w.open(saved_by_connect("macro-view", config.clone())).await;
        assert_eq!(shown(w).await, json!(["note", note]), "{config}");
        assert_no_page_errors(&w.session, "a macro with a bad id").await;
    }
    assert_eq!(w.host.calls().len(), calls, "no bad id reached the server");

    w.open(saved_by_connect(
        "macro-view",
        json!({"id": foreign.to_string()}),
    ))
    .await;
    assert_eq!(shown(w).await, json!(["note", GONE]));
    let text = w
        .session
        .script("return document.body.textContent;", json!([]))
        .await;
    assert!(!text.as_str().unwrap().contains("secret"), "{text}");
    let last = w.host.calls().pop().unwrap();
    assert_eq!(
        (last.path.as_str(), last.status),
        (format!("/forge/api/tasks/{foreign}").as_str(), 404),
        "the server refused another site's task"
    );
    assert_no_page_errors(&w.session, "a macro naming another site's task").await;
}

async fn the_inline_macro_is_as_narrow_as_its_task(w: &mut World) {
    w.open(saved_by_connect("macro-view", json!({"id": "7"})))
        .await;
    shown(w).await;
    let widths = w
        .session
        .script(
            "var body = document.body, before = body.getBoundingClientRect().width;
             body.classList.remove('inline-macro');
             var without = body.getBoundingClientRect().width;
             body.classList.add('inline-macro');
             var task = document.querySelector('#content .task-macro').getBoundingClientRect();
             return [before, without, document.documentElement.clientWidth, task.width];",
            json!([]),
        )
        .await;
    let [narrow, wide, window, task] = [0, 1, 2, 3].map(|i| widths[i].as_f64().unwrap());
    assert!(
        window > 600.0,
        "the window leaves room to be wide: {widths}"
    );
    assert!(
        narrow < 280.0,
        "the macro is well under the 300 px of a frame without the rule: {widths}"
    );
    assert!(
        narrow <= task + 8.0,
        "the body is its content's width (plus the 2 px padding each side): {widths}"
    );
    assert!(
        wide > 600.0,
        "without the stylesheet's rule it fills the window: {widths}"
    );
    assert_no_page_errors(&w.session, "the narrow macro (no CSP violation)").await;
}

async fn editing_a_saved_macro_keeps_its_task(w: &mut World, foreign: i64) {
    let before = rows(&w.conn).len();
    for config in [json!({"id": " 7 "}), json!({"id": 7})] {
        w.open(saved_by_connect("macro-config", config.clone()))
            .await;
        w.session.find("#results li[data-id=\"7\"].selected").await;
        w.click("#editor-save").await;
        assert_eq!(
            w.submitted().await,
            json!([{"config": {"id": "7"}}]),
            "{config} is saved back as the Forge config stores it"
        );
        assert_no_page_errors(&w.session, "the config of a Connect-saved macro").await;
    }

    for (config, message) in [
        (
            json!({"id": foreign.to_string()}),
            "The task this macro showed no longer exists. Choose or create another one.",
        ),
        (json!({"id": "seven"}), BAD_ID),
    ] {
        w.open(saved_by_connect("macro-config", config.clone()))
            .await;
        let shown = w
            .session
            .wait_for(
                "the config's message",
                "var m = document.getElementById('message');
                 return m && !m.classList.contains('hidden') && m.textContent;",
                json!([]),
            )
            .await;
        assert_eq!(shown, json!(message), "{config}");
        let state = w
            .session
            .script(
                "return [document.getElementById('editor-save').disabled,
                         document.querySelectorAll('#results li.selected').length,
                         document.body.textContent.indexOf('secret')];",
                json!([]),
            )
            .await;
        assert_eq!(state, json!([true, 0, -1]), "{config}: nothing chosen");
        assert_no_page_errors(&w.session, "the config of a bad macro").await;
    }
    assert_eq!(rows(&w.conn).len(), before, "editing wrote no task");
}

#[actix_web::test]
async fn macros_saved_by_the_connect_editor_keep_their_task_through_forge() {
    let Some(mut w) = World::start().await else {
        return;
    };
    let (_ours, foreign) = seven_tasks(&w).await;
    the_saved_macros_render_their_task_or_say_why_not(&mut w, foreign[2]).await;
    the_inline_macro_is_as_narrow_as_its_task(&mut w).await;
    editing_a_saved_macro_keeps_its_task(&mut w, foreign[2]).await;
    w.session.quit().await;
}
