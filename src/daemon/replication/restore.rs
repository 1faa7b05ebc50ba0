//! Boot: decide whether the bucket or the local store is newer, rebuild the store from the newest
//! snapshot plus every later segment when the bucket is, then claim a new generation. Nothing
//! here writes to the bucket except the final conditional claim of the manifest.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::ReplicationError;
use super::bucket::{Bucket, BucketError, Version};
use super::format::{MANIFEST, Manifest, ObjectEntry, Segment, gunzip, verify};
use super::rows;
use super::status::{Restored, millis};
use super::workspace;
use crate::core::time::now_ms;

/// Largest snapshot or segment accepted once decompressed.
const MAX_DECOMPRESSED: u64 = 4 * 1024 * 1024 * 1024;
/// Segments fetched at once during a restore.
const PARALLEL_FETCHES: usize = 8;
pub const MARKER_FILE: &str = "replication.json";

/// Kept beside the store: which bucket lineage the local store belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Marker {
    pub location: String,
    pub generation: u64,
}

/// The outcome of a boot: the claimed manifest, its version, and where the state came from.
pub struct Claimed {
    pub manifest: Manifest,
    pub version: Version,
    pub restored: Restored,
}

pub struct Boot<'a> {
    pub bucket: &'a Bucket,
    pub location: &'a str,
    pub data_dir: &'a Path,
    pub workspace: &'a Path,
    pub owner: &'a str,
}

impl Boot<'_> {
    /// A restore that finds an object gone reads the manifest again: the running owner may
    /// have stored a snapshot and removed what the old manifest named. The same manifest with
    /// an object missing is damage.
    pub async fn run(&self) -> Result<Claimed, ReplicationError> {
        let mut vanished: Option<String> = None;
        for _ in 0..4 {
            match self.attempt().await {
                Err(ReplicationError::Vanished(key)) if vanished.as_deref() != Some(key.as_str()) => {
                    tracing::info!(%key, "replication: an object went away during the restore; reading the manifest again");
                    vanished = Some(key);
                }
                Err(ReplicationError::Vanished(key)) => {
                    return Err(ReplicationError::Corrupt(format!("`{key}` is listed in the manifest but missing")));
                }
                other => return other,
            }
        }
        Err(ReplicationError::Corrupt("the manifest kept changing during the restore".into()))
    }

    async fn attempt(&self) -> Result<Claimed, ReplicationError> {
        let started = Instant::now();
        let current = match self.bucket.get(MANIFEST).await {
            Ok((bytes, version)) => {
                let manifest = Manifest::decode(&bytes)
                    .map_err(|message| ReplicationError::Corrupt(format!("`{MANIFEST}`: {message}")))?;
                Some((manifest, version))
            }
            Err(BucketError::NotFound(_)) => None,
            Err(error) => return Err(ReplicationError::Bucket(error)),
        };
        let marker = read_marker(self.data_dir);
        let local_seq = local_last_seq(&self.data_dir.join("molt.db"));
        let mut restored =
            Restored { source: "empty", snapshot_seq: None, changes_replayed: 0, workspace_files: 0, elapsed_ms: 0 };
        let (mut manifest, version) = match current {
            None => {
                let generation = marker.as_ref().filter(|m| m.location == self.location).map_or(0, |m| m.generation);
                if local_seq.is_some() {
                    restored.source = "local";
                }
                (Manifest::new(generation, self.owner), None)
            }
            Some((manifest, version)) => {
                let ours =
                    marker.as_ref().is_some_and(|m| m.location == self.location && m.generation == manifest.generation);
                if ours && local_seq.is_some_and(|seq| seq >= manifest.last_seq) {
                    restored.source = "local";
                    // The store is local, but the workspace folder may not be (a new volume, a
                    // wiped folder): files it lacks come back from the bucket instead of being
                    // taken as deleted by the first scan.
                    restored.workspace_files = self.restore_missing_workspace(&manifest).await?;
                } else {
                    restored = self.restore(&manifest).await?;
                }
                (manifest, Some(version))
            }
        };
        manifest.generation += 1;
        manifest.owner = self.owner.to_owned();
        manifest.released_ms = None;
        manifest.updated_ms = now_ms();
        let claimed = match &version {
            Some(version) => self.bucket.update(MANIFEST, manifest.encode(), version).await,
            None => self.bucket.create(MANIFEST, manifest.encode()).await,
        };
        let version = claimed.map_err(|error| match error {
            BucketError::Precondition(_) | BucketError::AlreadyExists(_) => ReplicationError::Raced,
            other => ReplicationError::Bucket(other),
        })?;
        write_marker(self.data_dir, &Marker { location: self.location.to_owned(), generation: manifest.generation })?;
        restored.elapsed_ms = millis(started.elapsed());
        Ok(Claimed { manifest, version, restored })
    }

    /// Rebuilds the store in a scratch folder, checks it, and only then moves it into place.
    async fn restore(&self, manifest: &Manifest) -> Result<Restored, ReplicationError> {
        let segments: Vec<&ObjectEntry> = manifest.segments_after_snapshot().collect();
        check_chain(manifest, &segments)?;
        let scratch = self.data_dir.join(format!("restore-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&scratch)
            .map_err(|source| ReplicationError::Local { path: scratch.clone(), source })?;
        let result = self.rebuild(manifest, &segments, &scratch).await;
        let outcome = match result {
            Ok(replayed) => self.install(&scratch).map(|()| replayed),
            Err(error) => Err(error),
        };
        let _ = std::fs::remove_dir_all(&scratch);
        let replayed = outcome?;
        let workspace_files = self.restore_workspace(manifest).await?;
        Ok(Restored {
            source: "bucket",
            snapshot_seq: manifest.snapshots.last().map(|snapshot| snapshot.last),
            changes_replayed: replayed,
            workspace_files,
            elapsed_ms: 0,
        })
    }

    async fn rebuild(
        &self,
        manifest: &Manifest,
        segments: &[&ObjectEntry],
        scratch: &Path,
    ) -> Result<u64, ReplicationError> {
        let database = scratch.join("molt.db");
        match manifest.snapshots.last() {
            Some(snapshot) => {
                let bytes = self.fetch(snapshot).await?;
                let raw = gunzip(&bytes, MAX_DECOMPRESSED).map_err(|message| corrupt(snapshot, &message))?;
                crate::daemon::store::private::write(&database, &raw)
                    .map_err(|source| ReplicationError::Local { path: database.clone(), source })?;
            }
            None => {
                // No snapshot yet: replay every segment onto an empty store.
                crate::daemon::store::Store::open(scratch)
                    .map_err(|error| ReplicationError::Corrupt(error.to_string()))?;
            }
        }
        let fetched = fetch_all(self.bucket, segments).await?;
        let mut decoded = Vec::with_capacity(fetched.len());
        for (entry, bytes) in fetched {
            let raw = gunzip(&bytes, MAX_DECOMPRESSED).map_err(|message| corrupt(&entry, &message))?;
            let segment: Segment = serde_json::from_slice(&raw).map_err(|error| corrupt(&entry, &error.to_string()))?;
            segment.validate(&entry).map_err(ReplicationError::Corrupt)?;
            decoded.push(segment);
        }
        let base = manifest.snapshots.last().map_or(0, |snapshot| snapshot.last);
        let expected_last = manifest.last_seq;
        tokio::task::spawn_blocking(move || replay(&database, base, &decoded, expected_last))
            .await
            .map_err(|_| ReplicationError::Corrupt("the restore worker stopped".into()))?
    }

    async fn fetch(&self, entry: &ObjectEntry) -> Result<bytes::Bytes, ReplicationError> {
        fetch(self.bucket, entry).await
    }

    /// Moves any existing store aside (never deleting it) and the rebuilt one into place.
    fn install(&self, scratch: &Path) -> Result<(), ReplicationError> {
        let target = self.data_dir.join("molt.db");
        let stamp = now_ms();
        for suffix in ["", "-wal", "-shm"] {
            let existing = PathBuf::from(format!("{}{suffix}", target.display()));
            if existing.exists() {
                let aside = PathBuf::from(format!("{}.before-restore-{stamp}{suffix}", target.display()));
                std::fs::rename(&existing, &aside)
                    .map_err(|source| ReplicationError::Local { path: existing, source })?;
            }
        }
        let rebuilt = scratch.join("molt.db");
        std::fs::rename(&rebuilt, &target).map_err(|source| ReplicationError::Local { path: target, source })
    }

    async fn restore_missing_workspace(&self, manifest: &Manifest) -> Result<usize, ReplicationError> {
        let mut missing = manifest.clone();
        missing
            .workspace
            .retain(|name, _| workspace::valid_name(name) && !self.workspace.join(name).try_exists().unwrap_or(true));
        if !missing.workspace.is_empty() {
            tracing::info!(
                files = missing.workspace.len(),
                "replication: workspace files missing locally come back from the bucket"
            );
        }
        self.restore_workspace(&missing).await
    }

    async fn restore_workspace(&self, manifest: &Manifest) -> Result<usize, ReplicationError> {
        for (name, entry) in &manifest.workspace {
            if !workspace::valid_name(name) {
                return Err(ReplicationError::Corrupt(format!("workspace entry `{name}` is not a valid path")));
            }
            let key = super::format::blob_key(&entry.sha256);
            let blob = ObjectEntry { key, after: 0, last: 0, sha256: entry.sha256.clone(), bytes: entry.bytes };
            let bytes = self.fetch(&blob).await?;
            workspace::write_file(self.workspace, name, &bytes)
                .map_err(|source| ReplicationError::Local { path: self.workspace.join(name), source })?;
        }
        Ok(manifest.workspace.len())
    }
}

/// Reads an object listed in the manifest and checks its size and SHA-256.
async fn fetch(bucket: &Bucket, entry: &ObjectEntry) -> Result<bytes::Bytes, ReplicationError> {
    let (bytes, _) = bucket.get(&entry.key).await.map_err(|error| match error {
        BucketError::NotFound(key) => ReplicationError::Vanished(key),
        other => ReplicationError::Bucket(other),
    })?;
    verify(&entry.key, &entry.sha256, entry.bytes, &bytes).map_err(ReplicationError::Corrupt)?;
    Ok(bytes)
}

/// Fetches segments a few at a time, keeping their order.
async fn fetch_all(
    bucket: &Bucket,
    entries: &[&ObjectEntry],
) -> Result<Vec<(ObjectEntry, bytes::Bytes)>, ReplicationError> {
    let mut out = Vec::with_capacity(entries.len());
    for chunk in entries.chunks(PARALLEL_FETCHES) {
        let mut tasks = tokio::task::JoinSet::new();
        for (index, entry) in chunk.iter().enumerate() {
            let (bucket, entry) = (bucket.clone(), (*entry).clone());
            tasks.spawn(async move { (index, fetch(&bucket, &entry).await.map(|bytes| (entry, bytes))) });
        }
        let mut done: Vec<Option<(ObjectEntry, bytes::Bytes)>> = vec![None; chunk.len()];
        while let Some(joined) = tasks.join_next().await {
            let (index, result) = joined.map_err(|_| ReplicationError::Corrupt("a fetch worker stopped".into()))?;
            done[index] = Some(result?);
        }
        out.extend(done.into_iter().flatten());
    }
    Ok(out)
}

fn corrupt(entry: &ObjectEntry, message: &str) -> ReplicationError {
    ReplicationError::Corrupt(format!("`{}`: {message}", entry.key))
}

/// The segments after the newest snapshot must follow each other without gap up to `last_seq`.
fn check_chain(manifest: &Manifest, segments: &[&ObjectEntry]) -> Result<(), ReplicationError> {
    let mut at = manifest.snapshots.last().map_or(0, |snapshot| snapshot.last);
    for segment in segments {
        if segment.after != at {
            return Err(ReplicationError::Corrupt(format!(
                "segment `{}` starts after {}, expected after {at}",
                segment.key, segment.after
            )));
        }
        at = segment.last;
    }
    if at != manifest.last_seq {
        return Err(ReplicationError::Corrupt(format!(
            "the manifest ends at change {}, its objects at {at}",
            manifest.last_seq
        )));
    }
    Ok(())
}

fn replay(database: &Path, base: u64, segments: &[Segment], expected_last: u64) -> Result<u64, ReplicationError> {
    let sqlite = |error: rusqlite::Error| ReplicationError::Corrupt(format!("restored store: {error}"));
    let mut connection = rusqlite::Connection::open(database).map_err(sqlite)?;
    let check: String = connection.query_row("PRAGMA quick_check", [], |row| row.get(0)).map_err(sqlite)?;
    if check != "ok" {
        return Err(ReplicationError::Corrupt(format!("the snapshot fails SQLite's check: {check}")));
    }
    connection.execute_batch("PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL;").map_err(sqlite)?;
    // A snapshot written by an older binary gets this binary's schema before later segments
    // (written by this binary) replay onto it.
    crate::daemon::store::migrate(&mut connection).map_err(sqlite)?;
    let start = last_seq(&connection).map_err(sqlite)?;
    if start != base {
        return Err(ReplicationError::Corrupt(format!(
            "the snapshot ends at change {start}, the manifest says {base}"
        )));
    }
    let transaction = connection.transaction().map_err(sqlite)?;
    let mut replayed = 0;
    for segment in segments {
        for change in &segment.changes {
            rows::apply(&transaction, change).map_err(|error| ReplicationError::Corrupt(error.to_string()))?;
            replayed += 1;
        }
    }
    let end = last_seq(&transaction).map_err(sqlite)?;
    if end != expected_last {
        return Err(ReplicationError::Corrupt(format!(
            "replay ended at change {end}, the manifest says {expected_last}"
        )));
    }
    transaction.commit().map_err(sqlite)?;
    connection.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).map_err(sqlite)?;
    Ok(replayed)
}

fn last_seq(connection: &rusqlite::Connection) -> rusqlite::Result<u64> {
    let seq: Option<i64> = connection.query_row("SELECT MAX(seq) FROM changes", [], |row| row.get(0))?;
    Ok(seq.and_then(|seq| u64::try_from(seq).ok()).unwrap_or(0))
}

/// The local store's newest change, `None` when there is no local store.
fn local_last_seq(path: &Path) -> Option<u64> {
    if !path.exists() {
        return None;
    }
    let connection = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).ok()?;
    Some(last_seq(&connection).unwrap_or(0))
}

pub fn read_marker(data_dir: &Path) -> Option<Marker> {
    let text = std::fs::read(data_dir.join(MARKER_FILE)).ok()?;
    serde_json::from_slice(&text).ok()
}

fn write_marker(data_dir: &Path, marker: &Marker) -> Result<(), ReplicationError> {
    let path = data_dir.join(MARKER_FILE);
    let temporary = data_dir.join(format!("{MARKER_FILE}.tmp"));
    let bytes = serde_json::to_vec(marker).unwrap_or_default();
    std::fs::write(&temporary, bytes)
        .and_then(|()| std::fs::rename(&temporary, &path))
        .map_err(|source| ReplicationError::Local { path, source })
}
