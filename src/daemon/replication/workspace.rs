//! Workspace files (`SOUL.md`, `USER.md`, `MEMORY.md`, `skills/`…): scanned locally, shipped as
//! content-addressed blobs, listed in the manifest. A file leaves the manifest only when a
//! complete, error-free scan no longer finds it: a failed read never deletes remote data.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::format::{FileEntry, sha256_hex};

/// Files larger than this are not replicated (and are reported).
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;
/// A bound on the walk, so a runaway folder cannot stall shipping.
const MAX_FILES: usize = 10_000;
pub const MAX_DEPTH: usize = 16;
/// Names starting with this are files still being written (written whole, then renamed): the
/// scan never ships them and no name from the bucket may take it.
pub const TEMPORARY_PREFIX: &str = ".molt-tmp-";

/// One local file as last seen: cheap metadata decides whether to hash it again.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    modified: Option<SystemTime>,
    bytes: u64,
    sha256: String,
}

/// The result of one scan.
#[derive(Debug, Default)]
pub struct Scan {
    pub files: BTreeMap<String, FileEntry>,
    /// Whether every directory and file was read without error: only then may absent files be
    /// taken as deleted.
    pub complete: bool,
    pub problems: Vec<String>,
}

/// Remembers file hashes between scans, so an idle workspace costs a few `stat` calls.
#[derive(Debug, Default)]
pub struct Scanner {
    seen: BTreeMap<String, Seen>,
    /// The problems last logged, so a lasting one is logged once, not every second.
    pub reported: Vec<String>,
}

impl Scanner {
    pub fn scan(&mut self, root: &Path) -> Scan {
        let mut scan = Scan { complete: true, ..Scan::default() };
        match std::fs::metadata(root) {
            Ok(metadata) if metadata.is_dir() => {}
            Ok(_) => return incomplete(scan, format!("`{}` is not a directory", root.display())),
            Err(error) => return incomplete(scan, format!("cannot read `{}`: {error}", root.display())),
        }
        let mut stack: Vec<(PathBuf, usize)> = vec![(root.to_owned(), 0)];
        while let Some((dir, depth)) = stack.pop() {
            let entries = match std::fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(error) => {
                    scan = incomplete(scan, format!("cannot list `{}`: {error}", dir.display()));
                    continue;
                }
            };
            for entry in entries {
                let entry = match entry {
                    Ok(entry) => entry,
                    Err(error) => {
                        scan = incomplete(scan, format!("cannot list `{}`: {error}", dir.display()));
                        continue;
                    }
                };
                let path = entry.path();
                let Some(relative) = relative_name(root, &path) else { continue };
                let metadata = match std::fs::symlink_metadata(&path) {
                    Ok(metadata) => metadata,
                    // Deleted between listing and reading: it is simply gone.
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(error) => {
                        scan = incomplete(scan, format!("cannot read `{relative}`: {error}"));
                        continue;
                    }
                };
                if metadata.is_dir() {
                    if depth + 1 < MAX_DEPTH {
                        stack.push((path, depth + 1));
                    } else {
                        scan = incomplete(scan, format!("`{relative}` is nested too deep"));
                    }
                } else if metadata.is_file() {
                    if metadata.len() > MAX_FILE_BYTES {
                        scan.problems
                            .push(format!("`{relative}` is over {MAX_FILE_BYTES} bytes and is not replicated"));
                        continue;
                    }
                    if scan.files.len() >= MAX_FILES {
                        scan = incomplete(scan, format!("more than {MAX_FILES} files"));
                        continue;
                    }
                    match self.hash(&relative, &path, &metadata) {
                        Ok(seen) => {
                            scan.files.insert(relative, FileEntry { sha256: seen.sha256, bytes: seen.bytes });
                        }
                        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                        Err(error) => scan = incomplete(scan, format!("cannot read `{relative}`: {error}")),
                    }
                }
                // Symlinks and special files are not part of the workspace.
            }
        }
        self.seen.retain(|name, _| scan.files.contains_key(name));
        scan
    }

    fn hash(&mut self, relative: &str, path: &Path, metadata: &std::fs::Metadata) -> std::io::Result<Seen> {
        let modified = metadata.modified().ok();
        if let Some(seen) = self.seen.get(relative)
            && seen.modified == modified
            && modified.is_some()
            && seen.bytes == metadata.len()
        {
            return Ok(seen.clone());
        }
        let bytes = std::fs::read(path)?;
        let seen = Seen { modified, bytes: bytes.len() as u64, sha256: sha256_hex(&bytes) };
        self.seen.insert(relative.to_owned(), seen.clone());
        Ok(seen)
    }
}

fn incomplete(mut scan: Scan, problem: String) -> Scan {
    scan.complete = false;
    scan.problems.push(problem);
    scan
}

/// `/`-separated path relative to the root; `None` for names that are not plain UTF-8.
fn relative_name(root: &Path, path: &Path) -> Option<String> {
    let relative = path.strip_prefix(root).ok()?;
    let parts: Option<Vec<&str>> = relative.components().map(|part| part.as_os_str().to_str()).collect();
    let name = parts?.join("/");
    valid_name(&name).then_some(name)
}

/// A name from the bucket is safe to write under the workspace: relative, no `..`, no empty part,
/// no file being written.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('/')
        && name.split('/').all(|part| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && !part.contains('\\')
                && !part.starts_with(TEMPORARY_PREFIX)
        })
}

/// The manifest's workspace after a scan: new and changed files in, deletions only when the
/// scan was complete.
pub fn merge(previous: &BTreeMap<String, FileEntry>, scan: &Scan) -> BTreeMap<String, FileEntry> {
    let mut next = if scan.complete { BTreeMap::new() } else { previous.clone() };
    for (name, entry) in &scan.files {
        next.insert(name.clone(), entry.clone());
    }
    next
}

/// Writes a restored file atomically (temporary name, then rename).
pub fn write_file(root: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let path = root.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let temporary = path.with_extension(format!("restore-{}", uuid::Uuid::new_v4().simple()));
    std::fs::write(&temporary, bytes)?;
    std::fs::rename(&temporary, &path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_find_nested_files_and_reuse_hashes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("SOUL.md"), "be kind").unwrap();
        std::fs::create_dir_all(dir.path().join("skills/cook")).unwrap();
        std::fs::write(dir.path().join("skills/cook/SKILL.md"), "pasta").unwrap();
        let mut scanner = Scanner::default();
        let scan = scanner.scan(dir.path());
        assert!(scan.complete, "{:?}", scan.problems);
        assert_eq!(scan.files.keys().collect::<Vec<_>>(), ["SOUL.md", "skills/cook/SKILL.md"]);
        assert_eq!(scan.files["SOUL.md"].sha256, sha256_hex(b"be kind"));
        assert_eq!(scanner.scan(dir.path()).files, scan.files);
    }

    #[test]
    fn a_failed_scan_never_drops_remote_files() {
        let mut previous = BTreeMap::new();
        previous.insert("MEMORY.md".to_owned(), FileEntry { sha256: "m".into(), bytes: 1 });
        previous.insert("SOUL.md".to_owned(), FileEntry { sha256: "s".into(), bytes: 1 });
        let missing = Scanner::default().scan(Path::new("/nonexistent/workspace"));
        assert!(!missing.complete);
        assert_eq!(merge(&previous, &missing), previous);

        let mut partial = Scan { complete: false, ..Scan::default() };
        partial.files.insert("SOUL.md".into(), FileEntry { sha256: "s2".into(), bytes: 2 });
        let merged = merge(&previous, &partial);
        assert_eq!(merged["SOUL.md"].sha256, "s2");
        assert!(merged.contains_key("MEMORY.md"));

        let complete = Scan { complete: true, files: partial.files.clone(), problems: vec![] };
        assert!(!merge(&previous, &complete).contains_key("MEMORY.md"));
    }

    #[cfg(unix)]
    #[test]
    fn an_unreadable_folder_makes_the_scan_incomplete() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let locked = dir.path().join("skills");
        std::fs::create_dir(&locked).unwrap();
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
        let scan = Scanner::default().scan(dir.path());
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
        // Root can read anything; the rule is checked where permissions apply.
        if std::fs::read_dir(&locked).is_err() {
            assert!(!scan.complete);
        }
    }

    #[test]
    fn names_from_the_bucket_cannot_escape_the_workspace() {
        assert!(valid_name("skills/cook/SKILL.md"));
        for bad in ["", "/etc/passwd", "../x", "a/../../b", "a//b", "a\\b", "./a", "a/.molt-tmp-1"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
