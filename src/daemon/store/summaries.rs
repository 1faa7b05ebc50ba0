//! Where a session's prompt history starts: the summary that replaced its older messages (the
//! messages themselves stay, for history and search), or an empty one after `/new`; and the
//! model a session chose with `/model`.

use rusqlite::{OptionalExtension, params};
use serde_json::json;

use super::changes::record;
use super::{Store, StoreError};
use crate::core::ids::SessionKey;
use crate::core::time::now_ms;

/// The start of a session's prompt history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The last message the summary covers; the prompt's history is what came after it.
    pub through_id: i64,
    /// Empty after `/new`: a fresh start with nothing carried over.
    pub text: String,
    pub created_ms: i64,
}

impl Store {
    pub async fn summary(&self, key: &SessionKey) -> Result<Option<Summary>, StoreError> {
        let key = key.as_str().to_owned();
        self.call(move |connection| {
            Ok(connection
                .query_row("SELECT through_id, text, created_ms FROM summaries WHERE key = ?1", [&key], |row| {
                    Ok(Summary { through_id: row.get(0)?, text: row.get(1)?, created_ms: row.get(2)? })
                })
                .optional()?)
        })
        .await
    }

    /// Replaces the session's summary. The session must exist (it has messages).
    pub async fn set_summary(&self, key: &SessionKey, through_id: i64, text: String) -> Result<(), StoreError> {
        let key = key.as_str().to_owned();
        self.write(move |transaction| {
            let now = now_ms();
            transaction.execute(
                "INSERT INTO summaries (key, through_id, text, created_ms) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (key) DO UPDATE SET through_id = excluded.through_id, text = excluded.text,
                     created_ms = excluded.created_ms",
                params![key, through_id, text, now],
            )?;
            record(transaction, "summary", "upsert", &key, Some(&json!({"key": key, "throughId": through_id})))?;
            Ok(())
        })
        .await
    }

    /// Starts the session afresh: its history so far stays stored but leaves the prompt.
    /// Returns how many messages were set aside; nothing happens to a session without any.
    pub async fn start_fresh(&self, key: &SessionKey) -> Result<u64, StoreError> {
        let session = key.as_str().to_owned();
        let last: Option<i64> = self
            .call(move |connection| {
                Ok(connection
                    .query_row("SELECT MAX(id) FROM messages WHERE session_key = ?1", [&session], |row| row.get(0))?)
            })
            .await?;
        let Some(last) = last else { return Ok(0) };
        let before = self.summary(key).await?.map_or(0, |summary| summary.through_id);
        let set_aside = self.count_after(key, before, last).await?;
        self.set_summary(key, last, String::new()).await?;
        Ok(set_aside)
    }

    async fn count_after(&self, key: &SessionKey, after: i64, through: i64) -> Result<u64, StoreError> {
        let key = key.as_str().to_owned();
        self.call(move |connection| {
            let count: i64 = connection.query_row(
                "SELECT COUNT(*) FROM messages WHERE session_key = ?1 AND id > ?2 AND id <= ?3",
                params![key, after, through],
                |row| row.get(0),
            )?;
            Ok(u64::try_from(count).unwrap_or(0))
        })
        .await
    }

    /// The model the session chose, if any.
    pub async fn session_model(&self, key: &SessionKey) -> Result<Option<String>, StoreError> {
        let key = key.as_str().to_owned();
        self.call(move |connection| {
            Ok(connection
                .query_row("SELECT model FROM sessions WHERE key = ?1", [&key], |row| row.get::<_, Option<String>>(0))
                .optional()?
                .flatten())
        })
        .await
    }

    /// Sets (or with `None` clears) the session's model; creates the session if needed.
    pub async fn set_session_model(&self, key: &SessionKey, model: Option<String>) -> Result<(), StoreError> {
        let key = key.as_str().to_owned();
        self.write(move |transaction| {
            let now = now_ms();
            transaction.execute(
                "INSERT INTO sessions (key, created_ms, updated_ms, model) VALUES (?1, ?2, ?2, ?3)
                 ON CONFLICT (key) DO UPDATE SET model = excluded.model, updated_ms = excluded.updated_ms",
                params![key, now, model],
            )?;
            record(transaction, "session", "upsert", &key, Some(&json!({"key": key, "updatedMs": now})))?;
            Ok(())
        })
        .await
    }
}
