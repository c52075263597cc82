//! The Forge modules every form declares: the endpoints on our remote, the lifecycle trigger,
//! the uninstall signal, and the Forge twins of the Connect macro and general page (title,
//! description, layout and config read off the descriptor).

use serde_json::{Value, json};

use super::connect::{connect_module, descriptor_str};
use super::{
    CONNECT_MACRO, CONNECT_PAGE, EVENTS_ENDPOINT, Form, GLOBAL_PAGE, GLOBAL_PAGE_ROUTE,
    GLOBAL_PAGE_VIEW, LIFECYCLE_EVENTS, LIFECYCLE_TRIGGER, MACRO, MACRO_CONFIG, MACRO_VIEW,
    ManifestError, PRE_UNINSTALL, REMOTE, UI_ENDPOINT, UNINSTALL_ENDPOINT,
};
use crate::app::routes::paths;

/// `modules` for `form`.
pub(super) fn forge_modules(descriptor: &Value, form: Form) -> Result<Value, ManifestError> {
    let connect_macro = connect_module(descriptor, CONNECT_MACRO)?;
    let connect_page = connect_module(descriptor, CONNECT_PAGE)?;
    let text = descriptor_str;
    let system_token = json!({"appSystemToken": {"enabled": true}});
    let layout = match text(connect_macro, "/outputType")? {
        "block" => "block",
        _ => "inline",
    };
    let forge_macro = |key: &str| -> Result<Value, ManifestError> {
        Ok(json!({
            "key": key,
            "title": text(connect_macro, "/name/value")?,
            "description": text(connect_macro, "/description/value")?,
            "resource": MACRO_VIEW,
            "resolver": {"endpoint": UI_ENDPOINT},
            "layout": layout,
            "config": {
                "resource": MACRO_CONFIG,
                "title": text(connect_macro, "/editor/insertTitle/value")?,
                "viewportSize": "medium",
                "openOnInsert": true,
            },
        }))
    };
    // Once Connect is retired, the Forge macro answers for the macros saved under the Connect
    // key; before, it needs a key of its own. The macros inserted under that key meanwhile must
    // go on rendering, so it stays, hidden from the insert menu: one TODO macro is offered.
    let macros = if form.macro_takes_connect_key() {
        let mut earlier = forge_macro(MACRO)?;
        earlier["hidden"] = true.into();
        vec![forge_macro(text(connect_macro, "/key")?)?, earlier]
    } else {
        vec![forge_macro(MACRO)?]
    };
    Ok(json!({
        "endpoint": [
            {"key": UI_ENDPOINT, "remote": REMOTE, "auth": system_token},
            {
                "key": EVENTS_ENDPOINT,
                "remote": REMOTE,
                "route": {"path": paths::FORGE_EVENTS},
                "auth": system_token,
            },
            // No token of the app's own: marking a site uninstalled needs no call back.
            {
                "key": UNINSTALL_ENDPOINT,
                "remote": REMOTE,
                "route": {"path": paths::FORGE_PRE_UNINSTALL},
            },
        ],
        "trigger": [{
            "key": LIFECYCLE_TRIGGER,
            "endpoint": EVENTS_ENDPOINT,
            "events": LIFECYCLE_EVENTS,
        }],
        "preUninstall": [{"key": PRE_UNINSTALL, "endpoint": UNINSTALL_ENDPOINT}],
        "macro": macros,
        "confluence:globalPage": [{
            "key": GLOBAL_PAGE,
            "title": text(connect_page, "/name/value")?,
            "route": GLOBAL_PAGE_ROUTE,
            "resource": GLOBAL_PAGE_VIEW,
            "resolver": {"endpoint": UI_ENDPOINT},
        }],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn descriptor() -> Value {
        json!({"modules": {
            "dynamicContentMacros": [{
                "key": "dynamic-task-macro", "outputType": "inline",
                "name": {"value": "TODO"}, "description": {"value": "One task."},
                "editor": {"insertTitle": {"value": "Insert a task"}},
            }],
            "generalPages": [{"key": "todo-page", "name": {"value": "Todo"}}],
        }})
    }

    #[test]
    fn only_the_retire_form_gives_the_forge_macro_the_connect_macros_key() {
        for (form, key) in [
            (Form::Forge, MACRO),
            (Form::WithConnect, MACRO),
            (Form::RetireConnect, "dynamic-task-macro"),
        ] {
            let modules = forge_modules(&descriptor(), form).unwrap();
            assert_eq!(modules["macro"][0]["key"], key, "{form:?}");
            assert_eq!(modules["macro"][0]["title"], "TODO", "{form:?}");
            assert_eq!(modules["macro"][0].get("hidden"), None, "{form:?}");
        }
    }

    #[test]
    fn retiring_connect_keeps_the_earlier_forge_macro_hidden_so_its_pages_still_render() {
        let modules = forge_modules(&descriptor(), Form::RetireConnect).unwrap();
        let macros = modules["macro"].as_array().unwrap();
        assert_eq!(macros.len(), 2);
        let mut earlier = macros[0].clone();
        earlier["key"] = MACRO.into();
        earlier["hidden"] = true.into();
        assert_eq!(
            macros[1], earlier,
            "the same macro under its earlier key, hidden"
        );
    }

    #[test]
    fn every_form_declares_the_uninstall_signal_on_its_route() {
        for form in [Form::Forge, Form::WithConnect, Form::RetireConnect] {
            let modules = forge_modules(&descriptor(), form).unwrap();
            assert_eq!(
                modules["preUninstall"],
                json!([{"key": PRE_UNINSTALL, "endpoint": UNINSTALL_ENDPOINT}])
            );
            let endpoint = modules["endpoint"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["key"] == UNINSTALL_ENDPOINT)
                .unwrap();
            assert_eq!(endpoint["route"]["path"], paths::FORGE_PRE_UNINSTALL);
        }
    }

    #[test]
    fn a_descriptor_without_the_mirrored_macro_is_a_clear_error() {
        let descriptor = json!({"modules": {"generalPages": [{"key": "todo-page"}]}});
        let err = forge_modules(&descriptor, Form::Forge).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the descriptor has no dynamicContentMacros module \"dynamic-task-macro\""
        );
    }
}
