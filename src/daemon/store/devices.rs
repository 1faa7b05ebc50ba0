//! Paired devices and their tokens (stored as SHA-256 digests, expiring, revocable).

use rusqlite::{OptionalExtension, Row, Transaction, params};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::changes::{delete_where, record};
use super::{Store, StoreError};
use crate::core::time::now_ms;

/// A device an operator (or loopback auto-approval) let in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PairedDevice {
    pub device_id: String,
    pub public_key: String,
    pub display_name: Option<String>,
    pub client_id: String,
    pub client_mode: String,
    pub platform: String,
    pub device_family: String,
    pub role: String,
    pub scopes: Vec<String>,
    /// `operator` or `loopback`.
    pub approved_via: String,
    pub created_at_ms: i64,
    pub approved_at_ms: i64,
    pub last_seen_at_ms: Option<i64>,
    pub last_address: Option<String>,
    pub token_expires_at_ms: Option<i64>,
}

/// What a valid device token grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenGrant {
    pub device_id: String,
    pub role: String,
    pub scopes: Vec<String>,
    pub expires_ms: i64,
}

pub fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn scopes_from(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

const DEVICE_COLUMNS: &str = "d.device_id, d.public_key, d.display_name, d.client_id, d.client_mode, d.platform, \
    d.device_family, d.role, d.scopes, d.approved_via, d.created_ms, d.approved_ms, d.last_seen_ms, d.last_address, \
    (SELECT MAX(expires_ms) FROM device_tokens t WHERE t.device_id = d.device_id)";

fn device_from_row(row: &Row<'_>) -> rusqlite::Result<PairedDevice> {
    Ok(PairedDevice {
        device_id: row.get(0)?,
        public_key: row.get(1)?,
        display_name: row.get(2)?,
        client_id: row.get(3)?,
        client_mode: row.get(4)?,
        platform: row.get(5)?,
        device_family: row.get(6)?,
        role: row.get(7)?,
        scopes: scopes_from(&row.get::<_, String>(8)?),
        approved_via: row.get(9)?,
        created_at_ms: row.get(10)?,
        approved_at_ms: row.get(11)?,
        last_seen_at_ms: row.get(12)?,
        last_address: row.get(13)?,
        token_expires_at_ms: row.get(14)?,
    })
}

fn insert_token(
    transaction: &Transaction<'_>,
    device: &PairedDevice,
    token: &str,
    expires_ms: i64,
) -> Result<(), StoreError> {
    delete_where(
        transaction,
        "device_token",
        "device_tokens",
        "token_hash",
        "device_id = ?1 AND role = ?2",
        &[&device.device_id, &device.role],
    )?;
    let digest = token_digest(token);
    transaction.execute(
        "INSERT INTO device_tokens (token_hash, device_id, role, scopes, created_ms, expires_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![digest, device.device_id, device.role, json!(device.scopes).to_string(), now_ms(), expires_ms],
    )?;
    record(
        transaction,
        "device_token",
        "upsert",
        &digest,
        Some(&json!({"deviceId": device.device_id, "expiresMs": expires_ms})),
    )
}

impl Store {
    /// Stores (or replaces) a paired device and issues its token, replacing earlier ones.
    pub async fn pair_device(
        &self,
        device: PairedDevice,
        token: String,
        expires_ms: i64,
    ) -> Result<PairedDevice, StoreError> {
        self.write(move |transaction| {
            transaction.execute(
                "INSERT INTO devices (device_id, public_key, display_name, client_id, client_mode, platform, device_family,
                    role, scopes, approved_via, created_ms, approved_ms, last_seen_ms, last_address)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
                 ON CONFLICT (device_id) DO UPDATE SET public_key = excluded.public_key, display_name = excluded.display_name,
                    client_id = excluded.client_id, client_mode = excluded.client_mode, platform = excluded.platform,
                    device_family = excluded.device_family, role = excluded.role, scopes = excluded.scopes,
                    approved_via = excluded.approved_via, approved_ms = excluded.approved_ms",
                params![
                    device.device_id,
                    device.public_key,
                    device.display_name,
                    device.client_id,
                    device.client_mode,
                    device.platform,
                    device.device_family,
                    device.role,
                    json!(device.scopes).to_string(),
                    device.approved_via,
                    device.created_at_ms,
                    device.approved_at_ms,
                    device.last_seen_at_ms,
                    device.last_address,
                ],
            )?;
            let data = serde_json::to_value(&device).map_err(|error| StoreError::Corrupt(error.to_string()))?;
            record(transaction, "device", "upsert", &device.device_id, Some(&data))?;
            insert_token(transaction, &device, &token, expires_ms)?;
            Ok(PairedDevice { token_expires_at_ms: Some(expires_ms), ..device })
        })
        .await
    }

    pub async fn device(&self, device_id: &str) -> Result<Option<PairedDevice>, StoreError> {
        let device_id = device_id.to_owned();
        self.call(move |connection| {
            let sql = format!("SELECT {DEVICE_COLUMNS} FROM devices d WHERE d.device_id = ?1");
            Ok(connection.query_row(&sql, [device_id], device_from_row).optional()?)
        })
        .await
    }

    pub async fn devices(&self) -> Result<Vec<PairedDevice>, StoreError> {
        self.call(|connection| {
            let sql = format!("SELECT {DEVICE_COLUMNS} FROM devices d ORDER BY d.approved_ms DESC");
            let mut statement = connection.prepare(&sql)?;
            let rows = statement.query_map([], device_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    /// Replaces the device's token with `token`; false when the device is unknown.
    pub async fn rotate_device_token(
        &self,
        device_id: &str,
        token: String,
        expires_ms: i64,
    ) -> Result<bool, StoreError> {
        let device = self.device(device_id).await?;
        let Some(device) = device else { return Ok(false) };
        self.write(move |transaction| insert_token(transaction, &device, &token, expires_ms).map(|()| true)).await
    }

    /// Deletes the device and its tokens; false when it was not paired.
    pub async fn remove_device(&self, device_id: &str) -> Result<bool, StoreError> {
        let device_id = device_id.to_owned();
        self.write(move |transaction| {
            delete_where(transaction, "device_token", "device_tokens", "token_hash", "device_id = ?1", &[&device_id])?;
            let removed = transaction.execute("DELETE FROM devices WHERE device_id = ?1", [&device_id])?;
            if removed > 0 {
                record(transaction, "device", "delete", &device_id, None)?;
            }
            Ok(removed > 0)
        })
        .await
    }

    /// Deletes a device's tokens, keeping the device paired; returns how many were removed.
    pub async fn revoke_device_tokens(&self, device_id: &str) -> Result<usize, StoreError> {
        let device_id = device_id.to_owned();
        self.write(move |transaction| {
            delete_where(transaction, "device_token", "device_tokens", "token_hash", "device_id = ?1", &[&device_id])
        })
        .await
    }

    /// The grant of a device token that is known and not expired.
    pub async fn check_device_token(&self, token: &str) -> Result<Option<TokenGrant>, StoreError> {
        let digest = token_digest(token);
        self.call(move |connection| {
            let grant = connection
                .query_row(
                    "SELECT device_id, role, scopes, expires_ms FROM device_tokens WHERE token_hash = ?1 AND expires_ms > ?2",
                    params![digest, now_ms()],
                    |row| {
                        Ok(TokenGrant {
                            device_id: row.get(0)?,
                            role: row.get(1)?,
                            scopes: scopes_from(&row.get::<_, String>(2)?),
                            expires_ms: row.get(3)?,
                        })
                    },
                )
                .optional()?;
            Ok(grant)
        })
        .await
    }

    /// Records a connect (not replicated as a change: it is telemetry, not state).
    pub async fn touch_device(&self, device_id: &str, address: &str) -> Result<(), StoreError> {
        let (device_id, address) = (device_id.to_owned(), address.to_owned());
        self.call(move |connection| {
            connection.execute(
                "UPDATE devices SET last_seen_ms = ?2, last_address = ?3 WHERE device_id = ?1",
                params![device_id, now_ms(), address],
            )?;
            Ok(())
        })
        .await
    }
}
