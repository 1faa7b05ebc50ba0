//! Typed views of the gateway's payloads that the terminal client reads. Parsing is lenient
//! (a missing field becomes empty) and never panics: the server is outside this process.

use std::time::Duration;

use serde_json::Value;

use crate::core::delay::Limits;

fn text(value: &Value, field: &str) -> String {
    value[field].as_str().unwrap_or_default().to_owned()
}

fn optional_text(value: &Value, field: &str) -> Option<String> {
    value[field].as_str().filter(|text| !text.is_empty()).map(str::to_owned)
}

/// Token counts of one reply, as `final` events and history carry them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
}

impl Usage {
    pub fn from_json(value: &Value) -> Option<Self> {
        if !value.is_object() {
            return None;
        }
        let count = |field: &str| value[field].as_u64().unwrap_or(0);
        Some(Self {
            input_tokens: count("inputTokens"),
            output_tokens: count("outputTokens"),
            cache_read_tokens: count("cacheReadTokens"),
            cache_write_tokens: count("cacheWriteTokens"),
        })
    }

    pub fn total(&self) -> u64 {
        self.input_tokens + self.output_tokens + self.cache_read_tokens + self.cache_write_tokens
    }

    pub fn add(&mut self, other: &Usage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cache_read_tokens += other.cache_read_tokens;
        self.cache_write_tokens += other.cache_write_tokens;
    }
}

/// The text of a message: `content` as a string or as `[{type:"text", text}]` blocks.
pub fn message_text(message: &Value) -> String {
    match &message["content"] {
        Value::String(text) => text.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter(|block| block["type"] == "text")
            .filter_map(|block| block["text"].as_str())
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

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
}

impl HistoryMessage {
    pub fn from_json(value: &Value) -> Self {
        Self {
            role: text(value, "role"),
            text: message_text(value),
            usage: Usage::from_json(&value["usage"]),
            model: optional_text(value, "model"),
            stop_reason: optional_text(value, "stopReason"),
        }
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
    pub fn from_json(value: &Value) -> Option<Self> {
        let run_id = optional_text(value, "runId")?;
        let session_key = optional_text(value, "sessionKey")?;
        let message = message_text(&value["message"]);
        let state = match value["state"].as_str()? {
            "delta" => match value["deltaText"].as_str() {
                Some(piece) => ChatState::Delta { text: piece.to_owned(), replace: value["replace"] == true },
                None => ChatState::Delta { text: message, replace: true },
            },
            "final" => ChatState::Final {
                text: message,
                usage: Usage::from_json(&value["usage"]),
                model: optional_text(value, "model"),
            },
            "aborted" => ChatState::Aborted { text: message },
            "error" => ChatState::Error {
                message: optional_text(value, "errorMessage").unwrap_or_else(|| "the reply failed".to_owned()),
                kind: text(value, "errorKind"),
            },
            _ => return None,
        };
        Some(Self { run_id, session_key, state })
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
        assert_eq!(message_text(&json!({"content": "plain"})), "plain");
    }
}
