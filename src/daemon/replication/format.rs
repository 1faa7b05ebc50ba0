//! The on-bucket format: object keys, the manifest, change segments, and their checksums.
//! Pure data and encoding; no IO.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const FORMAT: u32 = 1;
pub const MANIFEST: &str = "manifest.json";

/// The one mutable object: which snapshot and segments make up the state, who owns the bucket.
/// Every write of it is conditional (`If-None-Match: *` to create, `If-Match: <etag>` after).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub format: u32,
    /// Raised by one at each claim; the highest generation owns the bucket.
    pub generation: u64,
    /// Random id of the process that claimed this generation.
    pub owner: String,
    pub updated_ms: i64,
    /// The newest change contained in the snapshot plus segments.
    pub last_seq: u64,
    /// Oldest first; the last one is restored.
    pub snapshots: Vec<ObjectEntry>,
    /// Every segment after the oldest kept snapshot, in order, contiguous.
    pub segments: Vec<ObjectEntry>,
    /// Workspace path (relative, `/`-separated) to its content blob.
    pub workspace: BTreeMap<String, FileEntry>,
    /// Set by the owner's last write on a clean stop: no running gateway holds the bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released_ms: Option<i64>,
}

impl Manifest {
    pub fn new(generation: u64, owner: &str) -> Self {
        Self {
            format: FORMAT,
            generation,
            owner: owner.to_owned(),
            updated_ms: 0,
            last_seq: 0,
            snapshots: Vec::new(),
            segments: Vec::new(),
            workspace: BTreeMap::new(),
            released_ms: None,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        let manifest: Self =
            serde_json::from_slice(bytes).map_err(|error| format!("manifest is not valid: {error}"))?;
        if manifest.format != FORMAT {
            return Err(format!("manifest format {} is not {FORMAT}; upgrade molt", manifest.format));
        }
        Ok(manifest)
    }

    /// Segments to replay on top of the newest snapshot.
    pub fn segments_after_snapshot(&self) -> impl Iterator<Item = &ObjectEntry> {
        let base = self.snapshots.last().map_or(0, |snapshot| snapshot.last);
        self.segments.iter().filter(move |segment| segment.last > base)
    }
}

/// A snapshot or a segment: immutable, created once with `If-None-Match: *`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectEntry {
    pub key: String,
    /// The changes it covers: `(after, last]`. A snapshot has `after == last`.
    pub after: u64,
    pub last: u64,
    /// SHA-256 of the object's bytes as stored (hex).
    pub sha256: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileEntry {
    pub sha256: String,
    pub bytes: u64,
}

/// Snapshot and segment keys end with the start of their content's SHA-256: an upload retried
/// after an answer that never arrived, with other bytes (rows read again, a new `VACUUM INTO`),
/// gets a key of its own instead of colliding with the first one, which a manifest that did land
/// may name. Restores read keys from the manifest only, so the suffix is never parsed.
pub fn snapshot_key(generation: u64, seq: u64, sha256: &str) -> String {
    format!("snapshots/{generation:010}-{seq:020}-{}.db.gz", key_suffix(sha256))
}

pub fn segment_key(generation: u64, after: u64, last: u64, sha256: &str) -> String {
    format!("changes/{generation:010}/{:020}-{last:020}-{}.json.gz", after + 1, key_suffix(sha256))
}

fn key_suffix(sha256: &str) -> &str {
    sha256.get(..16).unwrap_or(sha256)
}

/// Workspace blobs are content-addressed, so they are never overwritten.
pub fn blob_key(sha256: &str) -> String {
    format!("workspace/{sha256}")
}

/// One replicated change: the change row itself plus the row it touched, as read when shipped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShippedChange {
    pub seq: u64,
    pub at_ms: i64,
    pub entity: String,
    pub op: String,
    pub key: String,
    pub data: Option<serde_json::Value>,
    /// Column name to value; `None` when the row no longer exists (a later change removed it).
    pub row: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Segment {
    pub format: u32,
    pub generation: u64,
    pub after: u64,
    pub last: u64,
    pub changes: Vec<ShippedChange>,
}

impl Segment {
    /// Checks that the changes are exactly `(after, last]`, in order.
    pub fn validate(&self, entry: &ObjectEntry) -> Result<(), String> {
        if self.after != entry.after || self.last != entry.last {
            return Err(format!(
                "segment `{}` covers {}..{}, the manifest says {}..{}",
                entry.key, self.after, self.last, entry.after, entry.last
            ));
        }
        let mut expected = self.after;
        for change in &self.changes {
            if change.seq <= expected || change.seq > self.last {
                return Err(format!("segment `{}` has change {} out of order", entry.key, change.seq));
            }
            expected = change.seq;
        }
        Ok(())
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

/// Decompresses at most `limit` bytes, so a hostile object cannot exhaust memory.
pub fn gunzip(bytes: &[u8], limit: u64) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|error| format!("not valid gzip: {error}"))?;
    if out.len() as u64 > limit {
        return Err(format!("larger than {limit} bytes once decompressed"));
    }
    Ok(out)
}

/// Checks an object's bytes against its manifest entry.
pub fn verify(entry_key: &str, sha256: &str, size: u64, bytes: &[u8]) -> Result<(), String> {
    if bytes.len() as u64 != size {
        return Err(format!("`{entry_key}` is {} bytes, the manifest says {size} (truncated?)", bytes.len()));
    }
    let actual = sha256_hex(bytes);
    if actual != sha256 {
        return Err(format!("`{entry_key}` has SHA-256 {actual}, the manifest says {sha256} (corrupt)"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_in_order_of_generation_and_sequence() {
        let sum = sha256_hex(b"segment");
        assert_eq!(
            segment_key(2, 9, 12, &sum),
            format!("changes/0000000002/00000000000000000010-00000000000000000012-{}.json.gz", &sum[..16])
        );
        assert!(snapshot_key(2, 99, "ff") < snapshot_key(2, 100, "00"));
        assert!(snapshot_key(2, 100, "ff") < snapshot_key(10, 1, "00"));
    }

    #[test]
    fn the_same_range_with_other_bytes_gets_another_key() {
        let (first, second) = (sha256_hex(b"rows as first read"), sha256_hex(b"rows as read again"));
        assert_ne!(segment_key(1, 0, 5, &first), segment_key(1, 0, 5, &second));
        assert_ne!(snapshot_key(1, 5, &first), snapshot_key(1, 5, &second));
        assert_eq!(segment_key(1, 0, 5, &first), segment_key(1, 0, 5, &first));
    }

    #[test]
    fn manifests_round_trip_and_refuse_other_formats() {
        let mut manifest = Manifest::new(3, "owner");
        manifest.workspace.insert("SOUL.md".into(), FileEntry { sha256: "ab".into(), bytes: 2 });
        assert_eq!(Manifest::decode(&manifest.encode()).unwrap(), manifest);
        manifest.format = 9;
        assert!(Manifest::decode(&manifest.encode()).unwrap_err().contains("upgrade"));
        assert!(Manifest::decode(b"{").is_err());
    }

    #[test]
    fn verify_names_truncation_and_corruption() {
        let bytes = b"hello";
        let sum = sha256_hex(bytes);
        assert!(verify("k", &sum, 5, bytes).is_ok());
        assert!(verify("k", &sum, 5, b"hell").unwrap_err().contains("truncated"));
        assert!(verify("k", &sum, 5, b"jello").unwrap_err().contains("corrupt"));
    }

    #[test]
    fn gzip_round_trips_and_bounds_output() {
        let data = vec![b'x'; 10_000];
        let packed = gzip(&data);
        assert_eq!(gunzip(&packed, 10_000).unwrap(), data);
        assert!(gunzip(&packed, 9_999).is_err());
        assert!(gunzip(b"not gzip", 100).is_err());
    }

    #[test]
    fn segments_must_cover_exactly_their_range() {
        let change = |seq| ShippedChange {
            seq,
            at_ms: 0,
            entity: "setting".into(),
            op: "upsert".into(),
            key: "k".into(),
            data: None,
            row: None,
        };
        let entry = ObjectEntry { key: "s".into(), after: 4, last: 6, sha256: String::new(), bytes: 0 };
        let segment = Segment { format: FORMAT, generation: 1, after: 4, last: 6, changes: vec![change(5), change(6)] };
        assert!(segment.validate(&entry).is_ok());
        let backwards = Segment { changes: vec![change(6), change(5)], ..segment.clone() };
        assert!(backwards.validate(&entry).is_err());
        let wrong = ObjectEntry { last: 7, ..entry };
        assert!(segment.validate(&wrong).is_err());
    }
}
