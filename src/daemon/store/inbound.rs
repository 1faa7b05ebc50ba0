//! Chat-platform updates as received: recorded once per dedupe key before they are
//! acknowledged, marked handled after their turn starts, pruned after a day.

use rusqlite::params;

use super::{Store, StoreError};
use crate::core::time::now_ms;

/// Handled updates are forgotten after this long; platforms stop redelivering well before.
const KEEP_MS: i64 = 24 * 60 * 60 * 1000;

impl Store {
    /// Records an update; `false` when its key was already recorded (a redelivery).
    pub async fn record_inbound(&self, channel: &str, dedupe_key: &str, payload: &str) -> Result<bool, StoreError> {
        let (channel, key, payload) = (channel.to_owned(), dedupe_key.to_owned(), payload.to_owned());
        self.call(move |connection| {
            let now = now_ms();
            connection.execute(
                "DELETE FROM channel_inbound WHERE handled_ms IS NOT NULL AND handled_ms < ?1",
                [now - KEEP_MS],
            )?;
            let inserted = connection.execute(
                "INSERT INTO channel_inbound (channel, dedupe_key, payload, received_ms) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (channel, dedupe_key) DO NOTHING",
                params![channel, key, payload, now],
            )?;
            Ok(inserted > 0)
        })
        .await
    }

    pub async fn mark_inbound_handled(&self, channel: &str, dedupe_key: &str) -> Result<(), StoreError> {
        let (channel, key) = (channel.to_owned(), dedupe_key.to_owned());
        self.call(move |connection| {
            connection.execute(
                "UPDATE channel_inbound SET handled_ms = ?3 WHERE channel = ?1 AND dedupe_key = ?2",
                params![channel, key, now_ms()],
            )?;
            Ok(())
        })
        .await
    }

    /// Recorded but never handled (the process stopped in between), oldest first.
    pub async fn unhandled_inbound(&self, channel: &str, limit: usize) -> Result<Vec<(String, String)>, StoreError> {
        let channel = channel.to_owned();
        self.call(move |connection| {
            let mut statement = connection.prepare(
                "SELECT dedupe_key, payload FROM channel_inbound WHERE channel = ?1 AND handled_ms IS NULL
                 ORDER BY received_ms LIMIT ?2",
            )?;
            let rows = statement.query_map(params![channel, limit as i64], |row| Ok((row.get(0)?, row.get(1)?)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_key_is_recorded_once_and_replayed_until_handled() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert!(store.record_inbound("telegram", "update:1", "{}").await.unwrap());
        assert!(!store.record_inbound("telegram", "update:1", "{}").await.unwrap());
        assert!(store.record_inbound("slack", "update:1", "{}").await.unwrap(), "keys are per channel");
        assert_eq!(store.unhandled_inbound("telegram", 10).await.unwrap(), [("update:1".to_owned(), "{}".to_owned())]);
        store.mark_inbound_handled("telegram", "update:1").await.unwrap();
        assert!(store.unhandled_inbound("telegram", 10).await.unwrap().is_empty());
        assert!(!store.record_inbound("telegram", "update:1", "{}").await.unwrap());
    }
}
