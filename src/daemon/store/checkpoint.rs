//! Checkpoints of the store's write-ahead log, off the write path. SQLite's automatic
//! checkpoint runs inside the commit that crosses its threshold, copying pages and syncing
//! while that request and every store call behind it wait: the load tool saw it as the tail of
//! a turn's latency. The store turns it off and a thread of its own, on its own connection,
//! runs a passive checkpoint shortly after commits; a passive checkpoint never blocks the
//! writer or readers. The thread ends when the last store handle is dropped.

use std::path::Path;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::time::Duration;

use rusqlite::Connection;

/// How long after a commit the checkpoint waits, so a burst of commits is checkpointed once.
const SETTLE: Duration = Duration::from_millis(250);

/// Wakes the checkpoint thread after a commit; dropping the last clone ends it.
#[derive(Clone)]
pub struct Checkpoints {
    commits: SyncSender<()>,
}

impl Checkpoints {
    /// Opens a second connection to `path` and starts the thread; `None` (logged) when either
    /// fails, and the store keeps SQLite's automatic checkpoint.
    pub fn start(path: &Path) -> Option<Self> {
        let connection = match Connection::open(path).and_then(|connection| {
            connection.busy_timeout(Duration::from_secs(5))?;
            Ok(connection)
        }) {
            Ok(connection) => connection,
            Err(error) => {
                tracing::warn!(%error, "cannot open the checkpoint connection; checkpoints stay in commits");
                return None;
            }
        };
        let (commits, wake) = sync_channel(1);
        let started = std::thread::Builder::new().name("molt-checkpoint".into()).spawn(move || run(&connection, &wake));
        if let Err(error) = started {
            tracing::warn!(%error, "cannot start the checkpoint thread; checkpoints stay in commits");
            return None;
        }
        Some(Self { commits })
    }

    /// A commit happened: checkpoint soon. Never blocks (a pending wake-up covers this one).
    pub fn committed(&self) {
        match self.commits.try_send(()) {
            Ok(()) | Err(TrySendError::Full(())) | Err(TrySendError::Disconnected(())) => {}
        }
    }
}

fn run(connection: &Connection, wake: &Receiver<()>) {
    while wake.recv().is_ok() {
        // Let a burst finish; a store dropped meanwhile still gets its last checkpoint.
        match wake.recv_timeout(SETTLE) {
            Ok(()) | Err(RecvTimeoutError::Timeout) => std::thread::sleep(SETTLE),
            Err(RecvTimeoutError::Disconnected) => {}
        }
        while wake.try_recv().is_ok() {}
        if let Err(error) = connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(%error, "cannot checkpoint the store's write-ahead log");
        }
    }
}
