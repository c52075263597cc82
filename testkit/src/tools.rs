//! Finding the programs some tests drive — Chromium and chromedriver, PostgreSQL's, node,
//! the interop Python — by a setting first, then `PATH`; never a fixed distribution path
//! (PostgreSQL's Debian folder is only the last resort, in [`crate::postgres`]). A lookup
//! answers the path or the reason it failed, for [`crate::skip::require`].

use std::path::{Path, PathBuf};

/// `setting` (an environment variable naming the program) if set — it must then exist — else
/// the first of `names` found on `PATH`.
pub fn find_program(setting: &str, names: &[&str]) -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os(setting) {
        let path = PathBuf::from(path);
        return if is_executable(&path) {
            Ok(path)
        } else {
            Err(format!(
                "{setting}={} is not an executable file",
                path.display()
            ))
        };
    }
    names.iter().find_map(|name| on_path(name)).ok_or_else(|| {
        format!(
            "{} not found on PATH (set {setting}, or run scripts/setup.sh)",
            names.join(" / ")
        )
    })
}

/// The first `name` in a `PATH` folder that is an executable file.
pub fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The browser and its driver, found together (a browser test needs both).
#[derive(Clone, Debug)]
pub struct Browser {
    /// Chromium: `CHROMIUM`, else `chromium` / `chromium-browser` / `google-chrome` on `PATH`.
    pub chromium: PathBuf,
    /// chromedriver: `CHROMEDRIVER`, else `chromedriver` on `PATH`.
    pub chromedriver: PathBuf,
}

/// Chromium and chromedriver, or why not.
pub fn browser() -> Result<Browser, String> {
    Ok(Browser {
        chromium: find_program(
            "CHROMIUM",
            &["chromium", "chromium-browser", "google-chrome"],
        )?,
        chromedriver: find_program("CHROMEDRIVER", &["chromedriver"])?,
    })
}

/// node, for Atlassian's manifest validator: `NODE`, else `node` on `PATH`.
pub fn node() -> Result<PathBuf, String> {
    find_program("NODE", &["node"])
}

/// The Python with `atlassian_jwt` for the interop tests: `TODO_CONNECT_PYTHON`, else the
/// project's `.venv/bin/python` under `root` (what scripts/setup.sh makes).
pub fn interop_python(root: &Path) -> Result<PathBuf, String> {
    if std::env::var_os("TODO_CONNECT_PYTHON").is_some() {
        return find_program("TODO_CONNECT_PYTHON", &[]);
    }
    let venv = root.join(".venv/bin/python");
    if is_executable(&venv) {
        Ok(venv)
    } else {
        Err(format!(
            "no Python with atlassian-jwt ({} missing): run scripts/setup.sh or set \
             TODO_CONNECT_PYTHON",
            venv.display()
        ))
    }
}
