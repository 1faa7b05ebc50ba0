//! A skill's folder as a `.zip`: its files under one top folder named as the folder is, in
//! name order, DEFLATE-compressed. Symbolic links and anything but plain files and folders are
//! refused, `.git` is left out, and the same limits as the gateway's apply, so a skill too
//! large is refused here rather than after the upload.

use std::io::Write;
use std::path::{Path, PathBuf};

use rawzip::{CompressionMethod, ZipArchiveWriter};

use super::Limits;
use super::archive::path_problem;

#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error("cannot read `{path}`: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("`{0}` is a symbolic link; a skill holds plain files and folders")]
    Symlink(PathBuf),
    #[error("`{0}` is neither a file nor a folder")]
    Special(PathBuf),
    #[error("`{path}` cannot be in a skill: it {problem}")]
    BadPath { path: PathBuf, problem: &'static str },
    #[error("`{0}` has no usable folder name")]
    NoName(PathBuf),
    #[error("`{0}` holds more than {1} files")]
    TooManyFiles(PathBuf, usize),
    #[error("`{0}` holds more than {1} bytes")]
    TooLarge(PathBuf, u64),
    #[error("`{0}` has no `SKILL.md`")]
    NoSkillFile(PathBuf),
    #[error("cannot write the archive: {0}")]
    Zip(String),
}

/// The folder's name: the name the skill must have.
pub fn folder_name(folder: &Path) -> Result<String, PackError> {
    let absolute = std::fs::canonicalize(folder).map_err(|source| PackError::Read { path: folder.into(), source })?;
    absolute
        .file_name()
        .and_then(|name| name.to_str())
        .map(str::to_owned)
        .ok_or_else(|| PackError::NoName(folder.into()))
}

/// Zips `folder` for upload.
pub fn pack(folder: &Path, limits: &Limits) -> Result<Vec<u8>, PackError> {
    let name = folder_name(folder)?;
    let files = collect(folder, limits)?;
    if !files.iter().any(|(relative, _)| relative == super::SKILL_FILE) {
        return Err(PackError::NoSkillFile(folder.into()));
    }
    let zip = |error: rawzip::Error| PackError::Zip(error.to_string());
    let io = |error: std::io::Error| PackError::Zip(error.to_string());
    let mut output = Vec::new();
    let mut archive = ZipArchiveWriter::new(&mut output);
    for (relative, path) in &files {
        let bytes = std::fs::read(path).map_err(|source| PackError::Read { path: path.clone(), source })?;
        let entry_name = format!("{name}/{relative}");
        let (mut entry, config) = archive
            .new_file(entry_name.as_str())
            .compression_method(CompressionMethod::DEFLATE)
            .start()
            .map_err(zip)?;
        let encoder = flate2::write::DeflateEncoder::new(&mut entry, flate2::Compression::default());
        let mut writer = config.wrap(encoder);
        writer.write_all(&bytes).map_err(io)?;
        let (encoder, descriptor) = writer.finish().map_err(zip)?;
        encoder.finish().map_err(io)?;
        entry.finish(descriptor).map_err(zip)?;
    }
    archive.finish().map_err(zip)?;
    Ok(output)
}

/// Every file below `folder` (`/`-separated relative path, full path), in name order, within
/// the limits.
fn collect(folder: &Path, limits: &Limits) -> Result<Vec<(String, PathBuf)>, PackError> {
    let mut files = Vec::new();
    let mut total = 0u64;
    let mut stack = vec![(folder.to_owned(), String::new(), 0usize)];
    while let Some((dir, prefix, depth)) = stack.pop() {
        let read = |source| PackError::Read { path: dir.clone(), source };
        let mut entries: Vec<_> = std::fs::read_dir(&dir).map_err(read)?.collect::<Result<_, _>>().map_err(read)?;
        entries.sort_by_key(std::fs::DirEntry::file_name);
        // Popped last-in first-out: pushed in reverse, folders come out in name order.
        let mut folders = Vec::new();
        for entry in entries {
            let path = entry.path();
            let Some(file_name) = entry.file_name().to_str().map(str::to_owned) else {
                return Err(PackError::BadPath { path, problem: "is not UTF-8" });
            };
            if file_name == ".git" {
                continue;
            }
            let relative = format!("{prefix}{file_name}");
            if let Some(problem) = path_problem(&relative) {
                return Err(PackError::BadPath { path, problem });
            }
            let metadata =
                std::fs::symlink_metadata(&path).map_err(|source| PackError::Read { path: path.clone(), source })?;
            if metadata.file_type().is_symlink() {
                return Err(PackError::Symlink(path));
            } else if metadata.is_dir() {
                if depth + 1 > limits.depth {
                    return Err(PackError::BadPath { path, problem: "is nested too deep" });
                }
                folders.push((path, format!("{relative}/"), depth + 1));
            } else if metadata.is_file() {
                total += metadata.len();
                if files.len() >= limits.files {
                    return Err(PackError::TooManyFiles(folder.into(), limits.files));
                }
                if total > limits.total_bytes {
                    return Err(PackError::TooLarge(folder.into(), limits.total_bytes));
                }
                files.push((relative, path));
            } else {
                return Err(PackError::Special(path));
            }
        }
        stack.extend(folders.into_iter().rev());
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::skills::archive::unpack;

    #[test]
    fn a_packed_folder_unpacks_to_the_same_files() {
        let dir = tempfile::tempdir().unwrap();
        let skill = dir.path().join("weather");
        std::fs::create_dir_all(skill.join("scripts/lib")).unwrap();
        std::fs::create_dir_all(skill.join(".git")).unwrap();
        std::fs::write(skill.join(".git/HEAD"), "ref").unwrap();
        std::fs::write(skill.join("SKILL.md"), "---\nname: weather\ndescription: Forecasts.\n---\nAsk wttr.in.\n")
            .unwrap();
        std::fs::write(skill.join("scripts/get.sh"), "curl wttr.in\n").unwrap();
        std::fs::write(skill.join("scripts/lib/util.sh"), "true\n").unwrap();
        let zip = pack(&skill, &Limits::DEFAULT).unwrap();
        let unpacked = unpack(&zip, &Limits::DEFAULT).unwrap();
        assert_eq!(unpacked.manifest.name, "weather");
        let paths: Vec<&str> = unpacked.files.iter().map(|file| file.path.as_str()).collect();
        assert_eq!(paths, ["SKILL.md", "scripts/get.sh", "scripts/lib/util.sh"], "in name order, `.git` left out");
        assert_eq!(unpacked.files[1].bytes, b"curl wttr.in\n");
    }

    #[test]
    fn links_and_oversized_folders_are_refused_before_upload() {
        let dir = tempfile::tempdir().unwrap();
        let skill = dir.path().join("linked");
        std::fs::create_dir_all(&skill).unwrap();
        std::fs::write(skill.join("SKILL.md"), "---\nname: linked\ndescription: d\n---\n").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", skill.join("passwd")).unwrap();
        assert!(matches!(pack(&skill, &Limits::DEFAULT), Err(PackError::Symlink(_))));
        std::fs::remove_file(skill.join("passwd")).unwrap();
        std::fs::write(skill.join("big.bin"), vec![0u8; 2048]).unwrap();
        let small = Limits { total_bytes: 1024, ..Limits::DEFAULT };
        assert!(matches!(pack(&skill, &small), Err(PackError::TooLarge(..))));
        let few = Limits { files: 1, ..Limits::DEFAULT };
        assert!(matches!(pack(&skill, &few), Err(PackError::TooManyFiles(..))));
        std::fs::remove_file(skill.join("SKILL.md")).unwrap();
        assert!(matches!(pack(&skill, &Limits::DEFAULT), Err(PackError::NoSkillFile(_))));
    }
}
