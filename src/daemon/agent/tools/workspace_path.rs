//! The one way a tool turns a path the model gave into a file of the workspace. It refuses
//! absolute paths, drive prefixes, `..` that climbs out, NUL and control characters, names the
//! replication scan would not ship, and any path through a symbolic link, whether it points
//! outside or inside: the scan does not follow links either, so what the tools see is exactly
//! what is backed up. For a guest it also hides the other senders' notes under
//! `memory/<channel>/`. It owns no file IO beyond `stat` and canonicalisation.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use crate::core::asker::MemoryScope;
use crate::daemon::replication::workspace::{MAX_DEPTH, TEMPORARY_PREFIX, valid_name};

/// A path longer than this is refused before it reaches the file system.
const MAX_PATH_BYTES: usize = 1024;
/// Parts of a path at most: the replication scan opens folders `MAX_DEPTH - 1` deep and counts
/// a deeper one as a failed scan, which would keep deleted files in the bucket.
const MAX_PARTS: usize = MAX_DEPTH;
/// The folder whose channel folders hold each sender's notes.
const NOTES_FOLDER: &str = "memory";

/// Why a path was refused; the text goes to the model, which can correct the call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("the path is empty; give a path relative to the workspace, such as `MEMORY.md`")]
    Empty,
    #[error("the path contains a NUL byte")]
    Nul,
    #[error("`{0}` contains a control character")]
    Control(String),
    #[error("the path is longer than {MAX_PATH_BYTES} bytes")]
    TooLong,
    #[error("`{0}` is absolute; give a path relative to the workspace, such as `notes/today.md`")]
    Absolute(String),
    #[error("`{0}` names a drive; give a path relative to the workspace, with `/` between folders")]
    Drive(String),
    #[error("`{0}` contains `\\`; separate folders with `/`")]
    Backslash(String),
    #[error("`{0}` is more than {MAX_PARTS} folders and files deep")]
    TooDeep(String),
    #[error("`{0}` leaves the workspace through `..`")]
    Escapes(String),
    #[error(
        "`{0}` is not a name the workspace keeps (names starting with `{TEMPORARY_PREFIX}` are files being written)"
    )]
    Unkept(String),
    #[error("`{path}` goes through `{link}`, a symbolic link to outside the workspace")]
    LinkOutside { path: String, link: String },
    #[error("`{path}` goes through `{link}`, a symbolic link; the workspace tools do not follow links")]
    Link { path: String, link: String },
    #[error("`{path}` holds another person's notes; you may use only your own, `{own}`")]
    OthersNotes { path: String, own: String },
    #[error(
        "refused: `{0}` shapes every conversation's prompt (the personality, the operator's memory, the skills); only the operator changes it"
    )]
    SharesThePrompt(String),
    #[error("cannot read `{path}`: {error}")]
    Io { path: String, error: String },
    #[error("the workspace cannot be opened: {0}")]
    Workspace(String),
}

/// The workspace as one asker sees it.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// Canonical, so a workspace reached through a link (`/tmp` on macOS) compares right.
    root: PathBuf,
    /// A guest's own notes file; `None` for the operator, who sees everything.
    guest_notes: Option<String>,
}

/// A checked path inside the workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspacePath {
    absolute: PathBuf,
    /// `/`-separated, normalised; empty for the workspace itself.
    relative: String,
}

impl WorkspacePath {
    pub fn absolute(&self) -> &Path {
        &self.absolute
    }

    pub fn relative(&self) -> &str {
        &self.relative
    }

    pub fn is_root(&self) -> bool {
        self.relative.is_empty()
    }

    /// The name as shown to the model: `.` for the workspace itself.
    pub fn shown(&self) -> &str {
        if self.is_root() { "." } else { &self.relative }
    }
}

impl Workspace {
    /// The workspace at `root` for whoever has `scope`: a sender's scope makes a guest.
    pub fn open(root: &Path, scope: &MemoryScope) -> Result<Self, PathError> {
        let root = std::fs::canonicalize(root).map_err(|error| PathError::Workspace(error.to_string()))?;
        let guest_notes = match scope {
            MemoryScope::Shared => None,
            MemoryScope::Sender { .. } => Some(scope.relative_path()),
        };
        Ok(Self { root, guest_notes })
    }

    /// The workspace folder itself.
    pub fn root(&self) -> WorkspacePath {
        WorkspacePath { absolute: self.root.clone(), relative: String::new() }
    }

    /// `raw`, a path the model gave, checked and resolved inside the workspace. `.` and `..`
    /// that stays inside are resolved by name; every part that exists must not be a link.
    pub fn resolve(&self, raw: &str) -> Result<WorkspacePath, PathError> {
        let parts = normalise(raw)?;
        let relative = parts.join("/");
        if !relative.is_empty() && !valid_name(&relative) {
            return Err(PathError::Unkept(relative));
        }
        if parts.len() > MAX_PARTS {
            return Err(PathError::TooDeep(relative));
        }
        self.check_visible(&relative)?;
        let mut absolute = self.root.clone();
        let mut exists = true;
        for (index, part) in parts.iter().enumerate() {
            absolute.push(part);
            if !exists {
                continue;
            }
            match std::fs::symlink_metadata(&absolute) {
                Ok(metadata) if metadata.file_type().is_symlink() => {
                    let link = parts[..=index].join("/");
                    let inside = std::fs::canonicalize(&absolute).is_ok_and(|target| target.starts_with(&self.root));
                    return Err(if inside {
                        PathError::Link { path: relative, link }
                    } else {
                        PathError::LinkOutside { path: relative, link }
                    });
                }
                Ok(_) => {}
                // The rest does not exist yet: a write creates it as plain folders and a file.
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => exists = false,
                Err(error) if error.kind() == std::io::ErrorKind::NotADirectory => exists = false,
                Err(error) => return Err(PathError::Io { path: relative, error: error.to_string() }),
            }
        }
        Ok(WorkspacePath { absolute, relative })
    }

    /// `raw` resolved for a write. A guest may not write what every session's prompt is made
    /// of (`SOUL.md`, `USER.md`, `MEMORY.md`, `skills/`), even with the write tools granted: that
    /// would put a stranger's instructions in front of the operator.
    pub fn resolve_for_write(&self, raw: &str) -> Result<WorkspacePath, PathError> {
        let path = self.resolve(raw)?;
        if self.guest_notes.is_some() {
            let first = path.relative.split('/').next().unwrap_or_default();
            let shared =
                ["SOUL.md", "USER.md", "MEMORY.md", "skills"].iter().any(|name| first.eq_ignore_ascii_case(name));
            if shared {
                return Err(PathError::SharesThePrompt(path.relative));
            }
        }
        Ok(path)
    }

    /// A folder's entry met while walking it, or `None` when the tools do not show it: a name
    /// that is not UTF-8 or that the scan would not ship, or another sender's notes for a
    /// guest. The caller skips links and special files by their file type.
    pub fn child(&self, folder: &WorkspacePath, name: &OsStr) -> Option<WorkspacePath> {
        let name = name.to_str()?;
        let relative = if folder.is_root() { name.to_owned() } else { format!("{}/{name}", folder.relative) };
        if !valid_name(&relative) || name.chars().any(char::is_control) || self.check_visible(&relative).is_err() {
            return None;
        }
        Some(WorkspacePath { absolute: folder.absolute.join(name), relative })
    }

    /// A guest sees no file or folder under `memory/<channel>/` but their own notes. The folder
    /// name is compared without case, so a case-insensitive disk gives no way round it.
    fn check_visible(&self, relative: &str) -> Result<(), PathError> {
        let Some(own) = &self.guest_notes else { return Ok(()) };
        let mut parts = relative.split('/');
        let under_notes = parts.next().is_some_and(|first| first.eq_ignore_ascii_case(NOTES_FOLDER));
        let below_channel = parts.nth(1).is_some();
        if under_notes && below_channel && relative != own {
            return Err(PathError::OthersNotes { path: relative.to_owned(), own: own.clone() });
        }
        Ok(())
    }
}

/// The parts of `raw` with `.` and empty parts dropped and `..` applied, or why it is refused.
fn normalise(raw: &str) -> Result<Vec<&str>, PathError> {
    if raw.trim().is_empty() {
        return Err(PathError::Empty);
    }
    if raw.contains('\0') {
        return Err(PathError::Nul);
    }
    if raw.chars().any(char::is_control) {
        return Err(PathError::Control(raw.escape_debug().to_string()));
    }
    let shown = || raw.to_owned();
    if raw.len() > MAX_PATH_BYTES {
        return Err(PathError::TooLong);
    }
    if raw.starts_with('/') || raw.starts_with('\\') {
        return Err(PathError::Absolute(shown()));
    }
    let bytes = raw.as_bytes();
    if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        return Err(PathError::Drive(shown()));
    }
    if raw.contains('\\') {
        return Err(PathError::Backslash(shown()));
    }
    let mut parts = Vec::new();
    for part in raw.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(PathError::Escapes(shown()));
                }
            }
            name => parts.push(name),
        }
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn operator(dir: &Path) -> Workspace {
        Workspace::open(dir, &MemoryScope::Shared).unwrap()
    }

    fn guest(dir: &Path) -> Workspace {
        Workspace::open(dir, &MemoryScope::Sender { channel: "telegram".into(), sender_id: "77".into() }).unwrap()
    }

    fn relative(workspace: &Workspace, raw: &str) -> String {
        workspace.resolve(raw).map(|path| path.relative().to_owned()).unwrap_or_else(|error| error.to_string())
    }

    #[test]
    fn paths_are_normalised_inside_the_workspace() {
        let dir = tempfile::tempdir().unwrap();
        let workspace = operator(dir.path());
        let soul = workspace.resolve("./notes//SOUL.md").unwrap();
        assert_eq!(soul.relative(), "notes/SOUL.md");
        assert_eq!(soul.absolute(), dir.path().canonicalize().unwrap().join("notes/SOUL.md"));
        assert_eq!(relative(&workspace, "a/../b.md"), "b.md", "`..` that stays inside is resolved by name");
        assert!(workspace.resolve(".").unwrap().is_root());
        assert!(workspace.resolve("skills/").unwrap().relative() == "skills");
    }

    #[test]
    fn paths_that_leave_or_that_the_scan_would_not_keep_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let workspace = operator(dir.path());
        let refused = |raw: &str| workspace.resolve(raw).unwrap_err();
        assert_eq!(refused(".."), PathError::Escapes("..".into()));
        assert_eq!(refused("a/../../x"), PathError::Escapes("a/../../x".into()));
        assert_eq!(refused("/etc/passwd"), PathError::Absolute("/etc/passwd".into()));
        assert_eq!(refused("\\\\server\\share"), PathError::Absolute("\\\\server\\share".into()));
        for drive in ["C:\\Windows", "c:/x", "D:x"] {
            assert_eq!(refused(drive), PathError::Drive(drive.into()));
        }
        assert_eq!(refused("a\\b"), PathError::Backslash("a\\b".into()));
        assert_eq!(refused("MEMORY.md\0.txt"), PathError::Nul);
        assert_eq!(refused("a\nb"), PathError::Control("a\\nb".into()));
        assert_eq!(refused(""), PathError::Empty);
        assert_eq!(refused("  "), PathError::Empty);
        assert_eq!(refused(&"a/".repeat(600)), PathError::TooLong);
        let too_deep = format!("{}b", "a/".repeat(16));
        assert_eq!(refused(&too_deep), PathError::TooDeep(too_deep.clone()));
        assert!(workspace.resolve(&format!("{}b", "a/".repeat(15))).is_ok(), "as deep as the scan goes");
        assert_eq!(refused("notes/.molt-tmp-1234"), PathError::Unkept("notes/.molt-tmp-1234".into()));
        assert!(refused("/etc/passwd").to_string().contains("relative to the workspace"));
    }

    #[cfg(unix)]
    #[test]
    fn a_path_through_any_symbolic_link_is_refused() {
        let outside = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("notes")).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("out")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("notes"), dir.path().join("inner")).unwrap();
        std::os::unix::fs::symlink("/tmp", dir.path().join("notes/tmp")).unwrap();
        let workspace = operator(dir.path());
        let outside_link = |path: &str, link: &str| PathError::LinkOutside { path: path.into(), link: link.into() };
        assert_eq!(workspace.resolve("out/secret.txt").unwrap_err(), outside_link("out/secret.txt", "out"));
        assert_eq!(workspace.resolve("out").unwrap_err(), outside_link("out", "out"));
        assert_eq!(workspace.resolve("notes/tmp/x").unwrap_err(), outside_link("notes/tmp/x", "notes/tmp"));
        let inside = workspace.resolve("inner/today.md").unwrap_err();
        assert_eq!(inside, PathError::Link { path: "inner/today.md".into(), link: "inner".into() });
        assert!(inside.to_string().contains("do not follow links"));
        assert_eq!(relative(&workspace, "notes/new/today.md"), "notes/new/today.md", "missing parts are fine");
    }

    #[cfg(unix)]
    #[test]
    fn a_workspace_reached_through_a_link_still_resolves() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("real")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("real"), dir.path().join("alias")).unwrap();
        let workspace = operator(&dir.path().join("alias"));
        assert_eq!(relative(&workspace, "SOUL.md"), "SOUL.md");
        assert!(
            workspace
                .resolve("SOUL.md")
                .unwrap()
                .absolute()
                .starts_with(dir.path().canonicalize().unwrap().join("real"))
        );
    }

    #[test]
    fn a_guest_never_writes_what_shapes_the_prompt() {
        let dir = tempfile::tempdir().unwrap();
        let guest = guest(dir.path());
        for shared in ["SOUL.md", "user.md", "MEMORY.md", "skills/evil/SKILL.md", "Skills/x.md", "./skills/../SOUL.md"]
        {
            assert!(
                matches!(guest.resolve_for_write(shared), Err(PathError::SharesThePrompt(_))),
                "{shared} must be refused for a guest"
            );
        }
        assert!(guest.resolve_for_write("notes/mine.md").is_ok());
        let operator = Workspace::open(dir.path(), &MemoryScope::Shared).unwrap();
        assert!(operator.resolve_for_write("skills/new/SKILL.md").is_ok());
    }

    #[test]
    fn a_guest_sees_no_notes_but_their_own_and_the_operator_sees_all() {
        let dir = tempfile::tempdir().unwrap();
        let guest = guest(dir.path());
        assert_eq!(relative(&guest, "memory/telegram/77.md"), "memory/telegram/77.md");
        assert_eq!(relative(&guest, "memory/telegram"), "memory/telegram", "the folder lists only their file");
        assert_eq!(relative(&guest, "MEMORY.md"), "MEMORY.md");
        for others in [
            "memory/telegram/12.md",
            "memory/discord/77.md",
            "Memory/telegram/12.md",
            "memory/x/../telegram/12.md",
            "memory/telegram/sub/77.md",
        ] {
            let error = guest.resolve(others).unwrap_err();
            assert!(matches!(error, PathError::OthersNotes { .. }), "{others}: {error}");
            assert!(error.to_string().contains("`memory/telegram/77.md`"), "{error}");
        }
        assert_eq!(relative(&operator(dir.path()), "memory/telegram/12.md"), "memory/telegram/12.md");
    }

    #[test]
    fn a_walk_skips_what_the_tools_do_not_show() {
        let dir = tempfile::tempdir().unwrap();
        let guest = guest(dir.path());
        let channel = guest.resolve("memory/telegram").unwrap();
        let child = |workspace: &Workspace, folder: &WorkspacePath, name: &str| {
            workspace.child(folder, OsStr::new(name)).map(|path| path.relative().to_owned())
        };
        assert_eq!(child(&guest, &channel, "77.md").as_deref(), Some("memory/telegram/77.md"));
        assert_eq!(child(&guest, &channel, "12.md"), None);
        assert_eq!(child(&operator(dir.path()), &channel, "12.md").as_deref(), Some("memory/telegram/12.md"));
        assert_eq!(child(&guest, &guest.root(), ".molt-tmp-abc"), None);
        assert_eq!(child(&guest, &guest.root(), "SOUL.md").as_deref(), Some("SOUL.md"));
    }
}
