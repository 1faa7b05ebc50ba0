//! The gateway's own events (the `chat` event is in `chat.rs`, `sessions.changed` in
//! `sessions.rs`): their names, which `hello-ok.features.events` lists, and payloads.

use serde::{Deserialize, Serialize};

/// Every event molt sends, in the order `hello-ok.features.events` lists them.
pub const EVENTS: &[&str] = &[
    CONNECT_CHALLENGE,
    TICK,
    CHAT,
    SESSIONS_CHANGED,
    SHUTDOWN,
    DEVICE_PAIR_PENDING,
    DEVICE_PAIR_REQUESTED,
    DEVICE_PAIR_RESOLVED,
    DEVICE_PAIR_CHANGED,
    DEVICE_PRESENCE,
    PAIRING_CODE_REQUESTED,
    PAIRING_CODE_RESOLVED,
    POLICIES_CHANGED,
];

pub const CONNECT_CHALLENGE: &str = "connect.challenge";
pub const TICK: &str = "tick";
pub const CHAT: &str = "chat";
pub const SESSIONS_CHANGED: &str = "sessions.changed";
pub const SHUTDOWN: &str = "shutdown";
pub const DEVICE_PAIR_PENDING: &str = "device.pair.pending";
pub const DEVICE_PAIR_REQUESTED: &str = "device.pair.requested";
pub const DEVICE_PAIR_RESOLVED: &str = "device.pair.resolved";
pub const DEVICE_PAIR_CHANGED: &str = "device.pair.changed";
pub const DEVICE_PRESENCE: &str = "device.presence";
pub const PAIRING_CODE_REQUESTED: &str = "pairing.code.requested";
pub const PAIRING_CODE_RESOLVED: &str = "pairing.code.resolved";
pub const POLICIES_CHANGED: &str = "policies.changed";
/// For the admin page's live view only; not a protocol event.
pub const AUDIT_APPENDED: &str = "audit.appended";

/// `connect.challenge`: the nonce the device signs, before anything else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    pub nonce: String,
    pub ts: i64,
}

/// `tick`, every `policy.tickIntervalMs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tick {
    pub ts: i64,
}

/// `shutdown`: a plain stop says when to expect the gateway back (`restartExpectedMs`); a stop
/// for a reason (fenced by another instance) does not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Shutdown {
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_expected_ms: Option<u64>,
}

/// `device.pair.pending`: sent on a connect held open until an operator answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PairPending {
    pub request_id: String,
    pub device_id: String,
    pub expires_at_ms: i64,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn payloads_have_the_wire_names() {
        let stop = Shutdown { reason: "gateway stopping".into(), restart_expected_ms: Some(5000) };
        assert_eq!(
            serde_json::to_value(&stop).unwrap(),
            json!({"reason": "gateway stopping", "restartExpectedMs": 5000})
        );
        let fenced = Shutdown { reason: "fenced".into(), restart_expected_ms: None };
        assert_eq!(serde_json::to_value(&fenced).unwrap(), json!({"reason": "fenced"}));
        let pending = PairPending { request_id: "q".into(), device_id: "d".into(), expires_at_ms: 9 };
        assert_eq!(
            serde_json::to_value(&pending).unwrap(),
            json!({"requestId": "q", "deviceId": "d", "expiresAtMs": 9})
        );
        assert_eq!(EVENTS.len(), 13);
    }
}
