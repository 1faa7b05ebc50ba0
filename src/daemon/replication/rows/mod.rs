//! Row images: what a change did, in a form that replays on another database. Each entity the
//! store's change log names maps to its table here; replication refuses an entity it does not
//! know rather than ship a change it cannot replay.

use base64::Engine;
use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use serde_json::{Map, Value};

use super::format::ShippedChange;

/// `entity` in the change log → the table and key column it touches.
const ENTITIES: &[(&str, &str, &str)] = &[
    ("session", "sessions", "key"),
    ("message", "messages", "id"),
    ("setting", "settings", "key"),
    ("device", "devices", "device_id"),
    ("device_token", "device_tokens", "token_hash"),
    ("pairing_code", "pairing_codes", "key"),
    ("allowlist", "allowlist", "key"),
    ("audit", "audit_log", "id"),
    ("inbound", "channel_inbound", "key"),
    ("summary", "summaries", "key"),
];

#[derive(Debug, thiserror::Error)]
pub enum RowError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("change {seq}: unknown entity `{entity}` or operation `{op}`")]
    Unknown { seq: u64, entity: String, op: String },
    #[error("change {seq}: {message}")]
    Invalid { seq: u64, message: String },
}

fn table(entity: &str) -> Option<(&'static str, &'static str)> {
    ENTITIES.iter().find(|(name, _, _)| *name == entity).map(|&(_, table, key)| (table, key))
}

/// Committed changes after `after` (at most `limit`), each with its row as it is now. Runs in
/// one read so the batch is a consistent picture.
pub fn read_batch(connection: &Connection, after: u64, limit: usize) -> Result<Vec<ShippedChange>, RowError> {
    let changes = crate::daemon::store::read_changes(connection, after, limit)
        .map_err(|error| RowError::Invalid { seq: after + 1, message: error.to_string() })?;
    let mut batch: Vec<ShippedChange> = changes
        .into_iter()
        .map(|change| ShippedChange {
            seq: change.seq,
            at_ms: change.at_ms,
            entity: change.entity,
            op: change.op,
            key: change.key,
            data: change.data,
            row: None,
        })
        .collect();
    for change in &mut batch {
        let unknown = || RowError::Unknown { seq: change.seq, entity: change.entity.clone(), op: change.op.clone() };
        let (table, key_column) = table(&change.entity).ok_or_else(unknown)?;
        match change.op.as_str() {
            "upsert" => change.row = read_row(connection, table, key_column, &change.key)?,
            "delete" => {}
            "reset" if change.entity == "session" => {}
            _ => return Err(unknown()),
        }
    }
    Ok(batch)
}

fn read_row(
    connection: &Connection,
    table: &str,
    key_column: &str,
    key: &str,
) -> Result<Option<Map<String, Value>>, RowError> {
    let mut statement = connection.prepare_cached(&format!("SELECT * FROM {table} WHERE {key_column} = ?1"))?;
    let names: Vec<String> = statement.column_names().into_iter().map(str::to_owned).collect();
    let key = key_value(table, key);
    Ok(statement
        .query_row([key], |row| {
            let mut map = Map::new();
            for (index, name) in names.iter().enumerate() {
                map.insert(name.clone(), to_json(row.get_ref(index)?));
            }
            Ok(map)
        })
        .optional()?)
}

/// Integer primary keys are compared as integers.
fn key_value(table: &str, key: &str) -> SqlValue {
    match (table, key.parse::<i64>()) {
        ("messages" | "audit_log", Ok(id)) => SqlValue::Integer(id),
        _ => SqlValue::Text(key.to_owned()),
    }
}

fn to_json(value: ValueRef<'_>) -> Value {
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(number) => Value::from(number),
        ValueRef::Real(number) => Value::from(number),
        ValueRef::Text(text) => Value::String(String::from_utf8_lossy(text).into_owned()),
        ValueRef::Blob(bytes) => {
            serde_json::json!({"$blob": base64::engine::general_purpose::STANDARD.encode(bytes)})
        }
    }
}

fn from_json(value: &Value) -> Result<SqlValue, String> {
    Ok(match value {
        Value::Null => SqlValue::Null,
        Value::Bool(flag) => SqlValue::Integer(i64::from(*flag)),
        Value::Number(number) => match number.as_i64() {
            Some(integer) => SqlValue::Integer(integer),
            None => SqlValue::Real(number.as_f64().unwrap_or_default()),
        },
        Value::String(text) => SqlValue::Text(text.clone()),
        Value::Object(object) => match object.get("$blob").and_then(Value::as_str) {
            Some(encoded) => SqlValue::Blob(
                base64::engine::general_purpose::STANDARD.decode(encoded).map_err(|error| error.to_string())?,
            ),
            None => return Err("an object that is not a blob".into()),
        },
        Value::Array(_) => return Err("an array where a column value was expected".into()),
    })
}

/// Replays one change on a database being restored (in the caller's transaction), and records
/// it in that database's own change log under the same sequence number.
pub fn apply(connection: &Connection, change: &ShippedChange) -> Result<(), RowError> {
    let seq = change.seq;
    let unknown = || RowError::Unknown { seq, entity: change.entity.clone(), op: change.op.clone() };
    let (table, key_column) = table(&change.entity).ok_or_else(unknown)?;
    match (change.op.as_str(), &change.row) {
        ("upsert", Some(row)) => {
            upsert(connection, table, key_column, row).map_err(|message| RowError::Invalid { seq, message })?
        }
        // The row was gone when the change was shipped: a later change in the log removes it.
        ("upsert", None) => {}
        ("delete", _) => {
            connection
                .execute(&format!("DELETE FROM {table} WHERE {key_column} = ?1"), [key_value(table, &change.key)])?;
        }
        ("reset", _) if change.entity == "session" => {
            connection.execute("DELETE FROM messages WHERE session_key = ?1", [&change.key])?;
            connection.execute("DELETE FROM summaries WHERE key = ?1", [&change.key])?;
        }
        _ => return Err(unknown()),
    }
    connection.execute(
        "INSERT OR REPLACE INTO changes (seq, at_ms, entity, op, key, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            i64::try_from(seq).unwrap_or(i64::MAX),
            change.at_ms,
            change.entity,
            change.op,
            change.key,
            change.data.as_ref().map(Value::to_string)
        ],
    )?;
    Ok(())
}

fn upsert(connection: &Connection, table: &str, key_column: &str, row: &Map<String, Value>) -> Result<(), String> {
    let mut columns = Vec::with_capacity(row.len());
    let mut values = Vec::with_capacity(row.len());
    for (name, value) in row {
        // Column names come from the bucket: only plain identifiers reach the SQL text.
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("column name `{name}` is not valid"));
        }
        columns.push(name.as_str());
        values.push(from_json(value).map_err(|error| format!("column `{name}`: {error}"))?);
    }
    if !columns.contains(&key_column) {
        return Err(format!("row for `{table}` has no `{key_column}`"));
    }
    let placeholders = (1..=columns.len()).map(|index| format!("?{index}")).collect::<Vec<_>>().join(", ");
    let updates = columns
        .iter()
        .filter(|name| **name != key_column)
        .map(|name| format!("{name} = excluded.{name}"))
        .collect::<Vec<_>>();
    let conflict =
        if updates.is_empty() { "DO NOTHING".to_owned() } else { format!("DO UPDATE SET {}", updates.join(", ")) };
    let sql = format!(
        "INSERT INTO {table} ({}) VALUES ({placeholders}) ON CONFLICT ({key_column}) {conflict}",
        columns.join(", ")
    );
    connection.execute(&sql, params_from_iter(values)).map_err(|error| error.to_string())?;
    Ok(())
}

#[cfg(test)]
mod tests;
