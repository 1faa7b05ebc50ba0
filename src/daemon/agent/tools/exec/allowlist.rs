//! The commands `exec` runs without asking: the operator's allowlist, kept as one store setting
//! (so it is replicated with the rest of the store and survives restarts). An entry is either
//! the exact command, or a prefix ending in `*` (`git log *`); a prefix covers a command only
//! when what follows it holds none of the shell's ways to start another command (`;`, `&`, `|`,
//! `$`, backquotes, redirections, parentheses, new lines), so `git log *` never covers
//! `git log; rm -rf ~`.

use serde::{Deserialize, Serialize};

use crate::core::time::now_ms;
use crate::daemon::store::{Store, StoreError};

pub const ALLOWLIST_SETTING: &str = "tools.exec_allowlist";
/// Entries at most, and characters in one.
const MAX_ENTRIES: usize = 200;
const MAX_PATTERN_CHARS: usize = 1000;
/// What may not follow a prefix: each starts, chains or redirects a command in `sh`.
const SHELL_CONTROL: &[char] = &[';', '&', '|', '$', '`', '<', '>', '(', ')', '\n', '\r', '\\'];

/// One allowlist entry as the store keeps it and the admin page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AllowEntry {
    pub pattern: String,
    pub added_at_ms: i64,
    pub added_by: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("the pattern is empty")]
    Empty,
    #[error("the pattern is longer than {MAX_PATTERN_CHARS} characters")]
    TooLong,
    #[error("the pattern contains a control character")]
    Control,
    #[error("`*` may only end a pattern, after the start of a command (`git log *`)")]
    Star,
    #[error("`{pattern}` does not cover `{command}`; give the command itself or a prefix of it ending in `*`")]
    NotCovering { pattern: String, command: String },
    #[error("the allowlist is full ({MAX_ENTRIES} entries); remove some on the admin page")]
    Full,
}

#[derive(Debug, thiserror::Error)]
pub enum AllowlistError {
    #[error(transparent)]
    Pattern(#[from] PatternError),
    #[error("`{0}` is not on the allowlist")]
    Unknown(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// `raw` as an entry: trimmed, one line, with at most a final `*` after some text.
pub fn checked_pattern(raw: &str) -> Result<String, PatternError> {
    let pattern = raw.trim();
    if pattern.is_empty() {
        return Err(PatternError::Empty);
    }
    if pattern.chars().count() > MAX_PATTERN_CHARS {
        return Err(PatternError::TooLong);
    }
    if pattern.chars().any(char::is_control) {
        return Err(PatternError::Control);
    }
    let body = pattern.strip_suffix('*').unwrap_or(pattern);
    if body.contains('*') && pattern.ends_with('*') || body.trim().is_empty() {
        return Err(PatternError::Star);
    }
    Ok(pattern.to_owned())
}

/// Whether `pattern` covers `command` (both as given; the command trimmed).
pub fn covers(pattern: &str, command: &str) -> bool {
    let command = command.trim();
    match pattern.strip_suffix('*') {
        Some(prefix) if !prefix.trim().is_empty() => {
            command == prefix.trim_end()
                || command.strip_prefix(prefix).is_some_and(|rest| !rest.contains(SHELL_CONTROL))
        }
        _ => pattern == command,
    }
}

/// The allowlist in the store. Changes are read-modify-write of one setting, one at a time.
pub struct Allowlist {
    store: Store,
    writes: tokio::sync::Mutex<()>,
}

impl Allowlist {
    pub fn new(store: Store) -> Self {
        Self { store, writes: tokio::sync::Mutex::new(()) }
    }

    /// Every entry, oldest first. A value that cannot be read is an empty allowlist: nothing
    /// runs without asking, which is the safe side.
    pub async fn entries(&self) -> Result<Vec<AllowEntry>, StoreError> {
        let stored = self.store.setting(ALLOWLIST_SETTING).await?;
        Ok(stored.map_or_else(Vec::new, |raw| {
            serde_json::from_str(&raw).unwrap_or_else(|error| {
                tracing::error!(%error, "the stored exec allowlist cannot be read; treating it as empty");
                Vec::new()
            })
        }))
    }

    /// The entry that covers `command`, if any.
    pub async fn covering(&self, command: &str) -> Result<Option<String>, StoreError> {
        let entries = self.entries().await?;
        Ok(entries.into_iter().map(|entry| entry.pattern).find(|pattern| covers(pattern, command)))
    }

    /// Adds `pattern` (already checked), unless it is there already.
    pub async fn add(&self, pattern: &str, added_by: &str) -> Result<(), AllowlistError> {
        let _one_at_a_time = self.writes.lock().await;
        let mut entries = self.entries().await?;
        if entries.iter().any(|entry| entry.pattern == pattern) {
            return Ok(());
        }
        if entries.len() >= MAX_ENTRIES {
            return Err(PatternError::Full.into());
        }
        entries.push(AllowEntry { pattern: pattern.to_owned(), added_at_ms: now_ms(), added_by: added_by.to_owned() });
        self.save(&entries).await
    }

    pub async fn remove(&self, pattern: &str) -> Result<(), AllowlistError> {
        let _one_at_a_time = self.writes.lock().await;
        let mut entries = self.entries().await?;
        let before = entries.len();
        entries.retain(|entry| entry.pattern != pattern);
        if entries.len() == before {
            return Err(AllowlistError::Unknown(pattern.to_owned()));
        }
        self.save(&entries).await
    }

    async fn save(&self, entries: &[AllowEntry]) -> Result<(), AllowlistError> {
        let value = serde_json::to_string(entries).unwrap_or_else(|_| "[]".into());
        Ok(self.store.set_setting(ALLOWLIST_SETTING, &value).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exact_entry_covers_only_its_command() {
        assert!(covers("git status", "git status"));
        assert!(covers("git status", "  git status "));
        assert!(!covers("git status", "git status --short"));
        assert!(!covers("git status", "git status; rm -rf ~"));
    }

    #[test]
    fn a_prefix_covers_arguments_but_never_a_second_command() {
        assert!(covers("git log *", "git log --oneline -5"));
        assert!(covers("git log *", "git log 'a b'"));
        assert!(covers("git log *", "git log"), "the prefix alone");
        assert!(!covers("git log *", "git status"));
        for chained in [
            "git log; rm -rf ~",
            "git log && curl x",
            "git log | sh",
            "git log $(id)",
            "git log `id`",
            "git log > ~/.profile",
            "git log\nid",
            "git log (id)",
            "git log \\\nid",
        ] {
            assert!(!covers("git log *", chained), "{chained:?}");
        }
    }

    #[test]
    fn patterns_are_checked() {
        assert_eq!(checked_pattern("  ls -la "), Ok("ls -la".to_owned()));
        assert_eq!(checked_pattern("git log *"), Ok("git log *".to_owned()));
        assert_eq!(checked_pattern("*"), Err(PatternError::Star));
        assert_eq!(checked_pattern("  *"), Err(PatternError::Star));
        assert_eq!(checked_pattern("git * log *"), Err(PatternError::Star));
        assert_eq!(checked_pattern(""), Err(PatternError::Empty));
        assert_eq!(checked_pattern("ls\nid"), Err(PatternError::Control));
        // A `*` inside an exact command is the shell's glob, not ours.
        assert_eq!(checked_pattern("ls *.md"), Ok("ls *.md".to_owned()));
        assert!(covers("ls *.md", "ls *.md") && !covers("ls *.md", "ls a.md"));
    }

    #[tokio::test]
    async fn entries_are_kept_in_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let allowlist = Allowlist::new(store.clone());
        allowlist.add("git status", "local token").await.unwrap();
        allowlist.add("git log *", "telegram:42").await.unwrap();
        allowlist.add("git status", "again").await.unwrap();
        let patterns: Vec<String> = allowlist.entries().await.unwrap().into_iter().map(|entry| entry.pattern).collect();
        assert_eq!(patterns, ["git status", "git log *"]);
        assert_eq!(allowlist.covering("git log -1").await.unwrap().as_deref(), Some("git log *"));
        allowlist.remove("git log *").await.unwrap();
        assert!(matches!(allowlist.remove("git log *").await, Err(AllowlistError::Unknown(_))));
        let reopened = Allowlist::new(store);
        assert_eq!(reopened.covering("git log -1").await.unwrap(), None);
        assert_eq!(reopened.covering("git status").await.unwrap().as_deref(), Some("git status"));
    }
}
