//! The embedded store: SQLite (WAL) in the data directory, versioned migrations, and an ordered
//! change log that replication reads without touching callers.

mod audit;
mod changes;
mod codes;
mod conversations;
mod devices;
mod inbound;
mod migrations;
mod settings;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::core::sync::lock;
use rusqlite::Connection;
use tokio::sync::watch;

pub use audit::AuditEntry;
pub use changes::{Change, since as read_changes};
pub use codes::{CodeIssue, PairingCode};
pub use conversations::{Appended, MessageRole, NewMessage, SessionSummary, StoredMessage, Usage};
pub use devices::{PairedDevice, TokenGrant, token_digest};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store at `{path}`: {source}")]
    Open { path: PathBuf, source: rusqlite::Error },
    #[error("store error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("store data is not valid: {0}")]
    Corrupt(String),
    #[error("the store's worker stopped unexpectedly")]
    Worker,
}

/// Handle to the store; cheap to clone. Calls run on tokio's blocking pool.
#[derive(Clone)]
pub struct Store {
    connection: Arc<Mutex<Connection>>,
    last_change: Arc<watch::Sender<u64>>,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) `molt.db` in `data_dir` and applies pending migrations.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let path = data_dir.join("molt.db");
        let open_error = |source| StoreError::Open { path: path.clone(), source };
        let mut connection = Connection::open(&path).map_err(open_error)?;
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL;
                 PRAGMA synchronous = NORMAL;
                 PRAGMA foreign_keys = ON;
                 PRAGMA busy_timeout = 5000;",
            )
            .map_err(open_error)?;
        migrations::apply(&mut connection).map_err(open_error)?;
        let last = changes::last_seq(&connection).map_err(open_error)?;
        Ok(Self { connection: Arc::new(Mutex::new(connection)), last_change: Arc::new(watch::Sender::new(last)), path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `work` with the connection on the blocking pool.
    pub async fn call<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let connection = Arc::clone(&self.connection);
        tokio::task::spawn_blocking(move || {
            let mut guard = lock(&connection);
            work(&mut guard)
        })
        .await
        .map_err(|_| StoreError::Worker)?
    }

    /// Runs a write transaction; change rows it appends become visible to subscribers after
    /// the commit.
    pub async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let last_change = Arc::clone(&self.last_change);
        self.call(move |connection| {
            let transaction = connection.transaction()?;
            let value = work(&transaction)?;
            let last = changes::last_seq(&transaction)?;
            transaction.commit()?;
            last_change.send_if_modified(|current| {
                let moved = *current != last;
                *current = last;
                moved
            });
            Ok(value)
        })
        .await
    }

    /// The sequence number of the newest committed change; it changes after every commit.
    pub fn subscribe_changes(&self) -> watch::Receiver<u64> {
        self.last_change.subscribe()
    }

    /// Committed changes after `after`, oldest first.
    pub async fn changes_since(&self, after: u64, limit: usize) -> Result<Vec<Change>, StoreError> {
        self.call(move |connection| changes::since(connection, after, limit)).await
    }

    /// Checkpoints the WAL into the database file; called on a clean stop.
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.call(|connection| {
            connection.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            Ok(())
        })
        .await
    }
}

/// Caps the database at its current size, so the next write finds the disk full.
#[cfg(test)]
pub async fn fill_disk(store: &Store) {
    store
        .call(|connection| {
            let pages: i64 = connection.query_row("PRAGMA page_count", [], |row| row.get(0))?;
            connection.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(()))?;
            Ok(())
        })
        .await
        .expect("cap the database size");
}

#[cfg(test)]
mod tests;
