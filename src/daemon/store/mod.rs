//! The embedded store: SQLite (WAL) in the data directory, versioned migrations, and an ordered
//! change log that replication reads without touching callers.

mod audit;
mod changes;
mod codes;
mod conversations;
mod devices;
mod inbound;
mod migrations;
pub mod private;
mod search;
mod settings;
mod summaries;

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
pub use search::{HitSource, MAX_HITS, SearchHit, SearchReach, SearchResults, SearchTerms};
pub use summaries::Summary;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store at `{path}`: {source}")]
    Open { path: PathBuf, source: rusqlite::Error },
    #[error("cannot create the store at `{path}`: {source}")]
    Create { path: PathBuf, source: std::io::Error },
    #[error("store error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("store data is not valid: {0}")]
    Corrupt(String),
    #[error("the store's worker stopped unexpectedly")]
    Worker,
    /// Writes were refused on purpose (the gateway lost its bucket to another instance).
    #[error("{0}")]
    Refused(String),
}

/// Handle to the store; cheap to clone. Calls run on tokio's blocking pool.
#[derive(Clone)]
pub struct Store {
    connection: Arc<Mutex<Connection>>,
    last_change: Arc<watch::Sender<u64>>,
    path: PathBuf,
    /// Why writes are refused, once they are.
    refusal: Arc<Mutex<Option<String>>>,
}

impl Store {
    /// Opens (creating if needed) `molt.db` in `data_dir` and applies pending migrations.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let path = data_dir.join("molt.db");
        let open_error = |source| StoreError::Open { path: path.clone(), source };
        if !path.exists() {
            // An empty file is a new database; created owner-only before SQLite writes to it.
            private::create(&path).map_err(|source| StoreError::Create { path: path.clone(), source })?;
        }
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
        private::restrict(&path);
        Ok(Self {
            connection: Arc::new(Mutex::new(connection)),
            last_change: Arc::new(watch::Sender::new(last)),
            path,
            refusal: Arc::new(Mutex::new(None)),
        })
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
        let refusal = Arc::clone(&self.refusal);
        tokio::task::spawn_blocking(move || {
            let mut guard = lock(&connection);
            let refused = lock(&refusal).clone();
            if let Some(reason) = &refused {
                // SQLite's own switch, so no write path can slip past; reads go on.
                guard.pragma_update(None, "query_only", true).map_err(|_| StoreError::Refused(reason.clone()))?;
            }
            work(&mut guard).map_err(|error| match (error, refused) {
                (StoreError::Sqlite(inner), Some(reason))
                    if inner.sqlite_error_code() == Some(rusqlite::ErrorCode::ReadOnly) =>
                {
                    StoreError::Refused(reason)
                }
                (error, _) => error,
            })
        })
        .await
        .map_err(|_| StoreError::Worker)?
    }

    /// From the next call on, every write fails with `reason` and reads go on. Used when another
    /// instance took the bucket over: whatever this one acknowledged from then on would never
    /// reach the bucket.
    pub fn refuse_writes(&self, reason: String) {
        *self.refusal.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(reason);
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

/// Brings a database (a restored snapshot) to this binary's schema.
pub fn migrate(connection: &mut Connection) -> rusqlite::Result<()> {
    migrations::apply(connection)
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
