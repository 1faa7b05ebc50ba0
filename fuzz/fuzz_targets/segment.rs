//! Replication change segments read from the bucket: gunzip with a bound, then the JSON
//! segment and `validate` against a manifest entry. The first byte says whether the rest is
//! gzip (as stored) or the JSON itself (so mutations reach the decoder past the CRC).
#![no_main]

use libfuzzer_sys::fuzz_target;
use molt::fuzzing::{ObjectEntry, Segment, gunzip, gzip};

/// Small, so a gzip bomb is refused quickly; the gateway's bound is larger.
const LIMIT: u64 = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let raw = if mode & 1 == 1 {
        match gunzip(rest, LIMIT) {
            Ok(raw) => {
                assert!(raw.len() as u64 <= LIMIT);
                raw
            }
            Err(_) => return,
        }
    } else {
        let raw = rest.to_vec();
        assert_eq!(gunzip(&gzip(&raw), LIMIT.max(raw.len() as u64)).ok().as_deref(), Some(raw.as_slice()));
        raw
    };
    let Ok(segment) = serde_json::from_slice::<Segment>(&raw) else { return };
    let entry = |after: u64, last: u64| ObjectEntry {
        key: "changes/x".into(),
        after,
        last,
        sha256: String::new(),
        bytes: raw.len() as u64,
    };
    if segment.validate(&entry(segment.after, segment.last)).is_ok() {
        let mut previous = segment.after;
        for change in &segment.changes {
            assert!(change.seq > previous && change.seq <= segment.last);
            previous = change.seq;
        }
    }
    let _ = segment.validate(&entry(segment.after.wrapping_add(1), segment.last));
});
