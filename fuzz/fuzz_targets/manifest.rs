//! Replication manifests read from the bucket: `Manifest::decode`, the segments it replays,
//! and an encode → decode round trip that gives the same manifest.
#![no_main]

use libfuzzer_sys::fuzz_target;
use molt::fuzzing::Manifest;

fuzz_target!(|data: &[u8]| {
    let Ok(manifest) = Manifest::decode(data) else { return };
    let _ = manifest.segments_after_snapshot().count();
    let again = Manifest::decode(&manifest.encode()).expect("an encoded manifest decodes");
    assert_eq!(manifest, again);
});
