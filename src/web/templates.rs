//! Tera, built once from the templates compiled into the binary.
//!
//! `.html` templates are autoescaped. Templates reach shared constants through functions:
//! `asset(path="/js/app.js")` gives a cache-busted URL, `aui_css()` / `aui_integrity()` /
//! `connect_js()` the pinned external resources.

use std::collections::HashMap;

use include_dir::{Dir, include_dir};
use tera::{Tera, Value};

use super::assets::Assets;

static TEMPLATES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/templates");

/// Parses every embedded template; fails at start-up, not on a request, if one is broken.
pub(crate) fn build(assets: &Assets) -> tera::Result<Tera> {
    let mut sources = Vec::new();
    collect(&TEMPLATES, &mut sources);
    let mut tera = Tera::default();
    tera.add_raw_templates(sources)?;
    let urls: HashMap<String, String> = asset_paths(&TEMPLATES)
        .into_iter()
        .map(|p| {
            let url = assets.url(&p);
            (p, url)
        })
        .collect();
    tera.register_function("asset", move |args: &HashMap<String, Value>| {
        let path = args
            .get("path")
            .and_then(Value::as_str)
            .ok_or_else(|| tera::Error::msg("asset() needs path=\"/…\""))?;
        urls.get(path)
            .map(|u| Value::String(u.clone()))
            .ok_or_else(|| tera::Error::msg(format!("no embedded asset {path}")))
    });
    tera.register_function("aui_css", constant(super::AUI_CSS_URL));
    tera.register_function("aui_integrity", constant(super::AUI_CSS_INTEGRITY));
    tera.register_function("connect_js", constant(super::CONNECT_JS_URL));
    Ok(tera)
}

fn constant(value: &'static str) -> impl tera::Function {
    move |_: &HashMap<String, Value>| Ok(Value::String(value.to_string()))
}

fn collect(dir: &'static Dir<'static>, out: &mut Vec<(String, &'static str)>) {
    for file in dir.files() {
        if let Some(text) = file.contents_utf8() {
            out.push((file.path().to_string_lossy().into_owned(), text));
        }
    }
    for sub in dir.dirs() {
        collect(sub, out);
    }
}

/// Every `asset(path="…")` named in a template, so the URL map is complete and checked.
fn asset_paths(dir: &'static Dir<'static>) -> Vec<String> {
    let mut sources = Vec::new();
    collect(dir, &mut sources);
    let mut paths = Vec::new();
    for (_, text) in sources {
        for part in text.split("asset(path=\"").skip(1) {
            if let Some(end) = part.find('"') {
                paths.push(part[..end].to_string());
            }
        }
    }
    paths
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses_and_every_asset_it_names_exists() {
        let assets = Assets::embedded();
        build(&assets).expect("templates parse");
        for path in asset_paths(&TEMPLATES) {
            assert!(
                assets.contains(&path),
                "template names missing asset {path}"
            );
        }
    }
}
