//! Row images replay to the same state: every entity the store writes round-trips.

use super::*;
use crate::core::ids::{RunId, SessionKey};
use crate::daemon::store::{MessageRole, NewMessage, Store, Usage};

fn dump(connection: &Connection) -> Vec<String> {
    let mut out = Vec::new();
    for table in ["sessions", "messages", "settings", "changes"] {
        let mut statement = connection.prepare(&format!("SELECT * FROM {table} ORDER BY 1")).unwrap();
        let width = statement.column_count();
        let rows = statement
            .query_map([], |row| {
                let values: Vec<String> =
                    (0..width).map(|i| format!("{:?}", row.get::<_, rusqlite::types::Value>(i).unwrap())).collect();
                Ok(format!("{table}: {}", values.join("|")))
            })
            .unwrap();
        out.extend(rows.map(Result::unwrap));
    }
    out
}

#[tokio::test]
async fn replaying_shipped_changes_rebuilds_the_same_database() {
    let source_dir = tempfile::tempdir().unwrap();
    let target_dir = tempfile::tempdir().unwrap();
    let source = Store::open(source_dir.path()).unwrap();
    let target = Store::open(target_dir.path()).unwrap();
    let key = SessionKey::parse("agent:main:main").unwrap();
    let other = SessionKey::parse("agent:main:telegram:direct:42").unwrap();
    for (session, text) in [(&key, "hello"), (&other, "bonjour"), (&key, "again")] {
        source
            .append_message(NewMessage {
                session_key: session.clone(),
                run_id: RunId::generate(),
                role: MessageRole::User,
                content: text.into(),
                idempotency_key: Some(format!("idem-{text}")),
                model: None,
                stop_reason: None,
                usage: Usage::default(),
                tools: Vec::new(),
            })
            .await
            .unwrap();
    }
    source.set_setting("telegram.dm_policy", "allowlist").await.unwrap();
    source.reset_session(&other).await.unwrap();
    source.delete_session(&other).await.unwrap();
    source.set_setting("telegram.dm_policy", "open").await.unwrap();

    let batch = source
        .call(|connection| {
            read_batch(connection, 0, 1000).map_err(|e| crate::daemon::store::StoreError::Corrupt(e.to_string()))
        })
        .await
        .unwrap();
    assert!(batch.iter().all(|change| change.op != "upsert"
        || change.entity == "session"
        || change.row.is_some()
        || change.entity == "message"));
    let json = serde_json::to_string(&batch).unwrap();
    let batch: Vec<ShippedChange> = serde_json::from_str(&json).unwrap();
    target
        .call(move |connection| {
            let transaction = connection.transaction()?;
            for change in &batch {
                apply(&transaction, change).map_err(|e| crate::daemon::store::StoreError::Corrupt(e.to_string()))?;
            }
            transaction.commit()?;
            Ok(())
        })
        .await
        .unwrap();
    let left = source.call(|c| Ok(dump(c))).await.unwrap();
    let right = target.call(|c| Ok(dump(c))).await.unwrap();
    assert_eq!(left, right);
    assert!(left.iter().any(|line| line.contains("again")));
}

#[test]
fn unknown_entities_and_hostile_columns_are_refused() {
    let connection = Connection::open_in_memory().unwrap();
    connection.execute_batch("CREATE TABLE changes (seq INTEGER PRIMARY KEY, at_ms, entity, op, key, data); CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT, updated_ms INTEGER);").unwrap();
    connection.execute("INSERT INTO changes VALUES (1, 0, 'gizmo', 'upsert', 'd', NULL)", []).unwrap();
    assert!(matches!(read_batch(&connection, 0, 10), Err(RowError::Unknown { .. })));
    let mut row = Map::new();
    row.insert("key; DROP TABLE settings".into(), Value::from("x"));
    let change = ShippedChange {
        seq: 2,
        at_ms: 0,
        entity: "setting".into(),
        op: "upsert".into(),
        key: "k".into(),
        data: None,
        row: Some(row),
    };
    assert!(
        matches!(apply(&connection, &change), Err(RowError::Invalid { message, .. }) if message.contains("is not valid"))
    );
    // A quoted name SQLite itself would take: only the guard stands between it and the SQL text.
    let mut quoted = Map::new();
    quoted.insert("key".into(), Value::from("k"));
    quoted.insert("\"value\"".into(), Value::from("x"));
    let change = ShippedChange { row: Some(quoted), ..change };
    assert!(
        matches!(apply(&connection, &change), Err(RowError::Invalid { message, .. }) if message.contains("is not valid"))
    );
    let written: i64 = connection.query_row("SELECT COUNT(*) FROM settings", [], |row| row.get(0)).unwrap();
    assert_eq!(written, 0);
}

/// The source's changes after `after`, as shipped.
async fn shipped(source: &Store, after: u64) -> Vec<ShippedChange> {
    source
        .call(move |connection| {
            read_batch(connection, after, 1000).map_err(|e| crate::daemon::store::StoreError::Corrupt(e.to_string()))
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn replayed_rows_keep_the_search_index_in_step() {
    let source_dir = tempfile::tempdir().unwrap();
    let target_dir = tempfile::tempdir().unwrap();
    let source = Store::open(source_dir.path()).unwrap();
    let target = Store::open(target_dir.path()).unwrap();
    let (kept, reset, deleted) = (
        SessionKey::parse("agent:main:main").unwrap(),
        SessionKey::parse("agent:main:telegram:direct:1").unwrap(),
        SessionKey::parse("agent:main:discord:direct:2").unwrap(),
    );
    for session in [&kept, &reset, &deleted] {
        source
            .append_message(NewMessage {
                session_key: session.clone(),
                run_id: RunId::generate(),
                role: MessageRole::User,
                content: format!("the albatross of {session}"),
                idempotency_key: None,
                model: None,
                stop_reason: None,
                usage: Usage::default(),
                tools: Vec::new(),
            })
            .await
            .unwrap();
    }
    // Shipped in two segments, as the shipper does: the messages, then their removal.
    let first = shipped(&source, 0).await;
    let after = first.last().unwrap().seq;
    source.reset_session(&reset).await.unwrap();
    source.delete_session(&deleted).await.unwrap();
    let second = shipped(&source, after).await;
    // The first segment twice: the second pass updates rows that exist.
    let indexed = target
        .call(move |connection| {
            let transaction = connection.transaction()?;
            for change in first.iter().chain(&first).chain(&second) {
                apply(&transaction, change).map_err(|e| crate::daemon::store::StoreError::Corrupt(e.to_string()))?;
            }
            transaction.commit()?;
            connection
                .execute("INSERT INTO messages_search (messages_search, rank) VALUES ('integrity-check', 1)", [])?;
            let mut statement =
                connection.prepare("SELECT rowid FROM messages_search WHERE messages_search MATCH 'albatross'")?;
            let rows = statement.query_map([], |row| row.get::<_, i64>(0))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
        .unwrap();
    assert_eq!(indexed, [1], "only the message still in the source is indexed");
    let terms = crate::daemon::store::SearchTerms::parse("albatross").unwrap();
    let everything = crate::daemon::store::SearchReach::Everything;
    let hits = target.search_memory(target_dir.path(), &terms, &everything, 5).await.unwrap().hits;
    assert_eq!(hits.len(), 1);
    assert!(hits[0].snippet.contains("agent:main:main"), "{}", hits[0].snippet);
}
