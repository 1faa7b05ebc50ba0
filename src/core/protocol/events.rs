//! The gateway's own events (the `chat` event is in `chat.rs`, `sessions.changed` in
//! `sessions.rs`): their names, which `hello-ok.features.events` lists, and payloads.

use serde::{Deserialize, Serialize};

use crate::core::scopes::Scope;

/// Every event molt sends, in the order `hello-ok.features.events` lists them.
pub const EVENTS: &[&str] = &[
    CONNECT_CHALLENGE,
    TICK,
    CHAT,
    AGENT,
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
    super::exec::EXEC_APPROVAL_REQUESTED,
    super::exec::EXEC_APPROVAL_RESOLVED,
];

pub const CONNECT_CHALLENGE: &str = "connect.challenge";
pub const TICK: &str = "tick";
pub const CHAT: &str = "chat";
/// Tool activity of a run (`agent.rs`), for clients that declared `tool-events`.
pub const AGENT: &str = "agent";
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

/// A gateway-wide event: its name, the scope whose feed carries it, and its payload.
pub trait Event: Serialize {
    const NAME: &'static str;
    const SCOPE: Scope;
}

/// `device.pair.resolved`: a pending device request was answered, superseded, or (without a
/// request id) a device was approved silently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PairResolved {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    pub device_id: String,
    pub decision: Decision,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_via: Option<String>,
    pub ts: i64,
}

impl Event for PairResolved {
    const NAME: &'static str = DEVICE_PAIR_RESOLVED;
    const SCOPE: Scope = Scope::Pairing;
}

/// How a pairing request or code ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Approved,
    Rejected,
    Superseded,
}

/// `device.pair.changed`: a paired device's token was rotated or revoked, or it was unpaired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PairChanged {
    pub device_id: String,
    pub change: DeviceChange,
    pub ts: i64,
}

impl Event for PairChanged {
    const NAME: &'static str = DEVICE_PAIR_CHANGED;
    const SCOPE: Scope = Scope::Pairing;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeviceChange {
    Rotated,
    Revoked,
    TokenRevoked,
}

/// `device.presence`: a paired device's first connection opened or its last one closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Presence {
    pub device_id: String,
    pub connected: bool,
}

impl Event for Presence {
    const NAME: &'static str = DEVICE_PRESENCE;
    const SCOPE: Scope = Scope::Pairing;
}

/// `pairing.code.resolved`: an operator answered a chat-platform user's code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeResolved {
    pub channel: String,
    pub code: String,
    pub sender_id: String,
    pub decision: Decision,
    pub ts: i64,
}

impl Event for CodeResolved {
    const NAME: &'static str = PAIRING_CODE_RESOLVED;
    const SCOPE: Scope = Scope::Pairing;
}

/// `policies.changed`: a channel's DM policy or allowlist changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoliciesChanged {
    pub channel: String,
}

impl Event for PoliciesChanged {
    const NAME: &'static str = POLICIES_CHANGED;
    const SCOPE: Scope = Scope::Pairing;
}

/// `audit.appended`, for the admin page's live view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditAppended {
    pub action: String,
    pub target: String,
}

impl Event for AuditAppended {
    const NAME: &'static str = AUDIT_APPENDED;
    const SCOPE: Scope = Scope::Admin;
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
        assert_eq!(EVENTS.len(), 16);
        let change = PairChanged { device_id: "d".into(), change: DeviceChange::TokenRevoked, ts: 1 };
        assert_eq!(
            serde_json::to_value(&change).unwrap(),
            json!({"deviceId": "d", "change": "token-revoked", "ts": 1})
        );
        let resolved = PairResolved {
            request_id: None,
            device_id: "d".into(),
            decision: Decision::Superseded,
            approved_via: None,
            ts: 2,
        };
        assert_eq!(
            serde_json::to_value(&resolved).unwrap(),
            json!({"deviceId": "d", "decision": "superseded", "ts": 2})
        );
    }
}
