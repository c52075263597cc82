//! Fuzzes the files `todo-connect restore` accepts: the input is the backup file, restored onto
//! a fresh todo-connect database exactly as the command does (`ops::restore::restore`).
//! Invariants: never panics; the backup is never written; a refusal leaves the live database
//! byte for byte as it was, with no temporary file and no data beside it; an accepted backup
//! leaves exactly the database (and its lock file), and what was restored is itself a backup
//! `restore` accepts, with the same summary. (A refusal quoting the file's schema text spans
//! lines; `main` prints every error as one line, tested in `tests/it/abuse/backups.rs`.)
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use todo_connect::fuzzing::{new_database, restore};

struct Place {
    dir: PathBuf,
    /// The bytes of a fresh, migrated, empty database: the live database before each restore.
    fresh: Vec<u8>,
}

fn place() -> &'static Place {
    static PLACE: OnceLock<Place> = OnceLock::new();
    PLACE.get_or_init(|| {
        // On a memory file system where there is one: every run writes a few files.
        let shm = Path::new("/dev/shm");
        let base = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("todo-connect-fuzz-restore-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let template = dir.join("template.sqlite3");
        new_database(&template).unwrap();
        let fresh = std::fs::read(&template).unwrap();
        std::fs::remove_file(&template).unwrap();
        Place { dir, fresh }
    })
}

/// The names in the folder, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn empty(dir: &Path) {
    for name in listing(dir) {
        std::fs::remove_file(dir.join(name)).unwrap();
    }
}

fuzz_target!(|data: &[u8]| {
    let Place { dir, fresh } = place();
    empty(dir);
    let live = dir.join("live.sqlite3");
    let backup = dir.join("backup.sqlite3");
    std::fs::write(&live, fresh).unwrap();
    std::fs::write(&backup, data).unwrap();
    // The lock file stays once taken (a refusal before it is taken leaves none). The live
    // database's read-only look (`db::refuse_foreign`) may leave SQLite's index and an empty
    // log beside it (a read-only connection cannot remove them): no data, and what the server
    // opens next uses them.
    let left = || -> Vec<String> {
        let mut names = listing(dir);
        let empty_log = std::fs::metadata(dir.join("live.sqlite3-wal")).is_ok_and(|m| m.len() == 0);
        names.retain(|n| {
            n != "live.sqlite3.lock"
                && n != "live.sqlite3-shm"
                && !(n == "live.sqlite3-wal" && empty_log)
        });
        names
    };

    let restored = restore(&live, &backup);
    assert_eq!(
        std::fs::read(&backup).unwrap(),
        data,
        "the backup was written"
    );
    assert_eq!(left(), ["backup.sqlite3", "live.sqlite3"], "{restored:?}");
    match restored {
        Err(message) => {
            assert!(
                std::fs::read(&live).unwrap() == *fresh,
                "{message}: live database changed"
            );
        }
        Ok(summary) => {
            // What was restored is a backup restore accepts, holding the same.
            let again = dir.join("again.sqlite3");
            std::fs::write(&again, fresh).unwrap();
            assert_eq!(restore(&again, &live).as_ref(), Ok(&summary));
        }
    }
    empty(dir);
});
