//! Prompt assembly: a stable prefix (system prompt, workspace files) that providers can cache,
//! then the conversation, trimmed to fit and shaped as alternating turns.

use std::path::Path;

use crate::daemon::providers::Turn;
use crate::daemon::store::{MessageRole, StoredMessage};

/// Workspace files read into the prefix, in this order.
pub const WORKSPACE_FILES: [&str; 3] = ["SOUL.md", "USER.md", "MEMORY.md"];

const BASE_PROMPT: &str = "You are a personal assistant running on molt, a self-hosted gateway. \
Answer helpfully and concisely. The workspace files below describe who you are, who you help \
and what you remember.";

/// Bound on one workspace file in the prompt.
const MAX_FILE_BYTES: usize = 64 * 1024;

/// Rough budget for the conversation part (about 4 characters per token).
pub const HISTORY_BUDGET_CHARS: usize = 400_000;

/// The stable prefix. A file that cannot be read is left out and logged, never fatal.
pub fn system_prompt(workspace: &Path) -> String {
    let mut prompt = String::from(BASE_PROMPT);
    for name in WORKSPACE_FILES {
        let path = workspace.join(name);
        match std::fs::read_to_string(&path) {
            Ok(text) if !text.trim().is_empty() => {
                let mut text = text.trim().to_owned();
                if text.len() > MAX_FILE_BYTES {
                    let mut cut = MAX_FILE_BYTES;
                    while !text.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    text.truncate(cut);
                }
                prompt.push_str(&format!("\n\n## {name}\n\n{text}"));
            }
            Ok(_) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => tracing::warn!(path = %path.display(), %error, "cannot read a workspace file"),
        }
    }
    prompt
}

/// Turns from stored history: newest kept within the budget, consecutive messages of one role
/// merged, and the first turn the user's.
pub fn turns(history: &[StoredMessage], budget_chars: usize) -> Vec<Turn> {
    let mut kept = Vec::new();
    let mut used = 0;
    for message in history.iter().rev() {
        if message.content.is_empty() {
            continue;
        }
        used += message.content.len();
        if used > budget_chars && !kept.is_empty() {
            break;
        }
        kept.push(message);
    }
    kept.reverse();
    let mut turns: Vec<Turn> = Vec::new();
    for message in kept {
        match turns.last_mut() {
            Some(last) if last.role == message.role => {
                last.text.push_str("\n\n");
                last.text.push_str(&message.content);
            }
            _ => turns.push(Turn { role: message.role, text: message.content.clone() }),
        }
    }
    while turns.first().is_some_and(|turn| turn.role != MessageRole::User) {
        turns.remove(0);
    }
    turns
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::store::Usage;

    fn stored(role: MessageRole, content: &str) -> StoredMessage {
        StoredMessage {
            id: 0,
            session_key: "k".into(),
            run_id: "r".into(),
            role,
            content: content.into(),
            created_ms: 0,
            model: None,
            stop_reason: None,
            usage: Usage::default(),
        }
    }

    #[test]
    fn merges_roles_trims_oldest_and_starts_with_the_user() {
        let history = [
            stored(MessageRole::Assistant, "orphan"),
            stored(MessageRole::User, &"x".repeat(50)),
            stored(MessageRole::Assistant, "a1"),
            stored(MessageRole::User, "u2"),
            stored(MessageRole::User, "u3"),
        ];
        let turns = turns(&history, 20);
        assert_eq!(
            turns,
            [Turn { role: MessageRole::User, text: "u2\n\nu3".into() }],
            "the 50-char message is past the budget, the orphan reply is dropped"
        );
        let all = super::turns(&history, 1000);
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].role, MessageRole::User);
    }

    #[test]
    fn workspace_files_form_the_stable_prefix() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("SOUL.md"), "Be kind.").unwrap();
        std::fs::write(dir.path().join("MEMORY.md"), "Ada likes Rust.").unwrap();
        let prompt = system_prompt(dir.path());
        let soul = prompt.find("## SOUL.md\n\nBe kind.").unwrap();
        let memory = prompt.find("## MEMORY.md\n\nAda likes Rust.").unwrap();
        assert!(soul < memory);
        assert!(!prompt.contains("USER.md"));
        assert_eq!(prompt, system_prompt(dir.path()), "the prefix must be stable for caching");
    }
}
