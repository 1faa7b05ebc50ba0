//! Chat-platform pairing codes and per-channel allowlists.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use serde_json::json;

use super::changes::{delete_where, record};
use super::{Store, StoreError};
use crate::core::pairing::{CODE_HOLD, CODE_TTL, MAX_PENDING_CODES, generate_code};
use crate::core::time::now_ms;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PairingCode {
    pub channel: String,
    pub code: String,
    pub sender_id: String,
    pub sender_name: Option<String>,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
}

/// What issuing a code for a sender did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeIssue {
    New(PairingCode),
    /// The sender already holds a pending code: the same one is given again.
    Existing(PairingCode),
    /// The channel has its maximum of pending codes.
    TooManyPending,
}

/// The key column of `pairing_codes`: `<channel>/<code>`.
fn code_key(channel: &str, code: &str) -> String {
    format!("{channel}/{code}")
}

/// The key column of `allowlist`: `<channel>/<sender>`.
fn allow_key(channel: &str, sender_id: &str) -> String {
    format!("{channel}/{sender_id}")
}

fn ttl_ms() -> i64 {
    i64::try_from(CODE_TTL.as_millis()).unwrap_or(i64::MAX)
}

fn code_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<PairingCode> {
    Ok(PairingCode {
        channel: row.get(0)?,
        code: row.get(1)?,
        sender_id: row.get(2)?,
        sender_name: row.get(3)?,
        created_at_ms: row.get(4)?,
        expires_at_ms: row.get(5)?,
    })
}

const CODE_COLUMNS: &str = "channel, code, sender_id, sender_name, created_ms, expires_ms";

impl Store {
    pub async fn issue_pairing_code(
        &self,
        channel: &str,
        sender_id: &str,
        sender_name: Option<&str>,
    ) -> Result<CodeIssue, StoreError> {
        let (channel, sender_id, sender_name) =
            (channel.to_owned(), sender_id.to_owned(), sender_name.map(str::to_owned));
        self.write(move |transaction| {
            let now = now_ms();
            delete_where(transaction, "pairing_code", "pairing_codes", "key", "expires_ms <= ?1", &[&now])?;
            let existing = transaction
                .query_row(
                    &format!("SELECT {CODE_COLUMNS} FROM pairing_codes WHERE channel = ?1 AND sender_id = ?2"),
                    params![channel, sender_id],
                    code_from_row,
                )
                .optional()?;
            if let Some(code) = existing {
                return Ok(CodeIssue::Existing(code));
            }
            let pending: i64 =
                transaction
                    .query_row("SELECT COUNT(*) FROM pairing_codes WHERE channel = ?1", [&channel], |row| row.get(0))?;
            if usize::try_from(pending).unwrap_or(usize::MAX) >= MAX_PENDING_CODES {
                // The oldest code held past the hold time makes room; fresh ones are kept.
                let held_since = now - i64::try_from(CODE_HOLD.as_millis()).unwrap_or(i64::MAX);
                let oldest: Option<String> = transaction
                    .query_row(
                        "SELECT key FROM pairing_codes WHERE channel = ?1 AND created_ms <= ?2 ORDER BY created_ms LIMIT 1",
                        params![channel, held_since],
                        |row| row.get(0),
                    )
                    .optional()?;
                let Some(oldest) = oldest else { return Ok(CodeIssue::TooManyPending) };
                delete_where(transaction, "pairing_code", "pairing_codes", "key", "key = ?1", &[&oldest])?;
            }
            let code = PairingCode {
                channel: channel.clone(),
                code: generate_code(),
                sender_id: sender_id.clone(),
                sender_name: sender_name.clone(),
                created_at_ms: now,
                expires_at_ms: now + ttl_ms(),
            };
            transaction.execute(
                &format!("INSERT INTO pairing_codes (key, {CODE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
                params![
                    code_key(&code.channel, &code.code),
                    code.channel,
                    code.code,
                    code.sender_id,
                    code.sender_name,
                    code.created_at_ms,
                    code.expires_at_ms
                ],
            )?;
            let data = serde_json::to_value(&code).map_err(|error| StoreError::Corrupt(error.to_string()))?;
            record(transaction, "pairing_code", "upsert", &code_key(&code.channel, &code.code), Some(&data))?;
            Ok(CodeIssue::New(code))
        })
        .await
    }

    /// Pending codes that have not expired, oldest first.
    pub async fn pairing_codes(&self) -> Result<Vec<PairingCode>, StoreError> {
        self.call(|connection| {
            let sql = format!("SELECT {CODE_COLUMNS} FROM pairing_codes WHERE expires_ms > ?1 ORDER BY created_ms");
            let mut statement = connection.prepare(&sql)?;
            let rows = statement.query_map([now_ms()], code_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    /// Takes a pending code out; approving also allowlists its sender. `None` when unknown or
    /// expired.
    pub async fn resolve_pairing_code(
        &self,
        channel: &str,
        code: &str,
        approve: bool,
    ) -> Result<Option<PairingCode>, StoreError> {
        let (channel, code) = (channel.to_owned(), code.to_owned());
        self.write(move |transaction| {
            let found = transaction
                .query_row(
                    &format!(
                        "SELECT {CODE_COLUMNS} FROM pairing_codes WHERE channel = ?1 AND code = ?2 AND expires_ms > ?3"
                    ),
                    params![channel, code, now_ms()],
                    code_from_row,
                )
                .optional()?;
            let Some(found) = found else { return Ok(None) };
            let key = code_key(&channel, &code);
            transaction.execute("DELETE FROM pairing_codes WHERE key = ?1", [&key])?;
            record(transaction, "pairing_code", "delete", &key, None)?;
            if approve {
                add_allowed(transaction, &channel, &found.sender_id)?;
            }
            Ok(Some(found))
        })
        .await
    }

    pub async fn allowlist(&self, channel: &str) -> Result<Vec<String>, StoreError> {
        let channel = channel.to_owned();
        self.call(move |connection| {
            let mut statement = connection
                .prepare_cached("SELECT sender_id FROM allowlist WHERE channel = ?1 ORDER BY added_ms, sender_id")?;
            let rows = statement.query_map([channel], |row| row.get(0))?;
            Ok(rows.collect::<rusqlite::Result<Vec<String>>>()?)
        })
        .await
    }

    pub async fn is_allowed(&self, channel: &str, sender_id: &str) -> Result<bool, StoreError> {
        let (channel, sender_id) = (channel.to_owned(), sender_id.to_owned());
        self.call(move |connection| {
            Ok(connection.query_row(
                "SELECT EXISTS (SELECT 1 FROM allowlist WHERE channel = ?1 AND sender_id = ?2)",
                params![channel, sender_id],
                |row| row.get(0),
            )?)
        })
        .await
    }

    /// Replaces a channel's allowlist.
    pub async fn set_allowlist(&self, channel: &str, senders: Vec<String>) -> Result<(), StoreError> {
        let channel = channel.to_owned();
        self.write(move |transaction| {
            delete_where(transaction, "allowlist", "allowlist", "key", "channel = ?1", &[&channel])?;
            for sender in &senders {
                add_allowed(transaction, &channel, sender)?;
            }
            Ok(())
        })
        .await
    }
}

fn add_allowed(transaction: &rusqlite::Transaction<'_>, channel: &str, sender_id: &str) -> Result<(), StoreError> {
    let key = allow_key(channel, sender_id);
    let added = transaction.execute(
        "INSERT INTO allowlist (key, channel, sender_id, added_ms) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
        params![key, channel, sender_id, now_ms()],
    )?;
    if added > 0 {
        record(transaction, "allowlist", "upsert", &key, Some(&json!({"channel": channel, "senderId": sender_id})))?;
    }
    Ok(())
}
