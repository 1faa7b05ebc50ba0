//! Results of the chat and session methods (`chat.send`, `chat.history`, `chat.abort`,
//! `sessions.*`, `models.list`) and the `sessions.changed` event, as the gateway sends them and
//! its clients read them.

use serde::{Deserialize, Serialize};

use super::agent::ToolCallRecord;
use super::chat::{AssistantMessage, TextBlock, Usage};
use crate::core::ids::{RunId, SessionKey};

/// `chat.send`'s answer, at once: `started`, or for a repeated idempotency key `in_flight`
/// (still running) or `ok` (answered).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatSendAck {
    pub run_id: RunId,
    pub status: SendStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SendStatus {
    Started,
    InFlight,
    Ok,
}

/// `chat.history`: the newest messages, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatHistory {
    pub session_key: SessionKey,
    pub messages: Vec<HistoryMessage>,
}

/// One stored message. A reply carries its stop reason, usage and model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryMessage {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub run_id: Option<RunId>,
    pub role: String,
    #[serde(deserialize_with = "super::chat::blocks_or_text")]
    pub content: Vec<TextBlock>,
    #[serde(default)]
    pub timestamp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The tool calls a reply made, with their results.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolCallRecord>,
}

impl HistoryMessage {
    pub fn text(&self) -> String {
        AssistantMessage::joined(&self.content)
    }
}

/// `chat.abort`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AbortResult {
    pub ok: bool,
    pub aborted: bool,
    pub run_ids: Vec<RunId>,
}

/// `sessions.list`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionsList {
    #[serde(default)]
    pub ts: i64,
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub count: usize,
    #[serde(default)]
    pub defaults: SessionDefaults,
    pub sessions: Vec<SessionRow>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionDefaults {
    pub model_provider: Option<String>,
    pub model: String,
    pub context_tokens: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SessionRow {
    pub key: String,
    pub kind: String,
    pub display_name: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_message_preview: Option<String>,
    pub message_count: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub total_tokens: u64,
    pub model: String,
}

impl Default for SessionRow {
    fn default() -> Self {
        Self {
            key: String::new(),
            kind: "direct".into(),
            display_name: String::new(),
            created_at: 0,
            updated_at: 0,
            last_message_preview: None,
            message_count: 0,
            input_tokens: 0,
            output_tokens: 0,
            total_tokens: 0,
            model: String::new(),
        }
    }
}

/// `sessions.reset`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResetResult {
    pub ok: bool,
    pub key: SessionKey,
    pub removed_messages: u64,
}

/// `sessions.delete`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteResult {
    pub ok: bool,
    pub key: SessionKey,
    pub deleted: bool,
}

/// `sessions.subscribe`, `sessions.unsubscribe`, and the `sessions.messages.*` pair (`key`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscribed {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<SessionKey>,
    pub subscribed: bool,
}

/// `models.list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelsList {
    pub models: Vec<ModelRow>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelRow {
    pub id: String,
    pub name: String,
    pub provider: Option<String>,
    pub available: bool,
}

/// The `sessions.changed` event: which session, and why (`message`, `reset`, `delete`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionsChanged {
    pub session_key: SessionKey,
    pub reason: ChangeReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeReason {
    Message,
    Reset,
    Delete,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn results_have_the_wire_names() {
        let ack = ChatSendAck { run_id: RunId::from_stored("r".into()), status: SendStatus::InFlight };
        assert_eq!(serde_json::to_value(&ack).unwrap(), json!({"runId": "r", "status": "in_flight"}));
        let changed = SessionsChanged { session_key: SessionKey::main(), reason: ChangeReason::Reset };
        assert_eq!(
            serde_json::to_value(&changed).unwrap(),
            json!({"sessionKey": "agent:main:main", "reason": "reset"})
        );
    }

    #[test]
    fn history_reads_text_content_as_blocks() {
        let message: HistoryMessage =
            serde_json::from_value(json!({"role": "user", "content": "plain", "timestamp": 3})).unwrap();
        assert_eq!(message.text(), "plain");
        let stored = json!({"id": "1", "runId": "r", "role": "assistant", "timestamp": 4,
            "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
            "stopReason": "end_turn", "usage": {"inputTokens": 2}, "model": "m"});
        let message: HistoryMessage = serde_json::from_value(stored.clone()).unwrap();
        assert_eq!((message.text().as_str(), message.usage.unwrap().input_tokens), ("ab", 2));
        let mut round = serde_json::to_value(&message).unwrap();
        round["usage"] = json!({"inputTokens": 2});
        assert_eq!(round, stored);
    }
}
