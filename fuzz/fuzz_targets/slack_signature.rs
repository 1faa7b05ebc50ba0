//! The Slack `v0` signature check on attacker-chosen headers and body. Input: the timestamp
//! header, a NUL, the signature header, a NUL, the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use molt::fuzzing::slack_signature;

const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const NOW: i64 = 1_531_420_618;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |&byte| byte == 0);
    let (Some(timestamp), Some(signature)) = (parts.next(), parts.next()) else { return };
    let body = parts.next().unwrap_or_default();
    // Header values reach the check as `&str` (non-UTF-8 ones become empty).
    let timestamp = std::str::from_utf8(timestamp).unwrap_or_default();
    let signature = std::str::from_utf8(signature).unwrap_or_default();
    let _ = slack_signature(SECRET, timestamp, body, signature, NOW);
    let _ = slack_signature("", timestamp, body, signature, i64::MIN);
    let _ = slack_signature(SECRET, timestamp, body, signature, i64::MAX);
});
