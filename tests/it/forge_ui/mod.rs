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

/// The built Custom UI (`scripts/forge-ui.sh`), failing clearly when it is missing.
pub fn built_ui() -> PathBuf {
    let build = forge_dir().join("build");
    for view in ["macro-view", "macro-config", "global-page"] {
        assert!(
            build.join(view).join("index.html").is_file(),
            "the Custom UI is not built ({} missing): run scripts/forge-ui.sh",
            build.join(view).display()
        );
    }
    build
}
