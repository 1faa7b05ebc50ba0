//! Sessions and their messages, with token usage per message.

use rusqlite::{OptionalExtension, Row, Transaction, params};
use serde::Serialize;
use serde_json::json;

use super::changes::record;
use super::{Store, StoreError};
use crate::core::ids::{RunId, SessionKey};
use crate::core::protocol::agent::ToolCallRecord;
use crate::core::time::now_ms;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageRole {
    User,
    Assistant,
}

impl MessageRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Assistant => "assistant",
        }
    }

    pub(super) fn parse(raw: &str) -> Result<Self, StoreError> {
        match raw {
            "user" => Ok(Self::User),
            "assistant" => Ok(Self::Assistant),
            other => Err(StoreError::Corrupt(format!("unknown message role `{other}`"))),
        }
    }
}

pub use crate::core::protocol::Usage;

#[derive(Debug, Clone)]
pub struct NewMessage {
    pub session_key: SessionKey,
    pub run_id: RunId,
    pub role: MessageRole,
    pub content: String,
    pub idempotency_key: Option<String>,
    pub model: Option<String>,
    pub stop_reason: Option<String>,
    pub usage: Usage,
    /// The tool calls a reply made, in order.
    pub tools: Vec<ToolCallRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredMessage {
    pub id: i64,
    pub session_key: String,
    pub run_id: String,
    pub role: MessageRole,
    pub content: String,
    pub created_ms: i64,
    pub model: Option<String>,
    pub stop_reason: Option<String>,
    pub usage: Usage,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolCallRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionSummary {
    pub key: String,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub label: Option<String>,
    pub message_count: u64,
    pub last_message_preview: Option<String>,
    pub input_tokens: u64,
    pub output_tokens: u64,
}

#[cfg(test)]
impl StoredMessage {
    /// A message of session `k` for tests of what is built from history.
    pub fn for_test(id: i64, role: MessageRole, content: &str) -> Self {
        Self {
            id,
            session_key: "k".into(),
            run_id: "r".into(),
            role,
            content: content.into(),
            created_ms: 0,
            model: None,
            stop_reason: None,
            usage: Usage::default(),
            tools: Vec::new(),
        }
    }
}

/// What appending a user message did.
#[derive(Debug, Clone, PartialEq)]
pub enum Appended {
    Inserted(StoredMessage),
    /// The idempotency key was already used, by this run.
    Duplicate {
        run_id: RunId,
        answered: bool,
    },
}

const MESSAGE_COLUMNS: &str = "id, session_key, run_id, role, content, created_ms, model, stop_reason, \
     input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, tools";

fn message_from_row(row: &Row<'_>) -> rusqlite::Result<(StoredMessage, String)> {
    let count = |index: usize| row.get::<_, i64>(index).map(|n| u64::try_from(n).unwrap_or(0));
    Ok((
        StoredMessage {
            id: row.get(0)?,
            session_key: row.get(1)?,
            run_id: row.get(2)?,
            role: MessageRole::User,
            content: row.get(4)?,
            created_ms: row.get(5)?,
            model: row.get(6)?,
            stop_reason: row.get(7)?,
            usage: Usage {
                input_tokens: count(8)?,
                output_tokens: count(9)?,
                cache_read_tokens: count(10)?,
                cache_write_tokens: count(11)?,
            },
            tools: tools_from_column(row.get(12)?),
        },
        row.get(3)?,
    ))
}

/// The `tools` column: a JSON array, `NULL` when the reply made no call. A value this binary
/// cannot read (written by a newer one) reads as no calls rather than failing the history.
fn tools_from_column(raw: Option<String>) -> Vec<ToolCallRecord> {
    raw.and_then(|raw| serde_json::from_str(&raw).ok()).unwrap_or_default()
}

fn with_role((mut message, role): (StoredMessage, String)) -> Result<StoredMessage, StoreError> {
    message.role = MessageRole::parse(&role)?;
    Ok(message)
}

fn insert(transaction: &Transaction<'_>, message: &NewMessage) -> Result<StoredMessage, StoreError> {
    let now = now_ms();
    let key = message.session_key.as_str();
    transaction.execute(
        "INSERT INTO sessions (key, created_ms, updated_ms) VALUES (?1, ?2, ?2)
         ON CONFLICT (key) DO UPDATE SET updated_ms = excluded.updated_ms",
        params![key, now],
    )?;
    record(transaction, "session", "upsert", key, Some(&json!({"key": key, "updatedMs": now})))?;
    let usage = &message.usage;
    let tools = if message.tools.is_empty() {
        None
    } else {
        Some(serde_json::to_string(&message.tools).map_err(|error| StoreError::Corrupt(error.to_string()))?)
    };
    let as_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    transaction.execute(
        "INSERT INTO messages (session_key, run_id, role, content, created_ms, idempotency_key, model,
             stop_reason, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, tools)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        params![
            key,
            message.run_id.as_str(),
            message.role.as_str(),
            message.content,
            now,
            message.idempotency_key,
            message.model,
            message.stop_reason,
            as_i64(usage.input_tokens),
            as_i64(usage.output_tokens),
            as_i64(usage.cache_read_tokens),
            as_i64(usage.cache_write_tokens),
            tools,
        ],
    )?;
    let stored = StoredMessage {
        id: transaction.last_insert_rowid(),
        session_key: key.to_owned(),
        run_id: message.run_id.as_str().to_owned(),
        role: message.role,
        content: message.content.clone(),
        created_ms: now,
        model: message.model.clone(),
        stop_reason: message.stop_reason.clone(),
        usage: message.usage,
        tools: message.tools.clone(),
    };
    let data = serde_json::to_value(&stored).map_err(|error| StoreError::Corrupt(error.to_string()))?;
    record(transaction, "message", "upsert", &stored.id.to_string(), Some(&data))?;
    Ok(stored)
}

impl Store {
    /// Appends a message. A user message with an idempotency key already used is not stored
    /// twice: the earlier run is returned instead.
    pub async fn append_message(&self, message: NewMessage) -> Result<Appended, StoreError> {
        self.write(move |transaction| {
            if let Some(key) = &message.idempotency_key {
                let existing: Option<String> = transaction
                    .query_row("SELECT run_id FROM messages WHERE idempotency_key = ?1", [key], |row| row.get(0))
                    .optional()?;
                if let Some(run_id) = existing {
                    let answered: bool = transaction.query_row(
                        "SELECT EXISTS (SELECT 1 FROM messages WHERE run_id = ?1 AND role = 'assistant')",
                        [&run_id],
                        |row| row.get(0),
                    )?;
                    return Ok(Appended::Duplicate { run_id: RunId::from_stored(run_id), answered });
                }
            }
            insert(transaction, &message).map(Appended::Inserted)
        })
        .await
    }

    /// The last `limit` messages of a session, oldest first.
    pub async fn history(&self, key: &SessionKey, limit: usize) -> Result<Vec<StoredMessage>, StoreError> {
        self.history_after(key, 0, limit).await
    }

    /// The last `limit` messages of a session after message `after_id`, oldest first.
    pub async fn history_after(
        &self,
        key: &SessionKey,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let key = key.as_str().to_owned();
        self.call(move |connection| {
            let sql = format!(
                "SELECT * FROM (SELECT {MESSAGE_COLUMNS} FROM messages WHERE session_key = ?1 AND id > ?2
                 ORDER BY id DESC LIMIT ?3) ORDER BY id"
            );
            let mut statement = connection.prepare_cached(&sql)?;
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let rows = statement.query_map(params![key, after_id, limit], message_from_row)?;
            rows.map(|row| with_role(row?)).collect()
        })
        .await
    }

    /// Tokens a session has used so far: input (cache reads and writes included) and output.
    pub async fn session_usage(&self, key: &SessionKey) -> Result<Usage, StoreError> {
        let key = key.as_str().to_owned();
        self.call(move |connection| {
            Ok(connection.query_row(
                "SELECT COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0),
                    COALESCE(SUM(cache_read_tokens), 0), COALESCE(SUM(cache_write_tokens), 0)
                 FROM messages WHERE session_key = ?1",
                [&key],
                |row| {
                    let count = |index: usize| row.get::<_, i64>(index).map(|n| u64::try_from(n).unwrap_or(0));
                    Ok(Usage {
                        input_tokens: count(0)?,
                        output_tokens: count(1)?,
                        cache_read_tokens: count(2)?,
                        cache_write_tokens: count(3)?,
                    })
                },
            )?)
        })
        .await
    }

    /// Sessions, most recently updated first.
    pub async fn list_sessions(&self, limit: usize) -> Result<Vec<SessionSummary>, StoreError> {
        self.call(move |connection| {
            let mut statement = connection.prepare_cached(
                "SELECT s.key, s.created_ms, s.updated_ms, s.label,
                    (SELECT COUNT(*) FROM messages m WHERE m.session_key = s.key),
                    (SELECT content FROM messages m WHERE m.session_key = s.key ORDER BY id DESC LIMIT 1),
                    (SELECT COALESCE(SUM(input_tokens), 0) FROM messages m WHERE m.session_key = s.key),
                    (SELECT COALESCE(SUM(output_tokens), 0) FROM messages m WHERE m.session_key = s.key)
                 FROM sessions s ORDER BY s.updated_ms DESC, s.key LIMIT ?1",
            )?;
            let rows = statement.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |row| {
                let count = |index: usize| row.get::<_, i64>(index).map(|n| u64::try_from(n).unwrap_or(0));
                Ok(SessionSummary {
                    key: row.get(0)?,
                    created_ms: row.get(1)?,
                    updated_ms: row.get(2)?,
                    label: row.get(3)?,
                    message_count: count(4)?,
                    last_message_preview: row.get::<_, Option<String>>(5)?.map(|text| preview(&text)),
                    input_tokens: count(6)?,
                    output_tokens: count(7)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    /// Clears a session's messages and keeps the session; returns how many were removed.
    pub async fn reset_session(&self, key: &SessionKey) -> Result<usize, StoreError> {
        let key = key.as_str().to_owned();
        self.write(move |transaction| {
            let removed = transaction.execute("DELETE FROM messages WHERE session_key = ?1", [&key])?;
            transaction.execute("DELETE FROM summaries WHERE key = ?1", [&key])?;
            transaction.execute("UPDATE sessions SET updated_ms = ?2 WHERE key = ?1", params![key, now_ms()])?;
            record(transaction, "session", "reset", &key, None)?;
            Ok(removed)
        })
        .await
    }

    /// Deletes a session and its messages; returns whether it existed.
    pub async fn delete_session(&self, key: &SessionKey) -> Result<bool, StoreError> {
        let key = key.as_str().to_owned();
        self.write(move |transaction| {
            let removed = transaction.execute("DELETE FROM sessions WHERE key = ?1", [&key])?;
            if removed > 0 {
                record(transaction, "session", "delete", &key, None)?;
            }
            Ok(removed > 0)
        })
        .await
    }

    /// Messages stored in all sessions.
    pub async fn message_count(&self) -> Result<u64, StoreError> {
        self.call(|connection| {
            let count: i64 = connection.query_row("SELECT COUNT(*) FROM messages", [], |row| row.get(0))?;
            Ok(u64::try_from(count).unwrap_or(0))
        })
        .await
    }
}

fn preview(text: &str) -> String {
    const MAX_CHARS: usize = 120;
    let single_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match single_line.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}…", &single_line[..cut]),
        None => single_line,
    }
}
