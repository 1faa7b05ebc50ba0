//! The ordered change log: every write transaction appends what it changed, in commit order.

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use super::StoreError;
use crate::core::time::now_ms;

/// One committed change.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub seq: u64,
    pub at_ms: i64,
    /// `session`, `message` or `setting`.
    pub entity: String,
    /// `upsert` or `delete`.
    pub op: String,
    pub key: String,
    /// The new row as JSON for an upsert.
    pub data: Option<Value>,
}

pub fn record(
    connection: &Connection,
    entity: &str,
    op: &str,
    key: &str,
    data: Option<&Value>,
) -> Result<(), StoreError> {
    connection.execute(
        "INSERT INTO changes (at_ms, entity, op, key, data) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![now_ms(), entity, op, key, data.map(Value::to_string)],
    )?;
    Ok(())
}

/// Deletes the rows of `table` that match `filter` and records one `delete` per row, named by
/// its key column: replication replays deletions row by row.
pub fn delete_where(
    connection: &Connection,
    entity: &str,
    table: &str,
    key_column: &str,
    filter: &str,
    values: &[&dyn rusqlite::ToSql],
) -> Result<usize, StoreError> {
    let keys: Vec<String> = {
        let mut statement =
            connection.prepare(&format!("SELECT CAST({key_column} AS TEXT) FROM {table} WHERE {filter}"))?;
        let rows = statement.query_map(values, |row| row.get(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for key in &keys {
        connection.execute(&format!("DELETE FROM {table} WHERE {key_column} = ?1"), [key])?;
        record(connection, entity, "delete", key, None)?;
    }
    Ok(keys.len())
}

pub fn last_seq(connection: &Connection) -> rusqlite::Result<u64> {
    let seq: Option<i64> =
        connection.query_row("SELECT MAX(seq) FROM changes", [], |row| row.get(0)).optional()?.flatten();
    Ok(seq.map_or(0, |seq| u64::try_from(seq).unwrap_or(0)))
}

pub fn since(connection: &Connection, after: u64, limit: usize) -> Result<Vec<Change>, StoreError> {
    let mut statement = connection
        .prepare_cached("SELECT seq, at_ms, entity, op, key, data FROM changes WHERE seq > ?1 ORDER BY seq LIMIT ?2")?;
    let rows = statement.query_map(
        params![i64::try_from(after).unwrap_or(i64::MAX), i64::try_from(limit).unwrap_or(i64::MAX)],
        |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, String>(4)?,
                row.get::<_, Option<String>>(5)?,
            ))
        },
    )?;
    let mut changes = Vec::new();
    for row in rows {
        let (seq, at_ms, entity, op, key, data) = row?;
        let data = match data {
            Some(text) => Some(
                serde_json::from_str(&text).map_err(|error| StoreError::Corrupt(format!("change {seq}: {error}")))?,
            ),
            None => None,
        };
        changes.push(Change { seq: u64::try_from(seq).unwrap_or(0), at_ms, entity, op, key, data });
    }
    Ok(changes)
}
