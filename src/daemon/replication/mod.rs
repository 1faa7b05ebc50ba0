//! Continuous replication of the store and the workspace to R2 (or any S3 bucket): restore on
//! boot before the gateway is ready, ship every committed change within the shipping window,
//! flush on stop, snapshot and compact, and fence a second instance on the same bucket.
//! The bucket format and its invariants are in ARCHITECTURE.md.

mod bucket;
pub(crate) mod format;
mod restore;
mod rows;
mod shipper;
mod status;
pub mod transport;
pub(crate) mod workspace;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use bucket::BucketError;
pub use status::{OperationCounts, Phase, Restored, Status};

use crate::core::settings::ReplicationSettings;
use crate::core::sync::lock;
use crate::daemon::store::Store;

#[derive(Debug, thiserror::Error)]
pub enum ReplicationError {
    #[error(transparent)]
    Bucket(#[from] BucketError),
    /// Something in the bucket does not check out: the restore refuses and touches nothing.
    #[error("the bucket's data does not check out: {0}")]
    Corrupt(String),
    #[error("another instance claimed the bucket at the same moment")]
    Raced,
    /// An object the manifest named was gone when read: snapshot retention may have removed it
    /// after a newer manifest stopped naming it. Read the manifest again.
    #[error("`{0}` is listed in the manifest but missing")]
    Vanished(String),
    #[error("fenced: {0}")]
    Fenced(String),
    #[error("store: {0}")]
    Store(String),
    #[error("cannot write `{path}`: {source}")]
    Local { path: PathBuf, source: std::io::Error },
    #[error("replication is not configured: set `R2_BUCKET_NAME` and its credentials")]
    NotConfigured,
    #[error("replication is not running")]
    NotRunning,
}

impl ReplicationError {
    /// Whether trying again later can help (the bucket was unreachable, or a claim raced).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Bucket(BucketError::Other { .. }) | Self::Raced)
    }
}

/// What `molt gateway backup` and the admin action report.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupReport {
    pub key: String,
    pub seq: u64,
    pub bytes: u64,
}

/// Handle to replication; cheap to clone. Inert when no bucket is configured.
#[derive(Clone)]
pub struct Replication {
    inner: Arc<Inner>,
}

struct Inner {
    settings: Option<ReplicationSettings>,
    bucket: Option<bucket::Bucket>,
    status: Arc<Mutex<Status>>,
    owner: String,
    claimed: Mutex<Option<restore::Claimed>>,
    commands: Mutex<Option<mpsc::Sender<shipper::Command>>>,
    stop: CancellationToken,
    tasks: TaskTracker,
}

impl Replication {
    pub fn new(settings: Option<&ReplicationSettings>) -> Result<Self, ReplicationError> {
        let bucket = settings.map(bucket::Bucket::connect).transpose()?;
        let mut status = Status::off();
        if let Some(settings) = settings {
            status.phase = Phase::Restoring;
            status.location = Some(settings.location());
            status.shipping_window_ms = status::millis(settings.interval);
        }
        Ok(Self {
            inner: Arc::new(Inner {
                settings: settings.cloned(),
                bucket,
                status: Arc::new(Mutex::new(status)),
                owner: uuid::Uuid::new_v4().to_string(),
                claimed: Mutex::new(None),
                commands: Mutex::new(None),
                stop: CancellationToken::new(),
                tasks: TaskTracker::new(),
            }),
        })
    }

    pub fn is_configured(&self) -> bool {
        self.inner.settings.is_some()
    }

    fn set(&self, update: impl FnOnce(&mut Status)) {
        update(&mut lock(&self.inner.status));
    }

    /// The current status, for `/readyz`, the `status` method and the admin page.
    pub fn status(&self) -> Status {
        let mut status = lock(&self.inner.status).clone();
        if let Some(bucket) = &self.inner.bucket {
            status.operations = bucket.operations.counts();
        }
        status.assess();
        status
    }

    /// Before the store opens: restores it (and the workspace) from the bucket when the bucket
    /// is newer, then claims a new generation. Transient failures (bucket unreachable) are
    /// retried with backoff until `shutdown`; `progress` hears why it is still waiting.
    /// Anything that does not check out fails at once, and nothing in the bucket is touched.
    pub async fn restore(
        &self,
        data_dir: &Path,
        workspace: &Path,
        shutdown: &CancellationToken,
        progress: impl Fn(String),
    ) -> Result<(), ReplicationError> {
        let (Some(settings), Some(bucket)) = (&self.inner.settings, &self.inner.bucket) else { return Ok(()) };
        let location = settings.location();
        let boot = restore::Boot { bucket, location: &location, data_dir, workspace, owner: &self.inner.owner };
        let mut attempt = 0u32;
        loop {
            match boot.run().await {
                Ok(claimed) => {
                    tracing::info!(
                        source = claimed.restored.source,
                        generation = claimed.manifest.generation,
                        seq = claimed.manifest.last_seq,
                        replayed = claimed.restored.changes_replayed,
                        elapsed_ms = claimed.restored.elapsed_ms,
                        "replication: restored and claimed the bucket"
                    );
                    let restored = claimed.restored.clone();
                    let (generation, last) = (claimed.manifest.generation, claimed.manifest.last_seq);
                    self.set(|status| {
                        status.generation = generation;
                        status.last_shipped_seq = last;
                        status.restored = Some(restored);
                    });
                    *lock(&self.inner.claimed) = Some(claimed);
                    return Ok(());
                }
                Err(error) if error.is_transient() && !shutdown.is_cancelled() => {
                    attempt = attempt.saturating_add(1);
                    let wait =
                        Duration::from_millis(500).saturating_mul(1 << attempt.min(6)).min(Duration::from_secs(30));
                    let wait = wait.mul_f64(rand::random_range(0.75..1.25));
                    tracing::warn!(%error, retry_in_ms = wait.as_millis() as u64, "replication: restore waits for the bucket");
                    progress(format!("restoring from `{location}`: {error}; retrying"));
                    self.set(|status| status.error(error.to_string()));
                    tokio::select! {
                        () = shutdown.cancelled() => {}
                        () = tokio::time::sleep(wait) => {}
                    }
                }
                Err(error) => {
                    tracing::error!(%error, "replication: restore refused; the bucket is left as it is");
                    self.set(|status| {
                        status.phase = Phase::Failed;
                        status.error(error.to_string());
                    });
                    return Err(error);
                }
            }
        }
    }

    /// After the store opened: starts shipping. `on_fenced` hears when another instance took
    /// the bucket over.
    pub fn start(
        &self,
        store: Store,
        data_dir: &Path,
        workspace: &Path,
        on_fenced: impl Fn(String) + Send + Sync + 'static,
    ) {
        let Some(settings) = self.inner.settings.clone() else { return };
        let Some(bucket) = self.inner.bucket.clone() else { return };
        let Some(claimed) = lock(&self.inner.claimed).take() else {
            return;
        };
        let (sender, receiver) = mpsc::channel(4);
        *lock(&self.inner.commands) = Some(sender);
        // Changes a restore would replay count towards the next snapshot.
        let since_snapshot =
            claimed.manifest.last_seq.saturating_sub(claimed.manifest.snapshots.last().map_or(0, |s| s.last));
        let (snapshots, snapshot_seq) =
            (claimed.manifest.snapshots.len(), claimed.manifest.snapshots.last().map(|s| s.last));
        self.set(|status| {
            status.phase = Phase::Active;
            status.snapshots = snapshots;
            status.last_snapshot_seq = snapshot_seq;
        });
        let shipper = shipper::Shipper {
            bucket,
            store: store.clone(),
            settings,
            manifest: claimed.manifest,
            version: claimed.version,
            status: Arc::clone(&self.inner.status),
            workspace: workspace.to_owned(),
            data_dir: data_dir.to_owned(),
            scanner: workspace::Scanner::default(),
            on_fenced: Box::new(on_fenced),
            since_snapshot,
        };
        self.inner.tasks.spawn(shipper.run(receiver, self.inner.stop.clone()));
        self.inner.tasks.spawn(shipper::watch_lag(store, Arc::clone(&self.inner.status), self.inner.stop.clone()));
    }

    /// Who holds the bucket, when a gateway does: its manifest was claimed and not released by
    /// a clean stop. `None` for an empty or released bucket.
    pub async fn holder(&self) -> Result<Option<String>, ReplicationError> {
        let Some(bucket) = &self.inner.bucket else { return Err(ReplicationError::NotConfigured) };
        let bytes = match bucket.get(format::MANIFEST).await {
            Ok((bytes, _)) => bytes,
            Err(BucketError::NotFound(_)) => return Ok(None),
            Err(error) => return Err(error.into()),
        };
        let manifest = format::Manifest::decode(&bytes).map_err(ReplicationError::Corrupt)?;
        Ok(manifest.released_ms.is_none().then(|| {
            let seconds = (crate::core::time::now_ms() - manifest.updated_ms).max(0) / 1000;
            format!("generation {}, last written {seconds} s ago", manifest.generation)
        }))
    }

    /// Ships everything now and stores a snapshot: `molt gateway backup` and the admin action.
    pub async fn backup_now(&self) -> Result<BackupReport, ReplicationError> {
        if !self.is_configured() {
            return Err(ReplicationError::NotConfigured);
        }
        let sender = lock(&self.inner.commands).clone();
        let sender = sender.ok_or(ReplicationError::NotRunning)?;
        let (reply, answer) = oneshot::channel();
        sender.send(shipper::Command::Backup(reply)).await.map_err(|_| ReplicationError::NotRunning)?;
        answer.await.map_err(|_| ReplicationError::NotRunning)?
    }

    /// On stop, after the store's last write: ships what is left (bounded by the flush timeout)
    /// and waits for the shipping task.
    pub async fn stop(&self) {
        self.inner.stop.cancel();
        self.inner.tasks.close();
        let bound = self.inner.settings.as_ref().map_or(Duration::ZERO, |s| s.flush_timeout) + Duration::from_secs(5);
        if tokio::time::timeout(bound, self.inner.tasks.wait()).await.is_err() {
            tracing::error!("replication: the final flush did not finish in time");
        }
    }
}
