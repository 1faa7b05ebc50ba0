//! Slack Events API bodies and Socket Mode envelopes: `event_callback` → inbound message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use molt::fuzzing::slack_inbound;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(payload) = serde_json::from_slice::<Value>(data) else { return };
    // Socket Mode wraps the callback in an envelope's `payload`.
    let _ = slack_inbound(&payload["payload"], "UBOT");
    if let Some(message) = slack_inbound(&payload, "UBOT") {
        assert!(message.dedupe_key.starts_with("message:"));
    }
});
