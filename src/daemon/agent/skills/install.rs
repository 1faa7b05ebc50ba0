//! Writing a checked skill into `skills/<name>/` whole or not at all: its files go to a
//! temporary folder beside it (named with the prefix the replication scan and the skill scan
//! skip), each synced, then the folder is renamed into place. Replacing moves the old folder
//! aside first and puts it back if the new one cannot take its place. Removing renames the
//! folder aside, then deletes it, so nothing ever sees half a skill.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::core::skills::archive::{RESERVED_PREFIX, Unpacked};

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("a skill named `{0}` is already installed")]
    Exists(String),
    #[error("there is no skill named `{0}`")]
    Missing(String),
    #[error("`skills` in the workspace is not a plain folder; no skill is written through it")]
    Root,
    #[error("cannot write `{path}`: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> InstallError + '_ {
    move |source| InstallError::Io { path: path.to_owned(), source }
}

/// A folder removed when dropped, unless it was renamed into place.
struct Temporary(Option<PathBuf>);

impl Drop for Temporary {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_dir_all(path);
        }
    }
}

fn temporary_path(root: &Path) -> PathBuf {
    root.join(format!("{RESERVED_PREFIX}{}", uuid::Uuid::new_v4().simple()))
}

/// The skills folder, created when missing; refused when it is a link or a file.
pub fn root(root: &Path) -> Result<(), InstallError> {
    match std::fs::symlink_metadata(root) {
        Ok(metadata) if metadata.is_dir() => Ok(()),
        Ok(_) => Err(InstallError::Root),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => std::fs::create_dir_all(root).map_err(io(root)),
        Err(error) => Err(io(root)(error)),
    }
}

/// How many skill folders there are.
pub fn count(root: &Path) -> usize {
    std::fs::read_dir(root)
        .map(|entries| entries.flatten().filter(|entry| !entry.file_name().to_string_lossy().starts_with('.')).count())
        .unwrap_or(0)
}

/// Writes the skill; `Ok(true)` when it replaced one of the same name.
pub fn install(root_path: &Path, skill: &Unpacked, replace: bool) -> Result<bool, InstallError> {
    root(root_path)?;
    let name = &skill.manifest.name;
    let target = root_path.join(name);
    let exists = std::fs::symlink_metadata(&target).is_ok();
    if exists && !replace {
        return Err(InstallError::Exists(name.clone()));
    }
    let staging = Temporary(Some(temporary_path(root_path)));
    let folder = staging.0.clone().unwrap_or_default();
    std::fs::create_dir(&folder).map_err(io(&folder))?;
    for file in &skill.files {
        // Each path was checked part by part: relative, no `..`, no reserved name.
        let path = folder.join(&file.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        let mut written = std::fs::OpenOptions::new().write(true).create_new(true).open(&path).map_err(io(&path))?;
        written.write_all(&file.bytes).map_err(io(&path))?;
        written.sync_all().map_err(io(&path))?;
    }
    sync(&folder);
    let mut staging = staging;
    if exists {
        let aside = Temporary(Some(temporary_path(root_path)));
        let old = aside.0.clone().unwrap_or_default();
        std::fs::rename(&target, &old).map_err(io(&target))?;
        if let Err(error) = std::fs::rename(&folder, &target) {
            let _ = std::fs::rename(&old, &target);
            return Err(io(&target)(error));
        }
    } else {
        std::fs::rename(&folder, &target)
            .map_err(|error| if target.exists() { InstallError::Exists(name.clone()) } else { io(&target)(error) })?;
    }
    staging.0 = None;
    sync(root_path);
    Ok(exists)
}

/// Removes the skill's folder (or a link in its place).
pub fn remove(root: &Path, name: &str) -> Result<(), InstallError> {
    let target = root.join(name);
    let metadata = match std::fs::symlink_metadata(&target) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Err(InstallError::Missing(name.into())),
        Err(error) => return Err(io(&target)(error)),
    };
    if !metadata.is_dir() {
        return std::fs::remove_file(&target).map_err(io(&target));
    }
    let aside = Temporary(Some(temporary_path(root)));
    let old = aside.0.clone().unwrap_or_default();
    std::fs::rename(&target, &old).map_err(io(&target))?;
    sync(root);
    Ok(())
}

/// Deletes what an add or a removal left half done when the gateway stopped.
pub fn sweep(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else { return };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(RESERVED_PREFIX) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The rename is durable once its folder is synced; best effort.
fn sync(folder: &Path) {
    if let Ok(folder) = std::fs::File::open(folder) {
        let _ = folder.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::skills::archive::UnpackedFile;
    use crate::core::skills::manifest;

    fn skill(name: &str, body: &str) -> Unpacked {
        let text = format!("---\nname: {name}\ndescription: Test.\n---\n{body}");
        Unpacked {
            manifest: manifest::parse(&text).unwrap(),
            files: vec![
                UnpackedFile { path: "SKILL.md".into(), bytes: text.into_bytes() },
                UnpackedFile { path: "scripts/run.sh".into(), bytes: b"echo hi".to_vec() },
            ],
        }
    }

    fn names(root: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            std::fs::read_dir(root).unwrap().map(|entry| entry.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        names
    }

    #[test]
    fn installs_replaces_and_removes_leaving_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("skills");
        assert!(!install(&root, &skill("notes", "v1"), false).unwrap());
        assert_eq!(std::fs::read_to_string(root.join("notes/scripts/run.sh")).unwrap(), "echo hi");
        assert!(matches!(install(&root, &skill("notes", "v2"), false), Err(InstallError::Exists(_))));
        assert!(std::fs::read_to_string(root.join("notes/SKILL.md")).unwrap().ends_with("v1"));
        assert!(install(&root, &skill("notes", "v2"), true).unwrap());
        assert!(std::fs::read_to_string(root.join("notes/SKILL.md")).unwrap().ends_with("v2"));
        assert_eq!(names(&root), ["notes"], "no temporary folder is left");
        remove(&root, "notes").unwrap();
        assert!(names(&root).is_empty());
        assert!(matches!(remove(&root, "notes"), Err(InstallError::Missing(_))));
    }

    #[test]
    fn a_linked_skills_folder_is_not_written_through_and_leftovers_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        let root = dir.path().join("skills");
        std::os::unix::fs::symlink(&elsewhere, &root).unwrap();
        assert!(matches!(install(&root, &skill("notes", ""), false), Err(InstallError::Root)));
        assert!(names(&elsewhere).is_empty());
        let root = dir.path().join("real");
        std::fs::create_dir_all(root.join(format!("{RESERVED_PREFIX}crashed/scripts"))).unwrap();
        sweep(&root);
        assert!(names(&root).is_empty());
    }
}
