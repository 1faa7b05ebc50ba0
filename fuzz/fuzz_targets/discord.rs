//! Discord Gateway payloads: the hello's heartbeat interval, and a `MESSAGE_CREATE`
//! dispatch → inbound message, whose ids must pass the snowflake check before any URL.
#![no_main]

use libfuzzer_sys::fuzz_target;
use molt::fuzzing::{discord_hello_interval, discord_inbound, discord_snowflake};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Some(interval) = discord_hello_interval(text) {
        assert!(interval.as_millis() >= 100 && interval.as_secs() <= 600, "{interval:?}");
    }
    let Ok(payload) = serde_json::from_str::<Value>(text) else { return };
    let _ = payload["op"].as_u64();
    let _ = payload["s"].as_u64();
    for message in [&payload["d"], &payload] {
        if let Some(inbound) = discord_inbound(message, "99") {
            if let Ok(id) = discord_snowflake(&inbound.chat.id) {
                assert!(id.bytes().all(|byte| byte.is_ascii_digit()));
            }
        }
    }
});
