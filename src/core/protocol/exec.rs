//! Exec approvals on the wire, with OpenClaw's names: `exec.approval.requested` (a command
//! waits for the operator), `exec.approval.resolved` (it was answered, expired or dropped), and
//! `exec.approval.resolve {id, decision}` with the decisions `allow-once`, `allow-always` and
//! `deny`. Both events need `operator.approvals` (which `operator.admin` implies), as in
//! OpenClaw. molt adds `exec.approval.list` (the commands waiting now, for a client that
//! connects while one waits) and an optional `pattern` on `allow-always`.

use serde::{Deserialize, Serialize};

use super::events::Event;
use crate::core::ids::SessionKey;
use crate::core::scopes::Scope;

pub const EXEC_APPROVAL_REQUESTED: &str = "exec.approval.requested";
pub const EXEC_APPROVAL_RESOLVED: &str = "exec.approval.resolved";

/// The operator's answer to one command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExecDecision {
    /// Run this command this once.
    AllowOnce,
    /// Run it, and from now on run every command the allowlist entry covers without asking.
    AllowAlways,
    Deny,
}

impl ExecDecision {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "allow-once" => Some(Self::AllowOnce),
            "allow-always" => Some(Self::AllowAlways),
            "deny" => Some(Self::Deny),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AllowOnce => "allow-once",
            Self::AllowAlways => "allow-always",
            Self::Deny => "deny",
        }
    }

    pub fn allows(self) -> bool {
        self != Self::Deny
    }
}

/// What waits for a decision, shaped like OpenClaw's `request` object (`host` is always
/// `gateway`: molt runs commands on its own machine, in its workspace).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecRequest {
    pub command: String,
    /// The folder inside the workspace, `/`-separated; `None` for the workspace itself.
    #[serde(default)]
    pub cwd: Option<String>,
    pub host: String,
    #[serde(default)]
    pub agent_id: Option<String>,
    #[serde(default)]
    pub session_key: Option<SessionKey>,
    /// Who asked for the turn: `operator`, or `telegram:4242` for one of the operator's chat IDs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asked_by: Option<String>,
    /// The command's own time limit once it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u64>,
}

/// `exec.approval.requested`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecApprovalRequested {
    pub id: String,
    pub request: ExecRequest,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
}

impl Event for ExecApprovalRequested {
    const NAME: &'static str = EXEC_APPROVAL_REQUESTED;
    const SCOPE: Scope = Scope::Approvals;
}

/// Why a command stopped waiting without an operator's answer (molt's field; the decision is
/// then `deny`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unanswered {
    /// Nobody answered within the time limit.
    Expired,
    /// The turn was aborted (`chat.abort`) or the gateway stopped.
    Cancelled,
}

/// `exec.approval.resolved`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecApprovalResolved {
    pub id: String,
    pub decision: ExecDecision,
    /// Who answered: a device, `local token`, an Access email, `telegram:<id>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_by: Option<String>,
    pub ts: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<ExecRequest>,
    /// The allowlist entry an `allow-always` added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Unanswered>,
}

impl Event for ExecApprovalResolved {
    const NAME: &'static str = EXEC_APPROVAL_RESOLVED;
    const SCOPE: Scope = Scope::Approvals;
}

/// `exec.approval.list`'s answer: what waits now, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecApprovalList {
    pub pending: Vec<ExecApprovalRequested>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn payloads_have_openclaws_names() {
        let requested = ExecApprovalRequested {
            id: "a1".into(),
            request: ExecRequest {
                command: "ls -la".into(),
                cwd: None,
                host: "gateway".into(),
                agent_id: Some("main".into()),
                session_key: Some(SessionKey::main()),
                asked_by: None,
                timeout_secs: Some(30),
            },
            created_at_ms: 1,
            expires_at_ms: 2,
        };
        assert_eq!(
            serde_json::to_value(&requested).unwrap(),
            json!({"id": "a1", "createdAtMs": 1, "expiresAtMs": 2, "request": {"command": "ls -la", "cwd": null,
                "host": "gateway", "agentId": "main", "sessionKey": "agent:main:main", "timeoutSecs": 30}})
        );
        let resolved = ExecApprovalResolved {
            id: "a1".into(),
            decision: ExecDecision::AllowAlways,
            resolved_by: Some("local token".into()),
            ts: 3,
            request: None,
            pattern: Some("git status".into()),
            reason: None,
        };
        assert_eq!(
            serde_json::to_value(&resolved).unwrap(),
            json!({"id": "a1", "decision": "allow-always", "resolvedBy": "local token", "ts": 3, "pattern": "git status"})
        );
        let expired = ExecApprovalResolved { reason: Some(Unanswered::Expired), pattern: None, ..resolved };
        assert_eq!(serde_json::to_value(&expired).unwrap()["reason"], "expired");
        for decision in [ExecDecision::AllowOnce, ExecDecision::AllowAlways, ExecDecision::Deny] {
            assert_eq!(ExecDecision::parse(decision.as_str()), Some(decision));
            assert_eq!(serde_json::to_value(decision).unwrap(), json!(decision.as_str()));
        }
        assert_eq!(ExecDecision::parse("allow"), None);
    }
}
