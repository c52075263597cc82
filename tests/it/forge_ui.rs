//! The Forge app's own parts: the generated manifest (all three forms, checked by Atlassian's
//! validator) and the Custom UI built from `forge/`, loaded in a real browser, including as it
//! renders the macros the Connect editor saved once Connect is retired.

mod browser;
mod host;
mod manifest;
mod saved_macros;

use std::path::{Path, PathBuf};

/// The npm project of the Custom UI.
pub fn forge_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("forge")
}

/// The built Custom UI (`scripts/forge-ui.sh`, which needs node), or why it is missing: for
/// [`crate::harness::skip::require`].
pub fn ui_build() -> Result<PathBuf, String> {
    let build = forge_dir().join("build");
    for view in ["macro-view", "macro-config", "global-page"] {
        let page = build.join(view).join("index.html");
        if !page.is_file() {
            return Err(format!(
                "the Custom UI is not built ({} missing): run scripts/forge-ui.sh",
                page.display()
            ));
        }
    }
    Ok(build)
}

/// The built Custom UI, failing clearly when it is missing (after a test checked [`ui_build`]).
pub fn built_ui() -> PathBuf {
    ui_build().unwrap_or_else(|reason| panic!("{reason}"))
}
