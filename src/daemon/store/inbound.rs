//! Chat-platform updates as received: recorded once per dedupe key before they are
//! acknowledged, marked handled once the user's message is stored, pruned after a day, and
//! replicated like every other table.

use rusqlite::params;

use super::{Store, StoreError, changes};
use crate::core::time::now_ms;

/// Handled updates are forgotten after this long; platforms stop redelivering well before.
const KEEP_MS: i64 = 24 * 60 * 60 * 1000;
/// The change log's name for these rows; replication maps it to the table.
const ENTITY: &str = "inbound";

fn row_key(channel: &str, dedupe_key: &str) -> String {
    format!("{channel}:{dedupe_key}")
}

impl Store {
    /// Records an update; `false` when its key was already recorded (a redelivery).
    pub async fn record_inbound(&self, channel: &str, dedupe_key: &str, payload: &str) -> Result<bool, StoreError> {
        let (channel, dedupe_key, payload) = (channel.to_owned(), dedupe_key.to_owned(), payload.to_owned());
        self.write(move |transaction| {
            let now = now_ms();
            changes::delete_where(
                transaction,
                ENTITY,
                "channel_inbound",
                "key",
                "handled_ms IS NOT NULL AND handled_ms < ?1",
                &[&(now - KEEP_MS)],
            )?;
            let key = row_key(&channel, &dedupe_key);
            let inserted = transaction.execute(
                "INSERT INTO channel_inbound (key, channel, dedupe_key, payload, received_ms) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (key) DO NOTHING",
                params![key, channel, dedupe_key, payload, now],
            )?;
            if inserted > 0 {
                changes::record(transaction, ENTITY, "upsert", &key, None)?;
            }
            Ok(inserted > 0)
        })
        .await
    }

    /// Marks an update handled: called only once the user's message is stored (or the update
    /// needed no turn), so a stop in between leaves it to be answered on the next start.
    pub async fn mark_inbound_handled(&self, channel: &str, dedupe_key: &str) -> Result<(), StoreError> {
        let key = row_key(channel, dedupe_key);
        self.write(move |transaction| {
            let updated = transaction.execute(
                "UPDATE channel_inbound SET handled_ms = ?2 WHERE key = ?1 AND handled_ms IS NULL",
                params![key, now_ms()],
            )?;
            if updated > 0 {
                changes::record(transaction, ENTITY, "upsert", &key, None)?;
            }
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
