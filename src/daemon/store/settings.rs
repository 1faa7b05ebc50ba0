//! Run-time settings an operator changes (DM policies, allowlists, model): kept in the store,
//! never overwritten by the environment on restart.

use rusqlite::{OptionalExtension, params};
use serde_json::json;

use super::changes::record;
use super::{Store, StoreError};
use crate::core::time::now_ms;

impl Store {
    pub async fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        let key = key.to_owned();
        self.call(move |connection| {
            Ok(connection.query_row("SELECT value FROM settings WHERE key = ?1", [key], |row| row.get(0)).optional()?)
        })
        .await
    }

    pub async fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        let (key, value) = (key.to_owned(), value.to_owned());
        self.write(move |transaction| {
            let now = now_ms();
            transaction.execute(
                "INSERT INTO settings (key, value, updated_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_ms = excluded.updated_ms",
                params![key, value, now],
            )?;
            record(transaction, "setting", "upsert", &key, Some(&json!({"key": key, "value": value, "updatedMs": now})))
        })
        .await
    }

    /// Sets `key` only when it has never been set: how the environment seeds a setting
    /// without overwriting an operator's later change. Returns whether it was written.
    pub async fn seed_setting(&self, key: &str, value: &str) -> Result<bool, StoreError> {
        let (key, value) = (key.to_owned(), value.to_owned());
        self.write(move |transaction| {
            let now = now_ms();
            let written = transaction.execute(
                "INSERT INTO settings (key, value, updated_ms) VALUES (?1, ?2, ?3) ON CONFLICT (key) DO NOTHING",
                params![key, value, now],
            )?;
            if written > 0 {
                record(
                    transaction,
                    "setting",
                    "upsert",
                    &key,
                    Some(&json!({"key": key, "value": value, "updatedMs": now})),
                )?;
            }
            Ok(written > 0)
        })
        .await
    }
}
