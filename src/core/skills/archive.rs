//! A skill's `.zip`, read in memory and checked whole before anything is written: every path
//! stays inside the skill's folder (no `..`, no absolute path, no drive, no backslash, no
//! symbolic link), only stored and DEFLATE entries, no encryption, no two entries on the same
//! bytes; the sizes the archive declares are bounded first, and every entry is inflated at most
//! one byte past its declared size and checked against it and its CRC, so a zip bomb stops at
//! the limit. The archive holds the skill's files at its top or in one top folder, which must
//! be named as the skill is.

use std::collections::BTreeSet;
use std::io::Read;

use rawzip::{CompressionMethod, ZipArchive};

use super::manifest::{self, Manifest, ManifestError};
use super::{Limits, SKILL_FILE};

/// A name part the workspace's replication keeps for files being written: never in a skill.
pub const RESERVED_PREFIX: &str = ".molt-tmp-";
/// What macOS's Finder adds to a zip it makes: resource forks, not the skill's files.
const MACOS_METADATA: &str = "__MACOSX/";

/// A checked skill, ready to be written: its front matter and its files, paths relative to its
/// folder, `SKILL.md` among them.
#[derive(Debug)]
pub struct Unpacked {
    pub manifest: Manifest,
    pub files: Vec<UnpackedFile>,
}

#[derive(Debug)]
pub struct UnpackedFile {
    pub path: String,
    pub bytes: Vec<u8>,
}

impl Unpacked {
    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|file| file.bytes.len() as u64).sum()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("the archive is {bytes} bytes; a skill's archive is at most {limit}")]
    ArchiveTooLarge { bytes: u64, limit: u64 },
    #[error("the body is not a readable `.zip`: {0}")]
    NotZip(String),
    #[error("the archive has more than {0} entries")]
    TooManyEntries(usize),
    #[error("`{path}` {problem}")]
    BadPath { path: String, problem: &'static str },
    #[error("`{0}` is a symbolic link; a skill holds plain files and folders")]
    Symlink(String),
    #[error("`{0}` is encrypted")]
    Encrypted(String),
    #[error("`{path}` is compressed with {method}; only stored and DEFLATE entries are read")]
    Compression { path: String, method: String },
    #[error("`{0}` is in the archive twice")]
    Duplicate(String),
    #[error("the skill has more than {0} files")]
    TooManyFiles(usize),
    #[error("the skill's files add up to more than {0} bytes unpacked")]
    TooLarge(u64),
    #[error("`{path}` says it holds {declared} bytes but inflates to more")]
    Inflates { path: String, declared: u64 },
    #[error("`{path}` does not match its declared size or checksum: {reason}")]
    Damaged { path: String, reason: String },
    #[error("two entries share the same bytes in the archive (`{0}`)")]
    Overlapping(String),
    #[error("the archive has no `SKILL.md` at its top or in one top folder")]
    NoSkillFile,
    #[error("`SKILL.md` is over {0} bytes")]
    SkillFileTooLarge(u64),
    #[error("`SKILL.md` is not UTF-8 text")]
    SkillFileNotText,
    #[error("`SKILL.md`: {0}")]
    Manifest(#[from] ManifestError),
    #[error("the skill is named `{name}` but its folder is `{folder}`; they must be the same")]
    NameMismatch { name: String, folder: String },
}

/// Why a path from an archive may not be written, or `None`: relative, `/`-separated parts
/// that are neither empty, `.` nor `..`, without `\`, `:`, control characters or the reserved
/// prefix.
pub fn path_problem(path: &str) -> Option<&'static str> {
    if path.is_empty() {
        return Some("is an empty path");
    }
    if path.starts_with('/') {
        return Some("is an absolute path");
    }
    if path.contains('\\') {
        return Some("has a backslash");
    }
    if path.contains(':') {
        return Some("has a `:` (a drive or a stream name)");
    }
    if path.chars().any(char::is_control) {
        return Some("has a control character");
    }
    for part in path.split('/') {
        match part {
            "" => return Some("has an empty part"),
            "." | ".." => return Some("leaves its folder (`.` or `..`)"),
            _ if part.starts_with(RESERVED_PREFIX) => return Some("uses a name molt keeps for itself"),
            _ => {}
        }
    }
    None
}

/// A path as it may be shown in a message: cut, and with what a terminal would act on escaped.
fn shown(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(&raw[..raw.len().min(120)]);
    text.chars().flat_map(char::escape_debug).collect::<String>().replace('`', "'")
}

/// One file entry to inflate.
struct Pending {
    path: String,
    wayfinder: rawzip::ZipArchiveEntryWayfinder,
    method: CompressionMethod,
    declared: u64,
}

/// Reads and checks a whole skill archive.
pub fn unpack(archive: &[u8], limits: &Limits) -> Result<Unpacked, ArchiveError> {
    let bytes = archive.len() as u64;
    if bytes > limits.archive_bytes {
        return Err(ArchiveError::ArchiveTooLarge { bytes, limit: limits.archive_bytes });
    }
    let zip = ZipArchive::from_slice(archive).map_err(|error| ArchiveError::NotZip(error.to_string()))?;
    // Folders count too, so allow a few per file.
    let max_entries = limits.files.saturating_mul(4);
    if zip.entries_hint() > max_entries as u64 {
        return Err(ArchiveError::TooManyEntries(max_entries));
    }
    let (mut pending, mut folders) = (Vec::new(), BTreeSet::new());
    let mut declared_total = 0u64;
    for (index, entry) in zip.entries().enumerate() {
        if index >= max_entries {
            return Err(ArchiveError::TooManyEntries(max_entries));
        }
        let entry = entry.map_err(|error| ArchiveError::NotZip(error.to_string()))?;
        let raw = entry.file_path().as_bytes();
        let Ok(path) = std::str::from_utf8(raw) else {
            return Err(ArchiveError::BadPath { path: shown(raw), problem: "is not UTF-8" });
        };
        if path.starts_with(MACOS_METADATA) {
            continue;
        }
        let trimmed = if entry.is_dir() { path.strip_suffix('/').unwrap_or(path) } else { path };
        if let Some(problem) = path_problem(trimmed) {
            return Err(ArchiveError::BadPath { path: shown(raw), problem });
        }
        if entry.mode().is_symlink() {
            return Err(ArchiveError::Symlink(shown(raw)));
        }
        if entry.is_dir() {
            folders.insert(trimmed.to_owned());
            continue;
        }
        if entry.flags().is_encrypted() {
            return Err(ArchiveError::Encrypted(shown(raw)));
        }
        let method = entry.compression_method();
        if method != CompressionMethod::STORE && method != CompressionMethod::DEFLATE {
            return Err(ArchiveError::Compression { path: shown(raw), method: method.to_string() });
        }
        if pending.len() >= limits.files {
            return Err(ArchiveError::TooManyFiles(limits.files));
        }
        let declared = entry.uncompressed_size_hint();
        declared_total = declared_total.saturating_add(declared);
        if declared_total > limits.total_bytes {
            return Err(ArchiveError::TooLarge(limits.total_bytes));
        }
        pending.push(Pending { path: trimmed.to_owned(), wayfinder: entry.wayfinder(), method, declared });
    }
    let folder = top_folder(&pending)?;
    let strip = folder.as_ref().map_or(0, |name| name.len() + 1);
    let mut seen = BTreeSet::new();
    let mut ranges = Vec::new();
    let mut files = Vec::new();
    for entry in &pending {
        let inner = &entry.path[strip..];
        check_shape(inner, limits)?;
        if !seen.insert(inner.to_owned()) || folders.contains(&entry.path) {
            return Err(ArchiveError::Duplicate(entry.path.clone()));
        }
        let located = zip
            .get_entry(entry.wayfinder)
            .map_err(|error| ArchiveError::Damaged { path: entry.path.clone(), reason: error.to_string() })?;
        ranges.push((located.compressed_data_range(), entry.path.clone()));
        let bytes = inflate(&located, entry)?;
        files.push(UnpackedFile { path: inner.to_owned(), bytes });
    }
    refuse_overlaps(ranges)?;
    refuse_file_under_file(&seen)?;
    let manifest = manifest_of(&files, limits)?;
    if let Some(folder) = folder
        && folder != manifest.name
    {
        return Err(ArchiveError::NameMismatch { name: manifest.name, folder });
    }
    Ok(Unpacked { manifest, files })
}

/// `None` when `SKILL.md` is at the top; the one top folder's name when every file is in it.
fn top_folder(pending: &[Pending]) -> Result<Option<String>, ArchiveError> {
    if pending.iter().any(|entry| entry.path == SKILL_FILE) {
        return Ok(None);
    }
    let tops: BTreeSet<&str> = pending.iter().map(|entry| entry.path.split('/').next().unwrap_or_default()).collect();
    match tops.into_iter().collect::<Vec<_>>().as_slice() {
        [top] if pending.iter().any(|entry| entry.path == format!("{top}/{SKILL_FILE}")) => Ok(Some((*top).to_owned())),
        _ => Err(ArchiveError::NoSkillFile),
    }
}

fn check_shape(inner: &str, limits: &Limits) -> Result<(), ArchiveError> {
    if inner.len() > limits.path_bytes {
        return Err(ArchiveError::BadPath { path: shown(inner.as_bytes()), problem: "is too long a path" });
    }
    if inner.matches('/').count() > limits.depth {
        return Err(ArchiveError::BadPath { path: shown(inner.as_bytes()), problem: "is nested too deep" });
    }
    Ok(())
}

/// The entry's bytes, inflated at most one byte past its declared size; then its size and CRC
/// checked against the central directory's.
fn inflate(located: &rawzip::ZipSliceEntry<'_>, entry: &Pending) -> Result<Vec<u8>, ArchiveError> {
    let data = located.data();
    let reader: Box<dyn Read> = if entry.method == CompressionMethod::DEFLATE {
        Box::new(flate2::bufread::DeflateDecoder::new(data))
    } else {
        Box::new(data)
    };
    let damaged = |reason: String| ArchiveError::Damaged { path: entry.path.clone(), reason };
    let mut bytes = Vec::with_capacity(usize::try_from(entry.declared.min(1 << 20)).unwrap_or(0));
    reader
        .take(entry.declared.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|error| damaged(error.to_string()))?;
    if bytes.len() as u64 > entry.declared {
        return Err(ArchiveError::Inflates { path: entry.path.clone(), declared: entry.declared });
    }
    let actual = rawzip::ZipVerification { crc: rawzip::crc32(&bytes), uncompressed_size: bytes.len() as u64 };
    located.claim_verifier().valid(actual).map_err(|error| damaged(error.to_string()))?;
    Ok(bytes)
}

/// Entries whose compressed bytes overlap are how the smallest zip bombs multiply one stream.
fn refuse_overlaps(mut ranges: Vec<((u64, u64), String)>) -> Result<(), ArchiveError> {
    ranges.sort_by_key(|((start, _), _)| *start);
    for pair in ranges.windows(2) {
        if pair[0].0.1 > pair[1].0.0 {
            return Err(ArchiveError::Overlapping(pair[1].1.clone()));
        }
    }
    Ok(())
}

/// `a` as a file and `a/b` as another cannot both be written.
fn refuse_file_under_file(paths: &BTreeSet<String>) -> Result<(), ArchiveError> {
    for path in paths {
        let mut parent = path.as_str();
        while let Some((up, _)) = parent.rsplit_once('/') {
            if paths.contains(up) {
                return Err(ArchiveError::Duplicate(up.to_owned()));
            }
            parent = up;
        }
    }
    Ok(())
}

fn manifest_of(files: &[UnpackedFile], limits: &Limits) -> Result<Manifest, ArchiveError> {
    let skill = files.iter().find(|file| file.path == SKILL_FILE).ok_or(ArchiveError::NoSkillFile)?;
    if skill.bytes.len() as u64 > limits.skill_file_bytes {
        return Err(ArchiveError::SkillFileTooLarge(limits.skill_file_bytes));
    }
    let text = std::str::from_utf8(&skill.bytes).map_err(|_| ArchiveError::SkillFileNotText)?;
    Ok(manifest::parse(text)?)
}

#[cfg(test)]
#[path = "archive_tests.rs"]
mod tests;
