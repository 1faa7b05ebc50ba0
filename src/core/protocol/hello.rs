//! `hello-ok`, the answer to a successful `connect`, and the health snapshot it and `health`
//! carry.

use serde::{Deserialize, Serialize};

/// The payload of `connect`'s answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HelloOk {
    /// Always `hello-ok`.
    #[serde(rename = "type")]
    pub kind: String,
    pub protocol: u64,
    pub server: ServerInfo,
    pub features: Features,
    pub snapshot: Snapshot,
    pub auth: HelloAuth,
    pub policy: Policy,
    pub protocol_version: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerInfo {
    pub version: String,
    pub conn_id: String,
    #[serde(default)]
    pub boot_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Features {
    pub methods: Vec<String>,
    pub events: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    pub health: Health,
    pub uptime_ms: u64,
    pub session_defaults: SessionDefaults,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionDefaults {
    pub default_agent_id: String,
    pub main_key: String,
    pub main_session_key: String,
}

/// Who the connection is: how it signed in, its role and scopes, and a device token issued on
/// this connect (returned once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HelloAuth {
    #[serde(default)]
    pub method: String,
    pub role: String,
    pub scopes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_token_expires_at_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    pub max_payload: usize,
    pub max_buffered_bytes: usize,
    pub tick_interval_ms: u64,
}

/// `health`, and `hello-ok.snapshot.health`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    pub ok: bool,
    pub ts: i64,
    pub store: Readiness,
    pub provider: ProviderState,
    /// Reserved for per-channel health, as OpenClaw's shape has it; molt's is in
    /// `channels.status`.
    #[serde(default)]
    pub channels: serde_json::Map<String, serde_json::Value>,
    pub uptime_ms: u64,
    pub replication: ReplicationHealth,
}

/// What `/readyz` reports, and the store's part of `health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum Readiness {
    Starting {
        reason: String,
    },
    /// Rebuilding the store from the bucket; not serving chats yet.
    Restoring {
        reason: String,
    },
    Ready,
    Failed {
        reason: String,
    },
    Stopping {
        reason: String,
    },
}

/// The model provider: configured (its name, model and fallbacks), or what to set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderState {
    pub configured: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallbacks: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// The replication phase, and why the gateway is `degraded` (its bucket far behind), if it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicationHealth {
    pub phase: ReplicationPhase,
    pub degraded: Option<String>,
}

/// Replication's phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplicationPhase {
    /// No bucket configured.
    Off,
    Restoring,
    /// Shipping changes as they commit.
    Active,
    /// The restore failed: nothing is shipped and the gateway is not ready.
    Failed,
    /// Another instance took the bucket over: this one stopped replicating.
    Fenced,
    Stopped,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn readiness_has_the_readyz_shape() {
        assert_eq!(serde_json::to_value(Readiness::Ready).unwrap(), json!({"state": "ready"}));
        let failed = Readiness::Failed { reason: "fenced".into() };
        assert_eq!(serde_json::to_value(&failed).unwrap(), json!({"state": "failed", "reason": "fenced"}));
        assert_eq!(
            serde_json::from_value::<Readiness>(json!({"state": "failed", "reason": "fenced"})).unwrap(),
            failed
        );
    }
}
