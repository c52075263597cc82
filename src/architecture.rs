//! Checks of the crate's layout that the compiler cannot make: which files may know which
//! backend is in use. A store (a file named `store.rs`, or any file under a `store/` folder),
//! the database layer (`src/db*`) and the operations on a deployed database (`src/ops*`) may;
//! handlers, extractors and domain code may not, so a data operation is written once, in its
//! store, for both backends.

use std::path::{Path, PathBuf};

/// Words that only code choosing or driving a backend uses.
const BACKEND_WORDS: &[&str] = &[
    // A store body: a connection, its SQL, its dialect.
    "Tx<'",
    "Tx::",
    "Dialect::",
    // A backend by name.
    ".pg()",
    "rusqlite",
    "tokio_postgres",
    "GenericClient",
    "PgPool",
    "PgError",
];

/// Where backend code belongs.
fn may_know_the_backend(path: &str) -> bool {
    path.starts_with("src/db")
        || path.starts_with("src/ops")
        || path.ends_with("/store.rs")
        || path.contains("/store/")
        // The database URL setting and the error type's conversions name the drivers' errors.
        || path == "src/config/database_url.rs"
        || path == "src/error.rs"
        // This file names the words it looks for.
        || path == "src/architecture.rs"
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// Every source file, as a path relative to the crate (`src/…`), with its text.
fn sources() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let relative = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (relative, text)
        })
        .collect()
}

#[test]
fn only_stores_know_which_backend_is_in_use() {
    let mut offenders = Vec::new();
    for (path, text) in sources() {
        if may_know_the_backend(&path) {
            continue;
        }
        for word in BACKEND_WORDS {
            if text.contains(word) {
                offenders.push(format!("{path} uses {word}"));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "backend code outside a store: {offenders:#?}"
    );
}

#[test]
fn no_postgres_twin_lives_outside_the_database_layer() {
    let twins: Vec<String> = sources()
        .into_iter()
        .map(|(path, _)| path)
        .filter(|path| path.ends_with("_pg.rs") && !path.starts_with("src/db"))
        .collect();
    assert!(twins.is_empty(), "PostgreSQL twins: {twins:?}");
}
