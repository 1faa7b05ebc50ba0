//! Versioned schema migrations, tracked with SQLite's `user_version`.

use rusqlite::Connection;

/// Each entry moves the schema one version up; never edit a released entry, append a new one.
const MIGRATIONS: &[&str] = &[
    // 1: conversations, settings and the change log.
    "CREATE TABLE sessions (
        key TEXT PRIMARY KEY,
        created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL,
        label TEXT
     );
     CREATE TABLE messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        session_key TEXT NOT NULL REFERENCES sessions(key) ON DELETE CASCADE,
        run_id TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
        content TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        idempotency_key TEXT UNIQUE,
        model TEXT,
        stop_reason TEXT,
        input_tokens INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        cache_read_tokens INTEGER NOT NULL DEFAULT 0,
        cache_write_tokens INTEGER NOT NULL DEFAULT 0
     );
     CREATE INDEX messages_by_session ON messages (session_key, id);
     CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_ms INTEGER NOT NULL
     );
     CREATE TABLE changes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at_ms INTEGER NOT NULL,
        entity TEXT NOT NULL,
        op TEXT NOT NULL,
        key TEXT NOT NULL,
        data TEXT
     );",
    // 2: paired devices and their tokens, chat-platform pairing codes and allowlists, audit log.
    // Every table has one key column (`<channel>/<code>`, `<channel>/<sender>`), the key the
    // change log names, so replication replays a change by that key.
    "CREATE TABLE devices (
        device_id TEXT PRIMARY KEY,
        public_key TEXT NOT NULL,
        display_name TEXT,
        client_id TEXT NOT NULL,
        client_mode TEXT NOT NULL,
        platform TEXT NOT NULL,
        device_family TEXT NOT NULL,
        role TEXT NOT NULL,
        scopes TEXT NOT NULL,
        approved_via TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        approved_ms INTEGER NOT NULL,
        last_seen_ms INTEGER,
        last_address TEXT
     );
     CREATE TABLE device_tokens (
        token_hash TEXT PRIMARY KEY NOT NULL,
        device_id TEXT NOT NULL REFERENCES devices(device_id) ON DELETE CASCADE,
        role TEXT NOT NULL,
        scopes TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        expires_ms INTEGER NOT NULL
     );
     CREATE INDEX device_tokens_by_device ON device_tokens (device_id);
     CREATE TABLE pairing_codes (
        key TEXT PRIMARY KEY NOT NULL,
        channel TEXT NOT NULL,
        code TEXT NOT NULL,
        sender_id TEXT NOT NULL,
        sender_name TEXT,
        created_ms INTEGER NOT NULL,
        expires_ms INTEGER NOT NULL
     );
     CREATE TABLE allowlist (
        key TEXT PRIMARY KEY NOT NULL,
        channel TEXT NOT NULL,
        sender_id TEXT NOT NULL,
        added_ms INTEGER NOT NULL
     );
     CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at_ms INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        address TEXT,
        detail TEXT
     );",
    // 3: chat-platform updates, recorded before they are acknowledged so a redelivery (webhook
    // retry, Slack retry, Discord replay) is recognised and an unhandled one is replayed.
    "CREATE TABLE channel_inbound (
        channel TEXT NOT NULL,
        dedupe_key TEXT NOT NULL,
        payload TEXT NOT NULL,
        received_ms INTEGER NOT NULL,
        handled_ms INTEGER,
        PRIMARY KEY (channel, dedupe_key)
     );
     CREATE INDEX channel_inbound_unhandled ON channel_inbound (channel, handled_ms, received_ms);",
    // 4: the inbound table gets one key column (`<channel>:<dedupe key>`) so replication ships
    // it like every other table: a redelivery right after a restore is recognised there too.
    "CREATE TABLE channel_inbound_keyed (
        key TEXT PRIMARY KEY NOT NULL,
        channel TEXT NOT NULL,
        dedupe_key TEXT NOT NULL,
        payload TEXT NOT NULL,
        received_ms INTEGER NOT NULL,
        handled_ms INTEGER
     );
     INSERT INTO channel_inbound_keyed (key, channel, dedupe_key, payload, received_ms, handled_ms)
        SELECT channel || ':' || dedupe_key, channel, dedupe_key, payload, received_ms, handled_ms FROM channel_inbound;
     DROP TABLE channel_inbound;
     ALTER TABLE channel_inbound_keyed RENAME TO channel_inbound;
     CREATE INDEX channel_inbound_unhandled ON channel_inbound (channel, handled_ms, received_ms);",
    // 5: a reply's tool calls (name, arguments, result), a JSON array; NULL when it made none.
    "ALTER TABLE messages ADD COLUMN tools TEXT;",
    // 6: where a session's prompt history starts: a summary of what came before (empty after
    // `/new`), and the model a session chose with `/model`.
    "CREATE TABLE summaries (
        key TEXT PRIMARY KEY NOT NULL REFERENCES sessions(key) ON DELETE CASCADE,
        through_id INTEGER NOT NULL,
        text TEXT NOT NULL,
        created_ms INTEGER NOT NULL
     );
     ALTER TABLE sessions ADD COLUMN model TEXT;",
    // 7: full-text search. `messages_search` indexes `messages.content` without a copy of the
    // text (external content); the triggers keep it in step with every insert, update and
    // delete, a session's cascade and the rows replication replays included. `notes_search`
    // holds the workspace's notes in chunks and `notes_indexed` the version of each file it
    // holds. Both are derived data: the change log never names them.
    "CREATE VIRTUAL TABLE messages_search USING fts5(
        content,
        content = 'messages',
        content_rowid = 'id',
        tokenize = 'porter unicode61 remove_diacritics 2'
     );
     CREATE TRIGGER messages_search_insert AFTER INSERT ON messages BEGIN
        INSERT INTO messages_search (rowid, content) VALUES (new.id, new.content);
     END;
     CREATE TRIGGER messages_search_delete AFTER DELETE ON messages BEGIN
        INSERT INTO messages_search (messages_search, rowid, content) VALUES ('delete', old.id, old.content);
     END;
     CREATE TRIGGER messages_search_update AFTER UPDATE ON messages BEGIN
        INSERT INTO messages_search (messages_search, rowid, content) VALUES ('delete', old.id, old.content);
        INSERT INTO messages_search (rowid, content) VALUES (new.id, new.content);
     END;
     INSERT INTO messages_search (messages_search) VALUES ('rebuild');
     CREATE VIRTUAL TABLE notes_search USING fts5(
        text,
        path UNINDEXED,
        line UNINDEXED,
        tokenize = 'porter unicode61 remove_diacritics 2'
     );
     CREATE TABLE notes_indexed (
        path TEXT PRIMARY KEY NOT NULL,
        bytes INTEGER NOT NULL,
        modified_ns INTEGER NOT NULL
     );",
];

pub fn apply(connection: &mut Connection) -> rusqlite::Result<()> {
    let current: usize = connection.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    for (index, script) in MIGRATIONS.iter().enumerate().skip(current) {
        let transaction = connection.transaction()?;
        transaction.execute_batch(script)?;
        transaction.pragma_update(None, "user_version", index + 1)?;
        transaction.commit()?;
    }
    Ok(())
}

/// The schema version this binary writes.
#[cfg(test)]
pub fn latest() -> usize {
    MIGRATIONS.len()
}
