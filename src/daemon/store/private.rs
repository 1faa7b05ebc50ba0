//! Files that hold the store's data (`molt.db` and its WAL, snapshots, restore copies) are
//! readable by their owner only: the database holds device token digests, chat history and
//! pairing state.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

/// Creates (or truncates) a file readable and writable by its owner only.
pub fn create(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(path)?;
    set_owner_only(path)?;
    Ok(file)
}

/// Writes `bytes` to a new owner-only file.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    create(path)?.write_all(bytes)
}

/// Makes an existing file (and SQLite's `-wal` and `-shm` beside a database) owner-only; a file
/// that does not exist is skipped. Failures are logged: a filesystem without modes (a mounted
/// volume) must not stop the gateway.
pub fn restrict(database: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let path = std::path::PathBuf::from(format!("{}{suffix}", database.display()));
        match set_owner_only(&path) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => tracing::warn!(path = %path.display(), %error, "cannot make the file owner-only"),
        }
    }
}

#[cfg(unix)]
fn set_owner_only(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

#[cfg(not(unix))]
fn set_owner_only(_path: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &std::path::Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn created_and_restricted_files_are_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("snapshot.db");
        super::write(&file, b"data").unwrap();
        assert_eq!(mode(&file), 0o600);
        let database = dir.path().join("molt.db");
        std::fs::write(&database, b"").unwrap();
        std::fs::write(dir.path().join("molt.db-wal"), b"").unwrap();
        std::fs::set_permissions(&database, std::fs::Permissions::from_mode(0o644)).unwrap();
        super::restrict(&database);
        assert_eq!(mode(&database), 0o600);
        assert_eq!(mode(&dir.path().join("molt.db-wal")), 0o600);
    }
}
