//! Issue 24, the link cases, through the real binary: `copy --to` through a dangling link
//! created the target world-readable with every secret in it, `copy --to` another
//! application's SQLite file migrated our schema into it, and `restore` through a link to the
//! live database went ahead while the server ran. Each is now refused with exit code 1 and one
//! line, and nothing changed. SQLite only: these are the file operations.

use std::os::unix::fs::symlink;
use std::path::Path;

use rusqlite::Connection;

use super::backups::{Live, assert_refused, fingerprint, mode};
use crate::harness::*;

/// Another application's database: one table of its own, mode 0640.
fn foreign_file(path: &Path) -> Vec<u8> {
    Connection::open(path)
        .unwrap()
        .execute_batch(
            "CREATE TABLE invoices (id INTEGER PRIMARY KEY, amount INTEGER);
             INSERT INTO invoices (amount) VALUES (120), (80);",
        )
        .unwrap();
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o640)).unwrap();
    std::fs::read(path).unwrap()
}

fn refused_link(path: &Path) -> String {
    format!(
        "todo-connect: {}: is a symbolic link; give the path of the file itself",
        path.display()
    )
}

#[test]
fn copy_to_a_dangling_link_is_refused_and_creates_nothing() {
    if skip::sqlite_only_because("links to the database file and its folder") {
        return;
    }
    let live = Live::new();
    let target = live.path("elsewhere.sqlite3");
    let link = live.path("copy.sqlite3");
    symlink(&target, &link).unwrap();
    let out = live.run(&["copy", "--to", link.to_str().unwrap()]);
    assert_refused(&out, &refused_link(&link));
    assert!(
        !target.exists(),
        "nothing was created where the link points"
    );
    assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());

    // Through a linked folder, the same.
    let real = live.path("real");
    std::fs::create_dir(&real).unwrap();
    let linked = live.path("linked");
    symlink(&real, &linked).unwrap();
    let through = linked.join("copy.sqlite3");
    let out = live.run(&["copy", "--to", through.to_str().unwrap()]);
    assert_refused(
        &out,
        &format!(
            "todo-connect: {}: passes through the symbolic link {}; give the real path",
            through.display(),
            linked.display()
        ),
    );
    assert_eq!(std::fs::read_dir(&real).unwrap().count(), 0);

    // A plain path is copied to, and the copy is private (copy wants real timestamps).
    Connection::open(&live.db)
        .unwrap()
        .execute_batch(
            "UPDATE jwt_tokens SET installed_at = '2026-01-01T00:00:00Z',
                 updated_at = '2026-01-01T00:00:00Z';
             UPDATE tasks SET created_at = '2026-01-01T00:00:00Z',
                 updated_at = '2026-01-01T00:00:00Z';",
        )
        .unwrap();
    let plain = live.path("plain.sqlite3");
    let out = live.run(&["copy", "--to", plain.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(mode(&plain), 0o600);
}

#[test]
fn copy_and_backup_refuse_another_applications_database_and_leave_it_alone() {
    if skip::sqlite_only_because("links to the database file and its folder") {
        return;
    }
    let live = Live::new();
    let theirs = live.path("accounts.sqlite3");
    let before = foreign_file(&theirs);
    let line = format!(
        "todo-connect: {} holds tables todo-connect never creates (invoices): another \
         application's database? Refusing to touch it",
        theirs.display()
    );
    let out = live.run(&["copy", "--to", theirs.to_str().unwrap()]);
    assert_refused(&out, &line);
    assert_eq!(std::fs::read(&theirs).unwrap(), before);
    assert_eq!(mode(&theirs), 0o640);
    let out = live.run(&["backup", theirs.to_str().unwrap()]);
    assert_refused(&out, &line);
    assert_eq!(std::fs::read(&theirs).unwrap(), before);
    assert_eq!(mode(&theirs), 0o640);
    // Neither left a side file or a temporary behind.
    let names: Vec<String> = std::fs::read_dir(live.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("accounts"))
        .collect();
    assert_eq!(names, ["accounts.sqlite3"]);
}

#[test]
fn the_server_refuses_a_linked_or_foreign_database_path() {
    if skip::sqlite_only_because("links to the database file and its folder") {
        return;
    }
    let live = Live::new();
    let link = live.path("live-link.sqlite3");
    symlink(&live.db, &link).unwrap();
    let before = fingerprint(&live.db);
    let out = Binary::test(live.dir.path(), &link).run(&["serve"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).ends_with(&format!("{}\n", refused_link(&link))),
        "{}",
        stderr(&out)
    );
    let theirs = live.path("accounts.sqlite3");
    let bytes = foreign_file(&theirs);
    let out = Binary::test(live.dir.path(), &theirs).run(&["migrate"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("(invoices)"), "{}", stderr(&out));
    assert_eq!(std::fs::read(&theirs).unwrap(), bytes);
    assert_eq!(fingerprint(&live.db), before);
}

#[test]
fn restore_is_refused_while_the_server_runs_however_the_database_is_named() {
    if skip::sqlite_only_because("links to the database file and its folder") {
        return;
    }
    let live = Live::new();
    let backup = live.backup("backup.sqlite3");
    let server = Binary::test(live.dir.path(), &live.db).serve();
    let before = fingerprint(&live.db);
    let file = backup.to_str().unwrap();

    // A link to the live database.
    let link = live.path("live-link.sqlite3");
    symlink(&live.db, &link).unwrap();
    let out = Binary::test(live.dir.path(), &link).run(&["restore", file]);
    assert_refused(&out, &refused_link(&link));
    assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());

    // Another spelling of the same path (relative to the binary's folder).
    let spelled = Path::new("./volume/../volume/todo.sqlite3");
    let out = Binary::test(live.dir.path(), spelled).run(&["restore", file]);
    assert_refused(
        &out,
        &format!(
            "todo-connect: refusing to restore: another todo-connect process (a running \
             server, a backup or a purge) is using {}; stop the server first",
            spelled.display()
        ),
    );

    // A backup given through a link is refused too (and never read).
    let backup_link = live.path("backup-link.sqlite3");
    symlink(&backup, &backup_link).unwrap();
    let out = live.run(&["restore", backup_link.to_str().unwrap()]);
    assert_refused(&out, &refused_link(&backup_link));

    assert_eq!(
        fingerprint(&live.db),
        before,
        "the live database is unchanged"
    );
    assert_eq!(mode(&live.db), 0o600);
    drop(server);
}
