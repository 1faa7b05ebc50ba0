//! The `chat` event: one step of a run (a delta, or how the run ended), as the gateway sends
//! it to clients and as the chat platforms' reply writers follow it.

use serde::{Deserialize, Serialize};

use crate::core::ids::{RunId, SessionKey};
use crate::core::time::now_ms;

/// One step of run `run_id` in session `session_key`; `seq` rises by one per run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatEvent {
    pub run_id: RunId,
    pub session_key: SessionKey,
    #[serde(default)]
    pub seq: u64,
    #[serde(flatten)]
    pub step: ChatStep,
}

/// What happened: new text, or the run's end. Every run ends with exactly one of `Final`,
/// `Aborted` or `Error`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum ChatStep {
    /// `delta_text` is the new text only (`replace`: it replaces the text so far). `message`,
    /// the reply so far, is added per connection for clients that need it (OpenClaw's).
    #[serde(rename_all = "camelCase")]
    Delta {
        #[serde(default)]
        delta_text: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        replace: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<AssistantMessage>,
    },
    /// Read leniently (another gateway may leave out usage, stop reason or model).
    #[serde(rename_all = "camelCase")]
    Final {
        message: AssistantMessage,
        #[serde(default)]
        usage: Usage,
        #[serde(default)]
        stop_reason: String,
        #[serde(default)]
        model: String,
    },
    /// Stopped by `chat.abort` or a gateway stop; `message` holds what was streamed so far.
    #[serde(rename_all = "camelCase")]
    Aborted {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<AssistantMessage>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stop_reason: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    Error {
        #[serde(default)]
        error_message: String,
        #[serde(default)]
        error_kind: ErrorKind,
    },
}

impl ChatStep {
    /// True for the step that ends a run.
    pub fn is_end(&self) -> bool {
        !matches!(self, Self::Delta { .. })
    }
}

/// The kind of a failed run, for clients that word it themselves (the chat platforms).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    Refusal,
    Timeout,
    RateLimit,
    ContextLength,
    #[default]
    #[serde(other)]
    Unknown,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Refusal => "refusal",
            Self::Timeout => "timeout",
            Self::RateLimit => "rate_limit",
            Self::ContextLength => "context_length",
            Self::Unknown => "unknown",
        }
    }
}

/// An assistant message as `chat` events and OpenClaw's clients carry it: text blocks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssistantMessage {
    #[serde(default = "assistant")]
    pub role: String,
    #[serde(deserialize_with = "blocks_or_text")]
    pub content: Vec<TextBlock>,
    #[serde(default)]
    pub timestamp: i64,
}

fn assistant() -> String {
    "assistant".into()
}

/// One block of a message's content. Blocks of other kinds (an image, a tool call) keep their
/// kind and have no text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextBlock {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub text: String,
}

/// Reads `content` given as blocks or, as some clients and older gateways send it, as a string.
pub(super) fn blocks_or_text<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<TextBlock>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Content {
        Text(String),
        Blocks(Vec<TextBlock>),
    }
    Ok(match Content::deserialize(deserializer)? {
        Content::Text(text) => vec![TextBlock { kind: "text".into(), text }],
        Content::Blocks(blocks) => blocks,
    })
}

impl AssistantMessage {
    /// An assistant message holding `text`, stamped now.
    pub fn text(text: &str) -> Self {
        Self {
            role: "assistant".into(),
            content: vec![TextBlock { kind: "text".into(), text: text.to_owned() }],
            timestamp: now_ms(),
        }
    }

    /// The message's text: its text blocks joined.
    pub fn joined_text(&self) -> String {
        Self::joined(&self.content)
    }

    pub fn joined(blocks: &[TextBlock]) -> String {
        blocks.iter().filter(|block| block.kind == "text").map(|block| block.text.as_str()).collect()
    }
}

/// Tokens one reply used, summed over its model calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
}

impl Usage {
    /// All tokens; counts come from a provider, so the sums saturate instead of overflowing.
    pub fn total(&self) -> u64 {
        self.input_tokens
            .saturating_add(self.output_tokens)
            .saturating_add(self.cache_read_tokens)
            .saturating_add(self.cache_write_tokens)
    }

    pub fn add(&mut self, other: &Usage) {
        self.input_tokens = self.input_tokens.saturating_add(other.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(other.output_tokens);
        self.cache_read_tokens = self.cache_read_tokens.saturating_add(other.cache_read_tokens);
        self.cache_write_tokens = self.cache_write_tokens.saturating_add(other.cache_write_tokens);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn event(step: ChatStep) -> ChatEvent {
        ChatEvent { run_id: RunId::from_stored("r1".to_owned()), session_key: SessionKey::main(), seq: 3, step }
    }

    #[test]
    fn a_delta_has_the_wire_names_and_round_trips() {
        let delta = event(ChatStep::Delta { delta_text: "Hel".into(), replace: false, message: None });
        let wire = serde_json::to_value(&delta).unwrap();
        assert_eq!(
            wire,
            json!({"runId": "r1", "sessionKey": "agent:main:main", "seq": 3, "state": "delta", "deltaText": "Hel"})
        );
        assert_eq!(serde_json::from_value::<ChatEvent>(wire).unwrap(), delta);
    }

    #[test]
    fn each_end_has_the_wire_names() {
        let message = AssistantMessage { role: "assistant".into(), content: vec![], timestamp: 1 };
        let usage = Usage { input_tokens: 1, output_tokens: 2, cache_read_tokens: 3, cache_write_tokens: 4 };
        let end = event(ChatStep::Final {
            message: message.clone(),
            usage,
            stop_reason: "end_turn".into(),
            model: "m".into(),
        });
        let wire = serde_json::to_value(&end).unwrap();
        assert_eq!(wire["state"], "final");
        assert_eq!(wire["stopReason"], "end_turn");
        assert_eq!(
            wire["usage"],
            json!({"inputTokens": 1, "outputTokens": 2, "cacheReadTokens": 3, "cacheWriteTokens": 4})
        );
        assert_eq!(serde_json::from_value::<ChatEvent>(wire).unwrap(), end);
        let error = event(ChatStep::Error { error_message: "boom".into(), error_kind: ErrorKind::RateLimit });
        let wire = serde_json::to_value(&error).unwrap();
        assert_eq!((wire["errorMessage"].clone(), wire["errorKind"].clone()), (json!("boom"), json!("rate_limit")));
        let bare = event(ChatStep::Aborted { message: None, stop_reason: None });
        let wire = serde_json::to_value(&bare).unwrap();
        assert_eq!(wire.as_object().map(|object| object.len()), Some(4), "{wire}");
        assert!(bare.step.is_end());
    }

    #[test]
    fn usage_sums_saturate() {
        let mut usage = Usage { input_tokens: u64::MAX, output_tokens: 1, ..Usage::default() };
        usage.add(&Usage { input_tokens: 5, ..Usage::default() });
        assert_eq!((usage.input_tokens, usage.total()), (u64::MAX, u64::MAX));
    }

    #[test]
    fn an_unknown_error_kind_reads_as_unknown() {
        let wire: Value = json!({"runId": "r", "sessionKey": "s", "seq": 0, "state": "error",
            "errorMessage": "x", "errorKind": "something_new"});
        let parsed: ChatEvent = serde_json::from_value(wire).unwrap();
        assert_eq!(parsed.step, ChatStep::Error { error_message: "x".into(), error_kind: ErrorKind::Unknown });
    }
}
