//! The shipping loop: after each commit, at most one round per shipping window uploads the new
//! changes as one segment (and changed workspace files as blobs), then moves the manifest
//! forward with `If-Match`. A failed `If-Match` that is not our own retried write means another
//! instance claimed the bucket: this one is fenced and stops for good.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use super::bucket::{Bucket, BucketError, Version};
use super::format::{
    FORMAT, MANIFEST, Manifest, ObjectEntry, Segment, blob_key, gzip, segment_key, sha256_hex, snapshot_key,
};
use super::status::{Phase, Status, millis};
use super::workspace::{Scanner, merge};
use super::{BackupReport, ReplicationError, rows};
use crate::core::settings::ReplicationSettings;
use crate::core::sync::lock;
use crate::core::time::now_ms;
use crate::daemon::store::{Store, StoreError};

/// Changes per segment; a round after an outage uploads several.
const SEGMENT_CHANGES: usize = 2000;
const SEGMENTS_PER_ROUND: usize = 8;
const MAX_BACKOFF: Duration = Duration::from_secs(30);

pub enum Command {
    Backup(oneshot::Sender<Result<BackupReport, ReplicationError>>),
}

pub struct Shipper {
    pub bucket: Bucket,
    pub store: Store,
    pub settings: ReplicationSettings,
    pub manifest: Manifest,
    pub version: Version,
    pub status: Arc<Mutex<Status>>,
    pub workspace: PathBuf,
    pub data_dir: PathBuf,
    pub scanner: Scanner,
    pub on_fenced: Box<dyn Fn(String) + Send + Sync>,
    /// Changes shipped since the newest snapshot.
    pub since_snapshot: u64,
}

impl Shipper {
    fn set(&self, update: impl FnOnce(&mut Status)) {
        let mut status = lock(&self.status);
        update(&mut status);
    }

    fn fenced(&self) -> bool {
        lock(&self.status).phase == Phase::Fenced
    }

    pub async fn run(mut self, mut commands: mpsc::Receiver<Command>, stop: CancellationToken) {
        let mut committed = self.store.subscribe_changes();
        let mut tick = tokio::time::interval(self.settings.interval.max(Duration::from_secs(1)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_round = Instant::now() - self.settings.interval;
        let mut failures = 0u32;
        if self.manifest.snapshots.is_empty()
            && let Err(error) = self.snapshot().await
        {
            self.report(&error);
        }
        loop {
            if self.fenced() {
                break;
            }
            let pending_store = *committed.borrow_and_update() > self.manifest.last_seq;
            if !pending_store && failures == 0 {
                tokio::select! {
                    biased;
                    () = stop.cancelled() => break,
                    Some(command) = commands.recv() => { self.command(command).await; continue; }
                    changed = committed.changed() => if changed.is_err() { break },
                    _ = tick.tick() => {}
                }
            }
            // One round per window: the first change after a quiet spell waits for the rest.
            let wait = if failures > 0 {
                backoff(failures)
            } else {
                self.settings.interval.saturating_sub(last_round.elapsed())
            };
            tokio::select! {
                biased;
                () = stop.cancelled() => break,
                () = tokio::time::sleep(wait) => {}
            }
            last_round = Instant::now();
            match self.round().await {
                Ok(_) => failures = 0,
                Err(error) => {
                    failures = failures.saturating_add(1);
                    self.report(&error);
                }
            }
        }
        self.finish(&mut commands).await;
    }

    /// The final flush on stop, bounded by the settings' flush timeout.
    async fn finish(&mut self, commands: &mut mpsc::Receiver<Command>) {
        commands.close();
        if self.fenced() {
            return;
        }
        let deadline = Instant::now() + self.settings.flush_timeout;
        let mut attempt = 0;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                self.set(|status| status.error("stopped before every change reached the bucket"));
                tracing::error!("replication: stop deadline reached with changes not yet shipped");
                break;
            }
            match tokio::time::timeout(remaining, self.round()).await {
                Ok(Ok(false)) => {
                    tracing::info!(seq = self.manifest.last_seq, "replication: every change is in the bucket");
                    self.release().await;
                    break;
                }
                Ok(Ok(true)) => continue,
                Ok(Err(error)) => {
                    self.report(&error);
                    if self.fenced() {
                        break;
                    }
                    attempt += 1;
                    tokio::time::sleep(backoff(attempt).min(remaining)).await;
                }
                Err(_) => continue,
            }
        }
        self.set(|status| {
            if status.phase == Phase::Active {
                status.phase = Phase::Stopped;
            }
        });
    }

    /// Marks the manifest released: `molt gateway backup --offline` may then claim the bucket
    /// without fencing a running gateway. Best effort: a failure only means `--force` is needed.
    async fn release(&mut self) {
        let mut next = self.manifest.clone();
        next.released_ms = Some(now_ms());
        if let Err(error) = self.commit(next).await {
            tracing::warn!(%error, "replication: could not mark the bucket released");
        }
    }

    async fn command(&mut self, command: Command) {
        match command {
            Command::Backup(reply) => {
                let result = match self.round().await {
                    Ok(_) => self.snapshot().await,
                    Err(error) => Err(error),
                };
                if let Err(error) = &result {
                    self.report(error);
                }
                let _ = reply.send(result);
            }
        }
    }

    fn report(&self, error: &ReplicationError) {
        if let ReplicationError::Fenced(reason) = error {
            tracing::error!(%reason, "replication FENCED: another instance owns the bucket; this one stopped replicating");
            self.set(|status| {
                status.phase = Phase::Fenced;
                status.error(reason.clone());
            });
            (self.on_fenced)(reason.clone());
        } else {
            tracing::warn!(%error, "replication: round failed; changes stay in the local store and are retried");
            self.set(|status| status.error(error.to_string()));
        }
    }

    /// Ships what is pending. Returns whether more remains after this round.
    async fn round(&mut self) -> Result<bool, ReplicationError> {
        if self.fenced() {
            return Err(ReplicationError::Fenced("this instance was fenced earlier".into()));
        }
        let mut next = self.manifest.clone();
        let mut shipped_changes = 0u64;
        let mut more = false;
        for _ in 0..SEGMENTS_PER_ROUND {
            let after = next.last_seq;
            let batch = self
                .store
                .call(move |connection| {
                    rows::read_batch(connection, after, SEGMENT_CHANGES)
                        .map_err(|error| StoreError::Corrupt(error.to_string()))
                })
                .await
                .map_err(|error| ReplicationError::Store(error.to_string()))?;
            let Some(last) = batch.last().map(|change| change.seq) else { break };
            more = batch.len() == SEGMENT_CHANGES;
            shipped_changes += batch.len() as u64;
            let segment = Segment { format: FORMAT, generation: next.generation, after, last, changes: batch };
            let raw = serde_json::to_vec(&segment).map_err(|error| ReplicationError::Store(error.to_string()))?;
            let bytes = gzip(&raw);
            let sha256 = sha256_hex(&bytes);
            let entry = ObjectEntry {
                key: segment_key(next.generation, after, last, &sha256),
                after,
                last,
                sha256,
                bytes: bytes.len() as u64,
            };
            self.create_immutable(&entry.key, bytes).await?;
            next.segments.push(entry);
            next.last_seq = last;
            if !more {
                break;
            }
        }
        let workspace_changed = self.ship_workspace(&mut next).await?;
        if shipped_changes == 0 && !workspace_changed {
            self.set(|status| status.lag_ms = 0);
            return Ok(false);
        }
        if self.commit(next).await? == Committed::AdoptedOwnWrite {
            // An earlier round's manifest did land: ship again from where it ended.
            return Ok(true);
        }
        self.since_snapshot += shipped_changes;
        if self.since_snapshot >= self.settings.snapshot_every {
            self.snapshot().await?;
        }
        Ok(more)
    }

    /// Uploads new workspace blobs and updates the manifest's file list (never on a failed scan
    /// for files it could not see).
    async fn ship_workspace(&mut self, next: &mut Manifest) -> Result<bool, ReplicationError> {
        let root = self.workspace.clone();
        let mut scanner = std::mem::take(&mut self.scanner);
        let (scanner, scan) = tokio::task::spawn_blocking(move || {
            let scan = scanner.scan(&root);
            (scanner, scan)
        })
        .await
        .map_err(|_| ReplicationError::Store("the workspace scan stopped".into()))?;
        self.scanner = scanner;
        if scan.problems != self.scanner.reported && !scan.problems.is_empty() {
            tracing::warn!(problems = ?scan.problems, "replication: workspace scan was not clean; no file is dropped from the bucket");
        }
        self.scanner.reported = scan.problems.clone();
        let merged = merge(&next.workspace, &scan);
        if merged == next.workspace {
            return Ok(false);
        }
        let known: std::collections::BTreeSet<&String> = next.workspace.values().map(|entry| &entry.sha256).collect();
        let mut accepted = merged.clone();
        for (name, entry) in &merged {
            if known.contains(&entry.sha256) {
                continue;
            }
            let bytes = match std::fs::read(self.workspace.join(name)) {
                Ok(bytes) if sha256_hex(&bytes) == entry.sha256 => bytes,
                // Changed or unreadable since the scan: keep what the bucket had; the next round retries.
                _ => {
                    match next.workspace.get(name) {
                        Some(previous) => accepted.insert(name.clone(), previous.clone()),
                        None => accepted.remove(name),
                    };
                    continue;
                }
            };
            self.create_immutable(&blob_key(&entry.sha256), bytes).await?;
        }
        let changed = accepted != next.workspace;
        next.workspace = accepted;
        Ok(changed)
    }

    /// Creates an immutable object. Keys carry their content's hash (or are content-addressed
    /// blobs), so an existing object is our own earlier upload and must hold the same bytes;
    /// anything else is damage in the bucket, reported and retried, never a reason to fence.
    async fn create_immutable(&self, key: &str, bytes: Vec<u8>) -> Result<(), ReplicationError> {
        match self.bucket.create(key, bytes.clone()).await {
            Ok(_) => Ok(()),
            Err(BucketError::AlreadyExists(_)) => {
                let (existing, _) = self.bucket.get(key).await?;
                if existing.as_ref() == bytes.as_slice() {
                    Ok(())
                } else {
                    Err(ReplicationError::Corrupt(format!("`{key}` already exists with other content")))
                }
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Moves the manifest forward with `If-Match` on the version we last wrote. A failed
    /// `If-Match` is either our own earlier write that landed although its answer never came
    /// back (same generation and owner: adopted, and the caller ships again from it), or a claim
    /// by another instance (fenced).
    async fn commit(&mut self, mut next: Manifest) -> Result<Committed, ReplicationError> {
        next.updated_ms = now_ms();
        let encoded = next.encode();
        let version = match self.bucket.update(MANIFEST, encoded.clone(), &self.version).await {
            Ok(version) => version,
            Err(BucketError::Precondition(_)) => {
                let (bytes, version) = self.bucket.get(MANIFEST).await?;
                if bytes.as_ref() != encoded.as_slice() {
                    let current = match Manifest::decode(&bytes) {
                        Ok(current) => current,
                        Err(message) => {
                            return Err(ReplicationError::Fenced(format!(
                                "the manifest was replaced by something else: {message}"
                            )));
                        }
                    };
                    if !is_own_write(&self.manifest, &current) {
                        return Err(ReplicationError::Fenced(format!(
                            "the bucket was claimed by another instance (generation {}, owner {}); this one (generation {}) stopped replicating",
                            current.generation, current.owner, self.manifest.generation
                        )));
                    }
                    tracing::info!(
                        seq = current.last_seq,
                        "replication: an earlier manifest write landed although its answer was lost; continuing from it"
                    );
                    self.version = version;
                    self.manifest = current;
                    self.record_shipped();
                    return Ok(Committed::AdoptedOwnWrite);
                }
                version
            }
            Err(error) => return Err(error.into()),
        };
        self.version = version;
        self.manifest = next;
        self.record_shipped();
        Ok(Committed::Written)
    }

    /// The status after the manifest moved forward.
    fn record_shipped(&self) {
        let manifest = &self.manifest;
        let (last, snapshots, snapshot_seq) =
            (manifest.last_seq, manifest.snapshots.len(), manifest.snapshots.last().map(|s| s.last));
        let committed = *self.store.subscribe_changes().borrow();
        self.set(|status| {
            status.last_shipped_seq = last;
            status.last_shipped_at_ms = Some(now_ms());
            status.snapshots = snapshots;
            status.last_snapshot_seq = snapshot_seq;
            status.last_committed_seq = committed;
            if committed <= last {
                status.lag_ms = 0;
            }
        });
    }

    /// A compacted snapshot (`VACUUM INTO`), stored and added to the manifest.
    pub async fn snapshot(&mut self) -> Result<BackupReport, ReplicationError> {
        let file = self.data_dir.join(format!("snapshot-{}.db", uuid::Uuid::new_v4().simple()));
        let target = file.clone();
        // VACUUM INTO fills an existing empty file and keeps its owner-only mode.
        crate::daemon::store::private::create(&file)
            .map_err(|source| ReplicationError::Local { path: file.clone(), source })?;
        let seq = self
            .store
            .call(move |connection| {
                let seq: Option<i64> = connection.query_row("SELECT MAX(seq) FROM changes", [], |row| row.get(0))?;
                connection.execute("VACUUM INTO ?1", [target.to_string_lossy().as_ref()])?;
                Ok(seq.and_then(|seq| u64::try_from(seq).ok()).unwrap_or(0))
            })
            .await
            .map_err(|error| ReplicationError::Store(error.to_string()));
        let read = seq.and_then(|seq| {
            std::fs::read(&file)
                .map(|raw| (seq, raw))
                .map_err(|source| ReplicationError::Local { path: file.clone(), source })
        });
        let _ = std::fs::remove_file(&file);
        let (seq, raw) = read?;
        if let Some(last) = self.manifest.snapshots.last().filter(|last| last.last == seq) {
            return Ok(BackupReport { key: last.key.clone(), seq, bytes: last.bytes });
        }
        let bytes = gzip(&raw);
        let sha256 = sha256_hex(&bytes);
        let key = snapshot_key(self.manifest.generation, seq, &sha256);
        let entry = ObjectEntry { key: key.clone(), after: seq, last: seq, sha256, bytes: bytes.len() as u64 };
        let size = entry.bytes;
        self.create_immutable(&key, bytes).await?;
        // Our own earlier write may have landed unanswered: adopt it and try once more on top.
        for _ in 0..2 {
            if let Some(last) = self.manifest.snapshots.last().filter(|last| last.last >= seq) {
                return Ok(BackupReport { key: last.key.clone(), seq: last.last, bytes: last.bytes });
            }
            if self.commit_snapshot(entry.clone(), seq).await? == Committed::Written {
                tracing::info!(seq, bytes = size, "replication: snapshot stored");
                return Ok(BackupReport { key, seq, bytes: size });
            }
        }
        Err(ReplicationError::Bucket(BucketError::Other {
            key: MANIFEST.to_owned(),
            message: "the manifest kept changing under this instance's own writes".into(),
        }))
    }

    /// Adds a stored snapshot to the manifest, then applies retention: the oldest snapshots
    /// beyond the kept number, and segments no kept snapshot needs, are deleted once the
    /// manifest no longer names them.
    async fn commit_snapshot(&mut self, entry: ObjectEntry, seq: u64) -> Result<Committed, ReplicationError> {
        let mut next = self.manifest.clone();
        next.snapshots.push(entry);
        // Changes up to `seq` are in the snapshot; shipping continues after it.
        next.last_seq = next.last_seq.max(seq);
        let mut removed = Vec::new();
        while next.snapshots.len() > self.settings.keep_snapshots {
            removed.push(next.snapshots.remove(0).key);
        }
        let oldest = next.snapshots.first().map_or(0, |snapshot| snapshot.last);
        next.segments.retain(|segment| {
            let keep = segment.last > oldest;
            if !keep {
                removed.push(segment.key.clone());
            }
            keep
        });
        if self.commit(next).await? == Committed::AdoptedOwnWrite {
            return Ok(Committed::AdoptedOwnWrite);
        }
        self.since_snapshot = 0;
        for key in removed {
            if let Err(error) = self.bucket.delete(&key).await {
                tracing::warn!(%error, "replication: could not delete an object no longer needed");
            }
        }
        Ok(Committed::Written)
    }
}

/// How a manifest write ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Committed {
    Written,
    /// The bucket already held a later manifest of this instance's own: it is now the current one.
    AdoptedOwnWrite,
}

/// Only this process writes manifests of its generation under its owner id (a random id per
/// process, a new generation per claim), so such a manifest that is not the one we hold is one
/// of our own writes whose answer was lost. It can only be ahead of ours.
fn is_own_write(ours: &Manifest, current: &Manifest) -> bool {
    current.generation == ours.generation && current.owner == ours.owner && current.last_seq >= ours.last_seq
}

/// Jittered exponential backoff: 0.5 s, 1 s, 2 s… up to 30 s, each ±25 %.
fn backoff(failures: u32) -> Duration {
    let base = Duration::from_millis(500).saturating_mul(1u32 << failures.saturating_sub(1).min(6));
    let base = base.min(MAX_BACKOFF);
    let jitter = rand::random_range(0.75..1.25);
    base.mul_f64(jitter)
}

/// Keeps `status` fresh with the lag (age of the oldest unshipped change) between rounds.
pub async fn watch_lag(store: Store, status: Arc<Mutex<Status>>, stop: CancellationToken) {
    let mut committed: watch::Receiver<u64> = store.subscribe_changes();
    let mut oldest_pending: Option<Instant> = None;
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            changed = committed.changed() => if changed.is_err() { break },
            _ = tick.tick() => {}
        }
        let latest = *committed.borrow_and_update();
        let mut status = lock(&status);
        status.last_committed_seq = latest;
        if latest > status.last_shipped_seq {
            let since = *oldest_pending.get_or_insert_with(Instant::now);
            status.lag_ms = millis(since.elapsed());
        } else {
            oldest_pending = None;
            status.lag_ms = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        assert!(backoff(1) <= Duration::from_millis(625));
        assert!(backoff(1) >= Duration::from_millis(375));
        assert!(backoff(30) <= MAX_BACKOFF.mul_f64(1.25));
    }
}
