//! The skills installed in the workspace (`skills/<name>/SKILL.md`): found by a scan of the
//! folder (each `SKILL.md`'s front matter parsed once per change of its size or time), judged
//! against this machine (`requirements`), switched on or off by the operator (a store setting,
//! replicated, never touched by a restart), and listed in the system prompt (`listing`).
//! Skills arrive as files like any other workspace file (the admin API, `write_file`, a
//! restore from the bucket), so every scan takes the folder as it finds it.

mod changes;
mod install;
mod listing;
mod requirements;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use serde::Serialize;

pub use changes::SkillsError;
pub use listing::{MAX_DESCRIPTION_BYTES, MAX_LISTED, MAX_LISTING_BYTES, skill_path};
pub use requirements::Machine;

use super::budget;
use crate::core::skills::manifest::{self, Manifest};
use crate::core::skills::{Limits, SKILL_FILE, name_problem};
use crate::core::sync::lock;

/// The store setting that holds the names the operator switched off (JSON list).
pub const DISABLED_SETTING: &str = "skills.disabled";
/// Folders under `skills/` looked at, at most (in name order).
const MAX_FOLDERS: usize = 1000;

pub struct Skills {
    root: PathBuf,
    disabled: Mutex<BTreeSet<String>>,
    cache: Mutex<BTreeMap<String, Cached>>,
    /// Adds, removals and switches, one at a time.
    changing: tokio::sync::Mutex<()>,
}

/// A `SKILL.md` as last read: read again when its size or time changes.
struct Cached {
    modified: Option<SystemTime>,
    bytes: u64,
    parsed: Result<Manifest, String>,
}

/// One skill as the admin page and `molt skills list` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SkillView {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub path: String,
    pub enabled: bool,
    pub usable: bool,
    /// In the system prompt now.
    pub listed: bool,
    /// Why it is not usable, or, usable and enabled, why it is not listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SkillsView {
    pub skills: Vec<SkillView>,
    /// What the listing adds to the system prompt now.
    pub prompt_bytes: usize,
    pub prompt_tokens: u64,
    pub limits: ListingLimits,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListingLimits {
    pub listed: usize,
    pub listing_bytes: usize,
    pub description_bytes: usize,
}

/// Everything a scan learned, and the prompt section it makes.
struct Survey {
    skills: Vec<SkillView>,
    section: String,
}

impl Skills {
    pub fn new(workspace: &Path) -> Self {
        Self {
            root: workspace.join("skills"),
            disabled: Mutex::new(BTreeSet::new()),
            cache: Mutex::new(BTreeMap::new()),
            changing: tokio::sync::Mutex::new(()),
        }
    }

    /// The skills section of the system prompt: empty when no skill is listed.
    pub fn prompt_section(&self) -> String {
        self.survey(&Machine::process()).section
    }

    pub fn view(&self) -> SkillsView {
        let survey = self.survey(&Machine::process());
        SkillsView {
            prompt_bytes: survey.section.len(),
            prompt_tokens: budget::estimate(&survey.section),
            skills: survey.skills,
            limits: ListingLimits {
                listed: MAX_LISTED,
                listing_bytes: MAX_LISTING_BYTES,
                description_bytes: MAX_DESCRIPTION_BYTES,
            },
        }
    }

    fn survey(&self, machine: &Machine<'_>) -> Survey {
        let disabled = lock(&self.disabled).clone();
        let mut skills: Vec<SkillView> = self
            .scan()
            .into_iter()
            .map(|(name, parsed)| {
                let enabled = !disabled.contains(&name);
                let (description, reason) = match parsed {
                    Ok(manifest) => (Some(manifest.description), requirements::unmet(&manifest.gates, machine)),
                    Err(reason) => (None, Some(reason)),
                };
                SkillView {
                    path: skill_path(&name),
                    name,
                    description,
                    enabled,
                    usable: reason.is_none(),
                    listed: false,
                    reason,
                }
            })
            .collect();
        let offered = skills.iter().filter(|skill| skill.enabled && skill.usable);
        let listing =
            listing::listing(offered.map(|skill| (skill.name.as_str(), skill.description.as_deref().unwrap_or(""))));
        let left_out: BTreeSet<&String> = listing.left_out.iter().collect();
        for skill in skills.iter_mut().filter(|skill| skill.enabled && skill.usable) {
            if left_out.contains(&skill.name) {
                skill.reason = Some(format!(
                    "not listed: the prompt lists {MAX_LISTED} skills and {MAX_LISTING_BYTES} bytes of them at most"
                ));
            } else {
                skill.listed = true;
            }
        }
        Survey { skills, section: listing.text }
    }

    /// Every skill folder, in name order, with its front matter or why it cannot be read.
    /// Names starting with `.` (files being written among them) and plain files are skipped.
    fn scan(&self) -> Vec<(String, Result<Manifest, String>)> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
            Err(error) => {
                tracing::warn!(path = %self.root.display(), %error, "cannot list the skills");
                return Vec::new();
            }
        };
        let mut folders: Vec<(String, bool)> = entries
            .flatten()
            .filter_map(|entry| {
                let name = entry.file_name().into_string().ok()?;
                let kind = entry.file_type().ok()?;
                (!name.starts_with('.') && (kind.is_dir() || kind.is_symlink())).then_some((name, kind.is_symlink()))
            })
            .collect();
        folders.sort();
        if folders.len() > MAX_FOLDERS {
            tracing::warn!(found = folders.len(), "more skill folders than are read; the last by name are ignored");
            folders.truncate(MAX_FOLDERS);
        }
        let mut cache = lock(&self.cache);
        cache.retain(|name, _| folders.iter().any(|(folder, _)| folder == name));
        folders
            .into_iter()
            .map(|(name, link)| {
                let parsed = if link {
                    Err(format!("`skills/{name}` is a symbolic link; skills are plain folders"))
                } else if let Some(problem) = name_problem(&name) {
                    Err(format!("the folder's name cannot be a skill's: {problem}"))
                } else {
                    read_manifest(&self.root.join(&name), &name, &mut cache)
                };
                (name, parsed)
            })
            .collect()
    }
}

/// The folder's `SKILL.md` front matter, from the cache when its size and time are unchanged.
fn read_manifest(folder: &Path, name: &str, cache: &mut BTreeMap<String, Cached>) -> Result<Manifest, String> {
    let path = folder.join(SKILL_FILE);
    let metadata = match std::fs::symlink_metadata(&path) {
        Ok(metadata) if metadata.is_file() => metadata,
        Ok(_) => return Err(format!("`{}` is not a plain file", skill_path(name))),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Err("it has no `SKILL.md`".into()),
        Err(error) => return Err(format!("cannot read `{}`: {error}", skill_path(name))),
    };
    let limit = Limits::DEFAULT.skill_file_bytes;
    if metadata.len() > limit {
        return Err(format!("`SKILL.md` is over {limit} bytes"));
    }
    let modified = metadata.modified().ok();
    if let Some(cached) = cache.get(name)
        && modified.is_some()
        && cached.modified == modified
        && cached.bytes == metadata.len()
    {
        return cached.parsed.clone();
    }
    let parsed = match std::fs::read(&path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => manifest::parse(&text)
                .map_err(|error| format!("`SKILL.md`: {error}"))
                .and_then(|manifest| matching(manifest, name)),
            Err(_) => Err("`SKILL.md` is not UTF-8 text".into()),
        },
        Err(error) => return Err(format!("cannot read `{}`: {error}", skill_path(name))),
    };
    cache.insert(name.to_owned(), Cached { modified, bytes: metadata.len(), parsed: parsed.clone() });
    parsed
}

fn matching(manifest: Manifest, folder: &str) -> Result<Manifest, String> {
    if manifest.name == folder {
        Ok(manifest)
    } else {
        Err(format!("`SKILL.md` names it `{}` but its folder is `{folder}`; they must be the same", manifest.name))
    }
}

#[cfg(test)]
mod tests;
