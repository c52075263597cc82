//! Fuzzes the task API's input: the JSON bodies of create and update, read as every JSON body
//! is and checked as the handlers check them, and the query of the list (limit, `before`
//! cursor, done, `q` search).
//!
//! Input: `[mode, rest…]`. Mode 0: `rest` is a create body; 1: an update body; 2: a list
//! query string; 3: the first 8 bytes make a task id, handed out as `next_before`.
//!
//! Invariants: never panics; bad input is a 400 or a 422, never anything else; what is
//! accepted is what the JSON says (read here independently) and passes the same validation
//! again: a trimmed clean title (`title_breach`), a well-formed page id, a limit of 1 to 200,
//! a positive cursor, a trimmed search of 1 to 200 characters; every cursor the list hands out
//! (`next_before`, any positive task id) is accepted back as `before`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use todo_connect::fuzzing::{AppError, MAX_LIMIT, TaskTitle, create_task, list_query, update_task};
use todo_connect_fuzz::{json_tree, page_id_ok, title_breach};

fn refused(err: AppError) {
    assert!(
        matches!(err, AppError::BadRequest(_) | AppError::Unprocessable(_)),
        "{err:?}"
    );
}

/// Field `name` of a body: serde reads a struct from an object by name or from an array by
/// position, so both are modelled.
fn field<'v>(body: &'v Value, name: &str, position: usize) -> Option<&'v Value> {
    match body {
        Value::Array(items) => items.get(position),
        _ => body.get(name),
    }
    .filter(|v| !v.is_null())
}

fn check_title(title: &TaskTitle, sent: Option<&Value>) {
    assert_eq!(
        sent.and_then(Value::as_str).map(str::trim),
        Some(title.as_str())
    );
    if let Some(breach) = title_breach(title.as_str()) {
        panic!("accepted title {:?}: {breach}", title.as_str());
    }
    assert_eq!(TaskTitle::parse(title.as_str()).as_ref(), Ok(title));
}

fuzz_target!(|data: &[u8]| {
    let [mode, rest @ ..] = data else {
        return;
    };
    match mode % 4 {
        0 => match create_task(rest) {
            Err(err) => refused(err),
            Ok((title, page_id)) => {
                let Some(body) = json_tree(rest) else {
                    return;
                };
                check_title(&title, field(&body, "title", 0));
                let sent = field(&body, "page_id", 1).and_then(Value::as_str);
                assert_eq!(sent, page_id.as_ref().map(|p| p.as_str()));
                assert!(page_id.is_none_or(|p| page_id_ok(p.as_str())));
            }
        },
        1 => match update_task(rest) {
            Err(err) => refused(err),
            Ok((title, done)) => {
                let Some(body) = json_tree(rest) else {
                    return;
                };
                assert!(title.is_some() || done.is_some());
                if let Some(title) = &title {
                    check_title(title, field(&body, "title", 0));
                }
                assert_eq!(field(&body, "done", 1).and_then(Value::as_bool), done);
            }
        },
        2 => {
            let Ok(query) = std::str::from_utf8(rest) else {
                return;
            };
            match list_query(query) {
                Err(err) => refused(err),
                Ok(list) => {
                    assert!((1..=MAX_LIMIT).contains(&list.limit), "{query}: {list:?}");
                    assert!(list.before.is_none_or(|b| b > 0), "{query}: {list:?}");
                    if let Some(q) = &list.search {
                        let length = q.chars().count();
                        assert!(
                            q.trim() == q && (1..=200).contains(&length),
                            "{query}: {list:?}"
                        );
                    }
                }
            }
        }
        _ => {
            let mut bytes = [0u8; 8];
            let n = rest.len().min(8);
            bytes[..n].copy_from_slice(&rest[..n]);
            let id = (i64::from_le_bytes(bytes) & i64::MAX).max(1);
            let list = list_query(&format!("before={id}"));
            assert_eq!(
                list.ok().and_then(|l| l.before),
                Some(id),
                "next_before {id} refused"
            );
        }
    }
});
