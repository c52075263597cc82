//! Files only their owner may read: the database, its side files, lock files and backups all
//! hold (or sit beside) every site's shared secret.

use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Owner read and write, nothing for anyone else.
pub const PRIVATE_MODE: u32 = 0o600;

/// Creates `path` empty with mode `0600` if it does not exist yet; an existing file is left
/// as it is. SQLite gives a database's `-wal`, `-shm` and `-journal` the mode of the database
/// file, so creating the (empty, hence valid) database file this way before SQLite opens it
/// makes all of them private.
pub fn create_private(path: &Path) -> io::Result<()> {
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
pub fn open_private(path: &Path) -> io::Result<std::fs::File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(PRIVATE_MODE)
        .open(path)
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
}
