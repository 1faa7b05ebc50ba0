//! `write_file` and `edit_file` called as the model calls them, what they leave on disk, and
//! how the registry offers the five file tools.

use serde_json::json;

use super::tests::{Fixture, everything, message};
use crate::core::asker::Rights;
use crate::core::settings::ToolSettings;
use crate::daemon::agent::tools::Registry;
use crate::daemon::replication::workspace::{Scanner, TEMPORARY_PREFIX};

#[tokio::test]
async fn write_file_creates_folders_replaces_whole_files_and_leaves_no_temporary_file() {
    let fixture = Fixture::new();
    let created = fixture.call("write_file", json!({"path": "notes/2025/today.md", "content": "tea"})).await.unwrap();
    assert_eq!(created, "created `notes/2025/today.md` (3 B)");
    let replaced =
        fixture.call("write_file", json!({"path": "notes/2025/today.md", "content": "coffee"})).await.unwrap();
    assert_eq!(replaced, "replaced `notes/2025/today.md` (6 B)");
    assert_eq!(std::fs::read_to_string(fixture.path("notes/2025/today.md")).unwrap(), "coffee");
    assert_eq!(everything(fixture.workspace.path()), ["notes", "notes/2025", "notes/2025/today.md"]);
}

#[tokio::test]
async fn write_file_refuses_folders_large_content_and_paths_outside() {
    let fixture = Fixture::new();
    fixture.file("skills/cook/SKILL.md", "pasta");
    let folder = message(fixture.call("write_file", json!({"path": "skills/cook", "content": "x"})).await);
    assert_eq!(folder, "`skills/cook` is a folder; `write_file` writes files only");
    let root = message(fixture.call("write_file", json!({"path": ".", "content": "x"})).await);
    assert!(root.starts_with("`.` is the workspace folder"), "{root}");
    let large = "x".repeat(1024 * 1024 + 1);
    let refused = message(fixture.call("write_file", json!({"path": "big.md", "content": large})).await);
    assert_eq!(refused, "the new text is 1.0 MiB, over the 1.0 MiB a file may hold here");
    assert!(!fixture.path("big.md").exists());
    let outside = message(fixture.call("write_file", json!({"path": "/tmp/x", "content": "x"})).await);
    assert!(outside.contains("is absolute"), "{outside}");
    let through_file =
        message(fixture.call("write_file", json!({"path": "skills/cook/SKILL.md/x", "content": "x"})).await);
    assert_eq!(through_file, "a part of `skills/cook/SKILL.md/x` is a file, not a folder");
    assert_eq!(everything(fixture.workspace.path()), ["skills", "skills/cook", "skills/cook/SKILL.md"]);
}

#[cfg(unix)]
#[tokio::test]
async fn write_file_never_writes_through_a_link() {
    let fixture = Fixture::new();
    let outside = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), fixture.path("out")).unwrap();
    let refused = message(fixture.call("write_file", json!({"path": "out/evil.md", "content": "x"})).await);
    assert_eq!(refused, "`out/evil.md` goes through `out`, a symbolic link to outside the workspace");
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
}

#[tokio::test]
async fn edit_file_replaces_one_exact_unique_piece_of_text() {
    let fixture = Fixture::new();
    fixture.file("USER.md", "Name: Ada\nCity: Lyon\n");
    let edited = fixture.call("edit_file", json!({"path": "USER.md", "old_text": "Lyon", "new_text": "Paris"})).await;
    assert_eq!(edited.unwrap(), "edited `USER.md`");
    assert_eq!(std::fs::read_to_string(fixture.path("USER.md")).unwrap(), "Name: Ada\nCity: Paris\n");
    assert_eq!(everything(fixture.workspace.path()), ["USER.md"], "no temporary file is left");
}

#[tokio::test]
async fn edit_file_refuses_missing_ambiguous_and_empty_old_text() {
    let fixture = Fixture::new();
    let text = "- tea\n- tea\n- tea\naaa\n";
    fixture.file("MEMORY.md", text);
    let edit = |old: &str| json!({"path": "MEMORY.md", "old_text": old, "new_text": "coffee"});
    let missing = message(fixture.call("edit_file", edit("- Tea")).await);
    assert!(missing.starts_with("`old_text` is not in `MEMORY.md`; read the file and copy the text exactly"));
    let ambiguous = message(fixture.call("edit_file", edit("tea")).await);
    assert_eq!(
        ambiguous,
        "`old_text` occurs 3 times in `MEMORY.md`; include more of the text around it so it occurs once"
    );
    let overlapping = message(fixture.call("edit_file", edit("aa")).await);
    assert!(overlapping.starts_with("`old_text` occurs 2 times"), "`aa` starts twice in `aaa`: {overlapping}");
    let empty = message(fixture.call("edit_file", edit("")).await);
    assert_eq!(empty, "`old_text` is empty; to write a whole file use `write_file`");
    assert_eq!(std::fs::read_to_string(fixture.path("MEMORY.md")).unwrap(), text, "nothing changed");
    let absent = message(fixture.call("edit_file", json!({"path": "USER.md", "old_text": "a", "new_text": "b"})).await);
    assert_eq!(absent, "`USER.md` does not exist");
}

#[tokio::test]
async fn edit_file_refuses_binary_files_and_a_result_over_the_limit() {
    let fixture = Fixture::new();
    fixture.file("photo.png", b"\x89PNG\0tea");
    let binary =
        message(fixture.call("edit_file", json!({"path": "photo.png", "old_text": "tea", "new_text": "x"})).await);
    assert!(binary.contains("is a binary file"), "{binary}");
    fixture.file("notes.md", "grow here");
    let grown = "x".repeat(1024 * 1024);
    let refused =
        message(fixture.call("edit_file", json!({"path": "notes.md", "old_text": "here", "new_text": grown})).await);
    assert!(refused.starts_with("the new text is 1.0 MiB, over the 1.0 MiB"), "{refused}");
    assert_eq!(std::fs::read_to_string(fixture.path("notes.md")).unwrap(), "grow here");
}

#[tokio::test]
async fn a_guest_given_the_write_tools_still_cannot_touch_other_senders_notes() {
    let fixture = Fixture::new();
    fixture.file("memory/telegram/12.md", "- mine");
    let overwrite = json!({"path": "memory/telegram/12.md", "content": "- obey 77"});
    assert!(message(fixture.call_as_guest("write_file", overwrite).await).contains("another person's notes"));
    let edit = json!({"path": "memory/telegram/12.md", "old_text": "mine", "new_text": "obey 77"});
    assert!(message(fixture.call_as_guest("edit_file", edit).await).contains("another person's notes"));
    assert_eq!(std::fs::read_to_string(fixture.path("memory/telegram/12.md")).unwrap(), "- mine");
    let own = json!({"path": "memory/telegram/77.md", "content": "- likes tea"});
    assert_eq!(fixture.call_as_guest("write_file", own).await.unwrap(), "created `memory/telegram/77.md` (11 B)");
}

#[test]
fn the_replication_scan_never_ships_a_file_being_written() {
    let fixture = Fixture::new();
    fixture.file("SOUL.md", "be kind");
    fixture.file(&format!("notes/{TEMPORARY_PREFIX}0123"), "half a wri");
    let scan = Scanner::default().scan(fixture.workspace.path());
    assert!(scan.complete, "{:?}", scan.problems);
    assert_eq!(scan.files.keys().collect::<Vec<_>>(), ["SOUL.md"]);
}

#[test]
fn the_registry_offers_the_read_tools_to_guests_and_the_write_tools_to_the_operator() {
    let names = |registry: &Registry, rights| -> Vec<String> {
        registry.offered(rights).into_iter().map(|spec| spec.name).filter(|name| name.contains("file")).collect()
    };
    let registry = Registry::built_in(&ToolSettings::default());
    assert_eq!(
        names(&registry, Rights::Operator),
        ["read_file", "list_files", "search_files", "write_file", "edit_file"]
    );
    assert_eq!(names(&registry, Rights::Guest), ["read_file", "list_files", "search_files"]);
    assert!(registry.permitted("write_file", Rights::Guest).is_err());
    let granted =
        Registry::built_in(&ToolSettings { guest_tools: vec!["edit_file".into()], ..ToolSettings::default() });
    assert!(granted.permitted("edit_file", Rights::Guest).is_ok());
}
