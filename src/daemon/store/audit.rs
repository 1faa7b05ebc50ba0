//! The audit log: who approved, rejected, revoked or changed what, when, from where.

use rusqlite::params;
use serde::Serialize;
use serde_json::json;

use super::changes::record;
use super::{Store, StoreError};
use crate::core::time::now_ms;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub id: i64,
    pub at_ms: i64,
    /// The Access email, `local token`, or `loopback` for automatic approvals.
    pub actor: String,
    pub action: String,
    pub target: String,
    pub address: Option<String>,
    pub detail: Option<String>,
}

impl Store {
    pub async fn audit(
        &self,
        actor: &str,
        action: &str,
        target: &str,
        address: Option<&str>,
        detail: Option<&str>,
    ) -> Result<(), StoreError> {
        let values = (
            actor.to_owned(),
            action.to_owned(),
            target.to_owned(),
            address.map(str::to_owned),
            detail.map(str::to_owned),
        );
        self.write(move |transaction| {
            let (actor, action, target, address, detail) = values;
            let at = now_ms();
            transaction.execute(
                "INSERT INTO audit_log (at_ms, actor, action, target, address, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![at, actor, action, target, address, detail],
            )?;
            let id = transaction.last_insert_rowid();
            let data = json!({"id": id, "atMs": at, "actor": actor, "action": action, "target": target, "address": address, "detail": detail});
            record(transaction, "audit", "upsert", &id.to_string(), Some(&data))
        })
        .await
    }

    /// Newest first.
    pub async fn audit_log(&self, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        self.call(move |connection| {
            let mut statement = connection.prepare_cached(
                "SELECT id, at_ms, actor, action, target, address, detail FROM audit_log ORDER BY id DESC LIMIT ?1",
            )?;
            let rows = statement.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |row| {
                Ok(AuditEntry {
                    id: row.get(0)?,
                    at_ms: row.get(1)?,
                    actor: row.get(2)?,
                    action: row.get(3)?,
                    target: row.get(4)?,
                    address: row.get(5)?,
                    detail: row.get(6)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }
}
