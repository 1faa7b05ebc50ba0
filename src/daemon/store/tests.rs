//! Store tests on a real SQLite file: migrations, idempotency, history order, change log.

use super::*;
use crate::core::ids::{RunId, SessionKey};

fn message(key: &SessionKey, role: MessageRole, content: &str, idempotency: Option<&str>) -> NewMessage {
    NewMessage {
        session_key: key.clone(),
        run_id: RunId::generate(),
        role,
        content: content.into(),
        idempotency_key: idempotency.map(str::to_owned),
        model: None,
        stop_reason: None,
        usage: Usage::default(),
        tools: Vec::new(),
    }
}

#[tokio::test]
async fn messages_survive_reopening_and_come_back_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let key = SessionKey::main();
    {
        let store = Store::open(dir.path()).unwrap();
        for text in ["one", "two", "three"] {
            store.append_message(message(&key, MessageRole::User, text, None)).await.unwrap();
        }
        store.flush().await.unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    let history = store.history(&key, 2).await.unwrap();
    let texts: Vec<_> = history.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(texts, ["two", "three"]);
    let sessions = store.list_sessions(10).await.unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].message_count, 3);
    assert_eq!(sessions[0].last_message_preview.as_deref(), Some("three"));
}

#[tokio::test]
async fn an_idempotency_key_stores_one_message() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let key = SessionKey::main();
    let first = store.append_message(message(&key, MessageRole::User, "hi", Some("k1"))).await.unwrap();
    let Appended::Inserted(stored) = first else { panic!("first append must insert") };
    let again = store.append_message(message(&key, MessageRole::User, "hi", Some("k1"))).await.unwrap();
    assert_eq!(again, Appended::Duplicate { run_id: RunId::from_stored(stored.run_id), answered: false });
    assert_eq!(store.message_count().await.unwrap(), 1);
}

#[tokio::test]
async fn every_commit_is_in_the_change_log_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut changes = store.subscribe_changes();
    let key = SessionKey::parse("agent:main:web-1").unwrap();
    store.append_message(message(&key, MessageRole::User, "hello", None)).await.unwrap();
    assert!(changes.has_changed().unwrap());
    store.reset_session(&key).await.unwrap();
    store.delete_session(&key).await.unwrap();
    let log = store.changes_since(0, 100).await.unwrap();
    let ops: Vec<_> = log.iter().map(|c| format!("{} {}", c.entity, c.op)).collect();
    assert_eq!(ops, ["session upsert", "message upsert", "session reset", "session delete"]);
    assert!(log.windows(2).all(|pair| pair[0].seq < pair[1].seq));
    assert_eq!(log[1].data.as_ref().unwrap()["content"], "hello");
    assert_eq!(*changes.borrow_and_update(), log[3].seq);
    assert_eq!(store.changes_since(log[1].seq, 100).await.unwrap().len(), 2);
}

#[tokio::test]
async fn migrations_record_the_schema_version() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let version: usize = store.call(|c| Ok(c.query_row("PRAGMA user_version", [], |row| row.get(0))?)).await.unwrap();
    assert_eq!(version, migrations::latest());
}

#[test]
fn a_read_only_directory_fails_with_the_path() {
    let error = match Store::open(std::path::Path::new("/proc/molt-does-not-exist")) {
        Err(error) => error.to_string(),
        Ok(_) => panic!("opening under /proc must fail"),
    };
    assert!(error.contains("/proc/molt-does-not-exist/molt.db"), "{error}");
}

#[tokio::test]
async fn seeded_settings_never_overwrite_an_operators_change() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert!(store.seed_setting("telegram.dm_policy", "pairing").await.unwrap());
    store.set_setting("telegram.dm_policy", "allowlist").await.unwrap();
    assert!(!store.seed_setting("telegram.dm_policy", "open").await.unwrap());
    assert_eq!(store.setting("telegram.dm_policy").await.unwrap().as_deref(), Some("allowlist"));
    assert_eq!(store.setting("missing").await.unwrap(), None);
    let log = store.changes_since(0, 10).await.unwrap();
    assert_eq!(log.len(), 2, "a refused seed records no change");
}

#[tokio::test]
async fn a_full_disk_fails_the_write_and_keeps_what_was_committed() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let key = SessionKey::main();
    store.append_message(message(&key, MessageRole::User, "kept", None)).await.unwrap();
    crate::daemon::store::fill_disk(&store).await;
    let big = "x".repeat(64 * 1024);
    let error = store.append_message(message(&key, MessageRole::User, &big, None)).await.unwrap_err();
    assert!(error.to_string().contains("full"), "{error}");
    let history = store.history(&key, 10).await.unwrap();
    assert_eq!(history.iter().map(|m| m.content.as_str()).collect::<Vec<_>>(), ["kept"]);
}

#[tokio::test]
async fn refused_writes_fail_with_the_reason_on_every_path_and_reads_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let key = SessionKey::main();
    store.append_message(message(&key, MessageRole::User, "kept", None)).await.unwrap();
    store.refuse_writes("fenced: another instance owns the bucket".into());
    let refused = store.append_message(message(&key, MessageRole::User, "late", None)).await.unwrap_err();
    assert!(matches!(&refused, StoreError::Refused(reason) if reason.contains("fenced")), "{refused:?}");
    // Every other write is refused the same way.
    let raw = store.set_setting("dm_policy:telegram", "open").await.unwrap_err();
    assert!(matches!(raw, StoreError::Refused(_)), "{raw:?}");
    let history = store.history(&key, 10).await.unwrap();
    assert_eq!(history.iter().map(|m| m.content.as_str()).collect::<Vec<_>>(), ["kept"]);
}

#[cfg(unix)]
#[tokio::test]
async fn the_database_and_its_wal_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.append_message(message(&SessionKey::main(), MessageRole::User, "x", None)).await.unwrap();
    for name in ["molt.db", "molt.db-wal"] {
        let mode = std::fs::metadata(dir.path().join(name)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{name}");
    }
}
