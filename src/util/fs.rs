//! Files only their owner may read: the database, its side files, lock files and backups all
//! hold (or sit beside) every site's shared secret.

use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

/// Owner read and write, nothing for anyone else.
const PRIVATE_MODE: u32 = 0o600;

/// Creates `path` empty with mode `0600` if it does not exist yet; an existing file is left
/// as it is. SQLite gives a database's `-wal`, `-shm` and `-journal` the mode of the database
/// file, so creating the (empty, hence valid) database file this way before SQLite opens it
/// makes all of them private.
pub(crate) fn create_private(path: &Path) -> io::Result<()> {
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(PRIVATE_MODE)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Opens `path` for reading and writing, creating it with mode `0600` if missing.
pub(crate) fn open_private(path: &Path) -> io::Result<std::fs::File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(PRIVATE_MODE)
        .open(path)
}

/// Refuses a path that is, or passes through, a symbolic link: a write through a dangling link
/// lands wherever it points (`copy --to` created the target world-readable), and a lock taken
/// through one name does not keep out a process using another (a `restore` through a link to
/// the live database). The reason, as a phrase to follow the path.
pub(crate) fn refuse_links(path: &Path) -> Result<(), String> {
    let absolute = std::path::absolute(path).map_err(|e| e.to_string())?;
    for (depth, step) in absolute.ancestors().enumerate() {
        let Ok(meta) = std::fs::symlink_metadata(step) else {
            continue; // not there (yet): nothing to follow
        };
        if meta.file_type().is_symlink() {
            return Err(if depth == 0 {
                "is a symbolic link; give the path of the file itself".to_string()
            } else {
                format!(
                    "passes through the symbolic link {}; give the real path",
                    step.display()
                )
            });
        }
    }
    Ok(())
}

/// [`refuse_links`], and a file with other hard links: the live database must have one name,
/// or its lock (named after it) would not be the only one.
pub(crate) fn refuse_other_names(path: &Path) -> Result<(), String> {
    refuse_links(path)?;
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_file() && meta.nlink() > 1 => Err(format!(
            "has {} hard links; give the database a file of its own",
            meta.nlink()
        )),
        _ => Ok(()),
    }
}

/// `path` absolute, without `.` and `..`: one spelling for every way of writing it. Read
/// lexically, which is exact for a path [`refuse_links`] accepted (no link to go back through).
pub(crate) fn one_spelling(path: &Path) -> io::Result<PathBuf> {
    let mut out = PathBuf::new();
    for part in std::path::absolute(path)?.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_new_file_is_private_and_an_existing_one_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        create_private(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        std::fs::write(&path, b"kept").unwrap();
        create_private(&path).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"kept");
    }

    #[test]
    fn links_are_refused_wherever_they_are_on_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::create_dir(&real).unwrap();
        let file = real.join("db.sqlite3");
        std::fs::write(&file, b"x").unwrap();
        assert_eq!(refuse_links(&file), Ok(()));
        assert_eq!(refuse_links(&real.join("not-yet.sqlite3")), Ok(()));

        let to_file = dir.path().join("to-file");
        std::os::unix::fs::symlink(&file, &to_file).unwrap();
        assert!(
            refuse_links(&to_file)
                .unwrap_err()
                .starts_with("is a symbolic link")
        );
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        assert!(
            refuse_links(&dangling)
                .unwrap_err()
                .starts_with("is a symbolic link")
        );
        let to_dir = dir.path().join("to-dir");
        std::os::unix::fs::symlink(&real, &to_dir).unwrap();
        let through = refuse_links(&to_dir.join("db.sqlite3")).unwrap_err();
        assert!(
            through.contains("passes through the symbolic link"),
            "{through}"
        );

        let twin = dir.path().join("twin");
        std::fs::hard_link(&file, &twin).unwrap();
        assert_eq!(refuse_links(&file), Ok(()));
        assert!(
            refuse_other_names(&file)
                .unwrap_err()
                .contains("2 hard links")
        );
    }

    #[test]
    fn every_spelling_of_a_path_is_one() {
        let here = std::env::current_dir().unwrap();
        assert_eq!(
            one_spelling(Path::new("./db/../db/./x.sqlite3")).unwrap(),
            here.join("db/x.sqlite3")
        );
        assert_eq!(
            one_spelling(Path::new("/a/b/../c")).unwrap(),
            Path::new("/a/c")
        );
    }
}
