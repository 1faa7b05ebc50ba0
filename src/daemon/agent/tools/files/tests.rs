//! The file tools called as the model calls them: their answers, their limits, their refusals,
//! and what a guest may see. Write and edit tests are in `write_tests.rs`.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::tools;
use crate::core::asker::{Asker, MemoryScope};
use crate::core::ids::SessionKey;
use crate::daemon::agent::tools::{ToolContext, ToolError};
use crate::daemon::store::Store;

/// A workspace and a store kept apart, so the store's files are not in the listings.
pub(super) struct Fixture {
    pub workspace: tempfile::TempDir,
    data: tempfile::TempDir,
}

impl Fixture {
    pub fn new() -> Self {
        Self { workspace: tempfile::tempdir().unwrap(), data: tempfile::tempdir().unwrap() }
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.workspace.path().join(relative)
    }

    /// Writes `text` at `relative`, creating its folders.
    pub fn file(&self, relative: &str, text: impl AsRef<[u8]>) {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn context(&self, asker: Asker, scope: MemoryScope) -> ToolContext {
        ToolContext {
            workspace: self.workspace.path().to_owned(),
            store: Store::open(self.data.path()).unwrap(),
            session_key: SessionKey::main(),
            asker,
            scope,
        }
    }

    /// Calls `name` as the operator.
    pub async fn call(&self, name: &str, input: Value) -> Result<String, ToolError> {
        call(name, input, &self.context(Asker::Operator, MemoryScope::Shared)).await
    }

    /// Calls `name` as the Telegram sender `77`, a guest.
    pub async fn call_as_guest(&self, name: &str, input: Value) -> Result<String, ToolError> {
        let (channel, sender_id) = ("telegram".to_owned(), "77".to_owned());
        let context = self.context(
            Asker::Sender { channel: channel.clone(), sender_id: sender_id.clone() },
            MemoryScope::Sender { channel, sender_id },
        );
        call(name, input, &context).await
    }
}

async fn call(name: &str, input: Value, context: &ToolContext) -> Result<String, ToolError> {
    let tool = tools().into_iter().find(|tool| tool.spec().name == name).unwrap();
    tool.call(input, context).await
}

pub(super) fn message(result: Result<String, ToolError>) -> String {
    result.unwrap_err().to_string()
}

/// Every file and folder under `root`, links included, as `/`-separated names.
pub(super) fn everything(root: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            found.push(path.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            if path.is_dir() && !path.is_symlink() {
                stack.push(path);
            }
        }
    }
    found.sort();
    found
}

#[tokio::test]
async fn read_file_reads_text_in_windows_of_lines() {
    let fixture = Fixture::new();
    fixture.file("SOUL.md", "Be kind.\nBe brief.\n");
    assert_eq!(fixture.call("read_file", json!({"path": "SOUL.md"})).await.unwrap(), "Be kind.\nBe brief.\n");
    let lines: String = (1..=10).map(|n| format!("line {n}\n")).collect();
    fixture.file("notes/long.md", &lines);
    let window = fixture.call("read_file", json!({"path": "notes/long.md", "offset": 3, "limit": 2})).await.unwrap();
    assert_eq!(window, "line 3\nline 4\n[lines 3-4 of 10 shown; read on with `offset` 5]");
    let rest = fixture.call("read_file", json!({"path": "notes/long.md", "offset": 9})).await.unwrap();
    assert_eq!(rest, "line 9\nline 10\n", "the end of the file needs no note");
    let past = message(fixture.call("read_file", json!({"path": "notes/long.md", "offset": 11})).await);
    assert_eq!(past, "`notes/long.md` has 10 lines; `offset` 11 is past the end");
    fixture.file("empty.md", "");
    assert_eq!(fixture.call("read_file", json!({"path": "empty.md"})).await.unwrap(), "[`empty.md` is empty]");
}

#[tokio::test]
async fn read_file_cuts_a_long_file_and_says_where_to_read_on() {
    let fixture = Fixture::new();
    let line = format!("{}\n", "x".repeat(99));
    fixture.file("big.md", line.repeat(1000));
    let first = fixture.call("read_file", json!({"path": "big.md"})).await.unwrap();
    assert!(first.starts_with(&line.repeat(655)), "64 KiB of whole lines");
    assert!(
        first.ends_with("[lines 1-655 of 1000 shown; read on with `offset` 656]"),
        "{}",
        &first[first.len() - 80..]
    );
    fixture.file("one-line.json", "é".repeat(40_000));
    let cut = fixture.call("read_file", json!({"path": "one-line.json"})).await.unwrap();
    assert!(cut.starts_with(&"é".repeat(32_768)));
    assert!(cut.ends_with("\n[line 1 is 78.1 KiB; only its first 64.0 KiB are shown]"), "{}", &cut[cut.len() - 80..]);
}

#[tokio::test]
async fn read_file_refuses_binary_files_folders_and_missing_files() {
    let fixture = Fixture::new();
    fixture.file("photo.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR");
    fixture.file("latin1.txt", b"caf\xe9");
    fixture.file("skills/cook/SKILL.md", "pasta");
    let binary = "is a binary file, not UTF-8 text; only text can be read";
    assert_eq!(message(fixture.call("read_file", json!({"path": "photo.png"})).await), format!("`photo.png` {binary}"));
    assert_eq!(
        message(fixture.call("read_file", json!({"path": "latin1.txt"})).await),
        format!("`latin1.txt` {binary}")
    );
    let folder = message(fixture.call("read_file", json!({"path": "skills/cook"})).await);
    assert_eq!(folder, "`skills/cook` is a folder; use `list_files` to see what it holds");
    assert_eq!(message(fixture.call("read_file", json!({"path": "USER.md"})).await), "`USER.md` does not exist");
    let huge = std::fs::File::create(fixture.path("huge.log")).unwrap();
    huge.set_len(17 * 1024 * 1024).unwrap();
    let over = message(fixture.call("read_file", json!({"path": "huge.log"})).await);
    assert_eq!(over, "`huge.log` is 17.0 MiB, over the 16.0 MiB limit of this tool");
    let escape = message(fixture.call("read_file", json!({"path": "../etc/passwd"})).await);
    assert_eq!(escape, "`../etc/passwd` leaves the workspace through `..`");
    assert!(message(fixture.call("read_file", json!({"file": "SOUL.md"})).await).starts_with("invalid arguments"));
}

#[tokio::test]
async fn list_files_shows_names_and_sizes_and_hides_what_is_not_replicated() {
    let fixture = Fixture::new();
    fixture.file("SOUL.md", "be kind");
    fixture.file("MEMORY.md", "x".repeat(2048));
    fixture.file("skills/cook/SKILL.md", "pasta");
    fixture.file(".molt-tmp-0123", "half a write");
    std::fs::create_dir(fixture.path("empty")).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink("/etc", fixture.path("etc")).unwrap();
    let top = fixture.call("list_files", json!({})).await.unwrap();
    assert_eq!(top, "MEMORY.md  2.0 KiB\nSOUL.md  7 B\nempty/\nskills/");
    let tree = fixture.call("list_files", json!({"recursive": true})).await.unwrap();
    assert_eq!(tree, "MEMORY.md  2.0 KiB\nSOUL.md  7 B\nempty/\nskills/\nskills/cook/\nskills/cook/SKILL.md  5 B");
    let below = fixture.call("list_files", json!({"path": "skills/cook"})).await.unwrap();
    assert_eq!(below, "skills/cook/SKILL.md  5 B");
    assert_eq!(fixture.call("list_files", json!({"path": "empty"})).await.unwrap(), "[`empty` is empty]");
    assert_eq!(message(fixture.call("list_files", json!({"path": "nothing"})).await), "`nothing` does not exist");
    #[cfg(unix)]
    assert!(message(fixture.call("list_files", json!({"path": "etc"})).await).contains("symbolic link"));
}

#[tokio::test]
async fn list_files_is_bounded_in_count_and_depth() {
    let fixture = Fixture::new();
    for index in 0..510 {
        fixture.file(&format!("many/{index:03}.md"), "");
    }
    let many = fixture.call("list_files", json!({"path": "many"})).await.unwrap();
    assert_eq!(many.lines().count(), 501);
    assert!(many.ends_with("many/499.md  0 B\n[cut at 500 entries; list a folder below to see the rest]"));
    let deep = (1..=10).map(|level| format!("d{level}")).collect::<Vec<_>>().join("/");
    fixture.file(&format!("{deep}/bottom.md"), "");
    let tree = fixture.call("list_files", json!({"path": "d1", "recursive": true})).await.unwrap();
    assert!(tree.contains("d1/d2/d3/d4/d5/d6/d7/d8/d9/\n"), "{tree}");
    assert!(!tree.contains("d10/\n"), "{tree}");
    assert!(
        tree.ends_with("such as `d1/d2/d3/d4/d5/d6/d7/d8/d9/`, were not opened; list one to see inside]"),
        "{tree}"
    );
}

#[tokio::test]
async fn search_files_answers_path_line_text_ignoring_case() {
    let fixture = Fixture::new();
    fixture.file("MEMORY.md", "- Ada drinks tea\n- Ada lives in Lyon\n");
    fixture.file("skills/cook/SKILL.md", "# Cooking\nMake TEA first.\n");
    fixture.file("data.bin", b"tea\0\x01\x02 valid UTF-8 but binary");
    fixture.file(".molt-tmp-1", "tea being written");
    let found = fixture.call("search_files", json!({"query": "tea"})).await.unwrap();
    assert_eq!(
        found,
        "MEMORY.md:1: - Ada drinks tea\nskills/cook/SKILL.md:2: Make TEA first.\n[1 binary file skipped]"
    );
    let narrowed = fixture.call("search_files", json!({"query": "LYON", "path": "MEMORY.md"})).await.unwrap();
    assert_eq!(narrowed, "MEMORY.md:2: - Ada lives in Lyon");
    let none = fixture.call("search_files", json!({"query": "coffee", "path": "skills"})).await.unwrap();
    assert_eq!(none, "no match for `coffee` in `skills` (1 file searched)");
    assert_eq!(message(fixture.call("search_files", json!({"query": " "})).await), "the query is empty");
}

#[tokio::test]
async fn search_files_is_bounded_in_results_and_file_size() {
    let fixture = Fixture::new();
    fixture.file("log.md", "match\n".repeat(10));
    fixture.file("large.md", format!("match\n{}", "x".repeat(1024 * 1024)));
    let capped = fixture.call("search_files", json!({"query": "match", "max_results": 3})).await.unwrap();
    let lines: Vec<&str> = capped.lines().collect();
    assert_eq!(lines[..3], ["log.md:1: match", "log.md:2: match", "log.md:3: match"]);
    assert_eq!(lines[3], "[stopped at 3 matches; narrow the query or the path]");
    assert_eq!(lines[4], "[1 file over 1.0 MiB skipped]");
    let long = format!("match {}", "y".repeat(1000));
    fixture.file("wide.md", &long);
    let wide = fixture.call("search_files", json!({"query": "match", "path": "wide.md"})).await.unwrap();
    assert_eq!(wide, format!("wide.md:1: {}…", &long[..300]));
}

#[tokio::test]
async fn a_guest_reads_lists_and_searches_everything_but_other_senders_notes() {
    let fixture = Fixture::new();
    fixture.file("MEMORY.md", "the operator likes tea");
    fixture.file("memory/telegram/77.md", "- guest 77 likes tea");
    fixture.file("memory/telegram/12.md", "- guest 12 likes tea");
    fixture.file("memory/discord/5.md", "- guest 5 likes tea");
    let own = fixture.call_as_guest("read_file", json!({"path": "memory/telegram/77.md"})).await.unwrap();
    assert_eq!(own, "- guest 77 likes tea");
    let other = message(fixture.call_as_guest("read_file", json!({"path": "memory/telegram/12.md"})).await);
    assert_eq!(
        other,
        "`memory/telegram/12.md` holds another person's notes; you may use only your own, `memory/telegram/77.md`"
    );
    let listed = fixture.call_as_guest("list_files", json!({"recursive": true})).await.unwrap();
    assert_eq!(listed, "MEMORY.md  22 B\nmemory/\nmemory/discord/\nmemory/telegram/\nmemory/telegram/77.md  20 B");
    let channel = fixture.call_as_guest("list_files", json!({"path": "memory/discord"})).await.unwrap();
    assert_eq!(channel, "[`memory/discord` is empty]");
    let found = fixture.call_as_guest("search_files", json!({"query": "likes tea"})).await.unwrap();
    assert_eq!(found, "MEMORY.md:1: the operator likes tea\nmemory/telegram/77.md:1: - guest 77 likes tea");
    let refused =
        message(fixture.call_as_guest("search_files", json!({"query": "tea", "path": "memory/discord/5.md"})).await);
    assert!(refused.contains("another person's notes"), "{refused}");
    let everything = fixture.call("search_files", json!({"query": "likes tea"})).await.unwrap();
    assert_eq!(everything.lines().count(), 4, "the operator sees every sender's notes");
}
