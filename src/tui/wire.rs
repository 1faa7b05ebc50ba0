//! Typed views of the gateway's payloads that the terminal client reads. Parsing is lenient
//! (a missing field becomes empty) and never panics: the server is outside this process.

use std::time::Duration;

use serde_json::Value;

use crate::core::delay::Limits;
use crate::core::protocol::{self, ChatStep};

fn text(value: &Value, field: &str) -> String {
    value[field].as_str().unwrap_or_default().to_owned()
}

fn optional_text(value: &Value, field: &str) -> Option<String> {
    value[field].as_str().filter(|text| !text.is_empty()).map(str::to_owned)
}

pub use crate::core::protocol::Usage;
pub use crate::core::protocol::agent::ToolCallRecord;

/// One row of `sessions.list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSummary {
    pub key: String,
    pub display_name: String,
    pub total_tokens: u64,
}

impl SessionSummary {
    pub fn from_json(value: &Value) -> Option<Self> {
        let key = optional_text(value, "key")?;
        let display_name = optional_text(value, "displayName").unwrap_or_else(|| short_session_name(&key));
        Some(Self { key, display_name, total_tokens: value["totalTokens"].as_u64().unwrap_or(0) })
    }
}

/// `agent:main:tui-1a2b` → `tui-1a2b`; the main session is `Main`.
pub fn short_session_name(key: &str) -> String {
    if key == MAIN_SESSION {
        return "Main".to_owned();
    }
    key.rsplit(':').next().unwrap_or(key).to_owned()
}

/// The operator's default conversation.
pub const MAIN_SESSION: &str = "agent:main:main";

/// A device waiting for an operator (`device.pair.requested`, `device.pair.list`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingDevice {
    pub request_id: String,
    pub device_id: String,
    pub name: String,
    pub platform: String,
    pub address: String,
    /// 0 when the gateway did not say.
    pub expires_at_ms: i64,
}

impl PendingDevice {
    pub fn from_json(value: &Value) -> Option<Self> {
        let request_id = optional_text(value, "requestId")?;
        let name = optional_text(value, "displayName")
            .or_else(|| optional_text(value, "clientId"))
            .unwrap_or_else(|| "device".to_owned());
        Some(Self {
            request_id,
            device_id: text(value, "deviceId"),
            name,
            platform: text(value, "platform"),
            address: text(value, "address"),
            expires_at_ms: value["expiresAtMs"].as_i64().unwrap_or(0),
        })
    }
}

/// A chat-platform user's pairing code (`pairing.code.requested`, `pairing.code.list`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingCode {
    pub channel: String,
    pub code: String,
    pub sender_id: String,
    pub sender_name: Option<String>,
    /// 0 when the gateway did not say.
    pub expires_at_ms: i64,
}

impl PendingCode {
    pub fn from_json(value: &Value) -> Option<Self> {
        Some(Self {
            channel: optional_text(value, "channel")?,
            code: optional_text(value, "code")?,
            sender_id: text(value, "senderId"),
            sender_name: optional_text(value, "senderName"),
            expires_at_ms: value["expiresAtMs"].as_i64().unwrap_or(0),
        })
    }
}

/// One message of `chat.history`.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryMessage {
    pub role: String,
    pub text: String,
    pub usage: Option<Usage>,
    pub model: Option<String>,
    pub stop_reason: Option<String>,
    /// The tool calls of a reply.
    pub tools: Vec<ToolCallRecord>,
}

impl HistoryMessage {
    /// A row of `chat.history`; `None` when it is not a message at all.
    pub fn from_json(value: &Value) -> Option<Self> {
        let message: protocol::sessions::HistoryMessage = serde_json::from_value(value.clone()).ok()?;
        Some(Self {
            text: message.text(),
            role: message.role,
            usage: message.usage,
            model: message.model.filter(|model| !model.is_empty()),
            stop_reason: message.stop_reason.filter(|reason| !reason.is_empty()),
            tools: message.tools,
        })
    }
}

/// A `chat` event: one step of a run.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatState {
    /// More of the reply: `text` follows what came before, or replaces it all when
    /// `replace` (a gateway that sends the cumulative text, or OpenClaw's `replace`).
    Delta {
        text: String,
        replace: bool,
    },
    Final {
        text: String,
        usage: Option<Usage>,
        model: Option<String>,
    },
    Aborted {
        text: String,
    },
    Error {
        message: String,
        kind: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChatEvent {
    pub run_id: String,
    pub session_key: String,
    pub state: ChatState,
}

impl ChatEvent {
    /// A `chat` event's payload, read with the protocol's own type; `None` when it is not one.
    pub fn from_json(value: &Value) -> Option<Self> {
        let event: protocol::ChatEvent = serde_json::from_value(value.clone()).ok()?;
        let text = |message: Option<protocol::AssistantMessage>| message.map(|m| m.joined_text()).unwrap_or_default();
        let state = match event.step {
            // A gateway that sends only the cumulative text: it replaces what came before.
            ChatStep::Delta { delta_text, message: Some(message), .. } if delta_text.is_empty() => {
                ChatState::Delta { text: message.joined_text(), replace: true }
            }
            ChatStep::Delta { delta_text, replace, .. } => ChatState::Delta { text: delta_text, replace },
            ChatStep::Final { message, usage, model, .. } => ChatState::Final {
                text: message.joined_text(),
                usage: Some(usage).filter(|usage| usage.total() > 0),
                model: Some(model).filter(|model| !model.is_empty()),
            },
            ChatStep::Aborted { message, .. } => ChatState::Aborted { text: text(message) },
            ChatStep::Error { error_message, error_kind } => ChatState::Error {
                message: Some(error_message)
                    .filter(|message| !message.is_empty())
                    .unwrap_or_else(|| "the reply failed".to_owned()),
                kind: error_kind.as_str().to_owned(),
            },
        };
        Some(Self { run_id: event.run_id.to_string(), session_key: event.session_key.to_string(), state })
    }
}

/// The gateway's `retryAfterMs`: at most 15 minutes, 5 s when unusable.
const SERVER_RETRY_LIMITS: Limits = Limits::new(Duration::ZERO, Duration::from_secs(15 * 60), Duration::from_secs(5));

/// An error answer to a request, or a refused connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerError {
    pub code: String,
    /// `error.details.code`, e.g. `AUTH_TOKEN_MISMATCH`.
    pub detail: String,
    pub message: String,
    /// How long the gateway asks the client to wait before trying again.
    pub retry_after_ms: Option<u64>,
}

impl ServerError {
    pub fn from_json(error: &Value) -> Self {
        Self {
            code: text(error, "code"),
            detail: text(&error["details"], "code"),
            message: optional_text(error, "message").unwrap_or_else(|| "the gateway refused the request".to_owned()),
            retry_after_ms: error["retryAfterMs"].as_f64().map(|ms| {
                let wait = SERVER_RETRY_LIMITS.millis(ms);
                u64::try_from(wait.as_millis()).unwrap_or(u64::MAX)
            }),
        }
    }

    pub fn local(message: impl Into<String>) -> Self {
        Self { code: "CLIENT".to_owned(), detail: String::new(), message: message.into(), retry_after_ms: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_chat_events_and_rejects_nonsense() {
        let final_event = json!({"runId": "r1", "sessionKey": "agent:main:main", "state": "final",
            "message": {"content": [{"type": "text", "text": "hi"}]},
            "usage": {"inputTokens": 10, "outputTokens": 2}, "model": "claude-sonnet-4-5"});
        let event = ChatEvent::from_json(&final_event).unwrap();
        let ChatState::Final { text, usage, model } = event.state else { panic!("final") };
        assert_eq!((text.as_str(), usage.unwrap().total(), model.as_deref()), ("hi", 12, Some("claude-sonnet-4-5")));
        assert_eq!(ChatEvent::from_json(&json!({"runId": 5})), None);
        assert_eq!(ChatEvent::from_json(&json!("text")), None);
        assert_eq!(ChatEvent::from_json(&json!({"runId": "r", "sessionKey": "k", "state": "odd"})), None);
    }

    #[test]
    fn names_devices_and_sessions() {
        let device = PendingDevice::from_json(&json!({"requestId": "q", "clientId": "molt-test"})).unwrap();
        assert_eq!(device.name, "molt-test");
        assert_eq!(PendingDevice::from_json(&json!({})), None);
        assert_eq!(short_session_name("agent:main:tui-ab12"), "tui-ab12");
        assert_eq!(short_session_name(MAIN_SESSION), "Main");
        let plain = HistoryMessage::from_json(&json!({"role": "user", "content": "plain"})).unwrap();
        assert_eq!(plain.text, "plain");
    }
}
