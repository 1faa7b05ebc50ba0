//! Writing a file whole or not at all: the bytes go to a temporary file in the same folder,
//! named with the prefix the replication scan skips, are synced, then renamed over the target;
//! on any failure the temporary file is removed. A reader, the scan among them, sees the old
//! file or the new one, never a part. A temporary file left by a crash is removed by the next
//! write in its folder.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::daemon::replication::workspace::TEMPORARY_PREFIX;

/// Replaces `target` with `bytes`, keeping the permissions of the file it replaces.
pub fn write(target: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let folder = target.parent().ok_or_else(|| std::io::Error::other("the path has no folder"))?;
    sweep(folder);
    let temporary = Temporary(folder.join(format!("{TEMPORARY_PREFIX}{}", uuid::Uuid::new_v4().simple())));
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(&temporary.0)?;
    if let Ok(previous) = std::fs::metadata(target) {
        file.set_permissions(previous.permissions())?;
    }
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temporary.0, target)?;
    temporary.keep();
    // The rename is durable once the folder is synced; the file is complete either way.
    if let Ok(folder) = std::fs::File::open(folder) {
        let _ = folder.sync_all();
    }
    Ok(())
}

/// A temporary file this old was left by a write that never finished: writes take milliseconds.
const STALE_AFTER: Duration = Duration::from_secs(600);

/// Removes the stale temporary files of `folder`, as far as it can: they are never shipped, but
/// would stay on disk.
fn sweep(folder: &Path) {
    let Ok(entries) = std::fs::read_dir(folder) else { return };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let stale = entry.file_name().to_str().is_some_and(|name| name.starts_with(TEMPORARY_PREFIX))
            && entry
                .metadata()
                .and_then(|metadata| metadata.modified())
                .is_ok_and(|modified| now.duration_since(modified).is_ok_and(|age| age > STALE_AFTER));
        if stale {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// A temporary file removed when dropped, unless it was renamed into place.
struct Temporary(PathBuf);

impl Temporary {
    fn keep(mut self) {
        self.0 = PathBuf::new();
    }
}

impl Drop for Temporary {
    fn drop(&mut self) {
        if !self.0.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|entry| entry.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        names
    }

    #[test]
    fn a_write_replaces_the_file_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("SOUL.md");
        write(&target, b"first").unwrap();
        write(&target, b"second").unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "second");
        assert_eq!(names(dir.path()), ["SOUL.md"]);
    }

    #[test]
    fn a_failed_rename_removes_the_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("notes");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("keep.md"), "x").unwrap();
        assert!(write(&target, b"over a folder").is_err());
        assert_eq!(names(dir.path()), ["notes"]);
    }

    #[test]
    fn a_write_removes_temporary_files_left_by_a_crash_but_not_fresh_ones() {
        let dir = tempfile::tempdir().unwrap();
        let stale = dir.path().join(format!("{TEMPORARY_PREFIX}crashed"));
        let fresh = dir.path().join(format!("{TEMPORARY_PREFIX}running"));
        std::fs::write(&stale, "half").unwrap();
        std::fs::write(&fresh, "half").unwrap();
        let an_hour_ago = SystemTime::now() - Duration::from_secs(3600);
        std::fs::File::options().write(true).open(&stale).unwrap().set_modified(an_hour_ago).unwrap();
        write(&dir.path().join("SOUL.md"), b"be kind").unwrap();
        assert_eq!(names(dir.path()), [format!("{TEMPORARY_PREFIX}running"), "SOUL.md".to_owned()]);
    }

    #[cfg(unix)]
    #[test]
    fn a_write_keeps_the_permissions_of_the_file_it_replaces() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("USER.md");
        std::fs::write(&target, "old").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
        write(&target, b"new").unwrap();
        assert_eq!(std::fs::metadata(&target).unwrap().permissions().mode() & 0o777, 0o600);
    }
}
