//! Model providers behind one trait: Anthropic Messages and OpenAI-compatible chat completions
//! (each also through Cloudflare AI Gateway), with retries and an ordered fallback list.

pub(crate) mod anthropic;
mod error;
mod http;
pub(crate) mod openai;
mod retry;
pub(crate) mod sse;

use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde_json::Value;

pub use error::{ErrorKind, ProviderError};
pub use retry::complete;

use crate::core::settings::{Api, ModelSettings};
use crate::daemon::store::{MessageRole, Usage};

/// One prior message of the conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    pub role: MessageRole,
    pub text: String,
}

/// What the agent asks a model for.
#[derive(Debug, Clone)]
pub struct ModelRequest {
    /// The stable prefix (system prompt and workspace files); providers mark it for caching.
    pub system: String,
    /// What the session's older messages said, when they were compacted: sent after `system`,
    /// cached as its own block.
    pub summary: Option<String>,
    /// Alternating turns, starting with the user's.
    pub turns: Vec<Turn>,
    pub max_tokens: u32,
    /// Tools offered to the model.
    pub tools: Vec<ToolSpec>,
    /// Tool calls of this turn so far and their results, replayed after `turns`.
    pub tool_rounds: Vec<ToolRound>,
}

/// A tool the model may call; `input_schema` is a JSON Schema object.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    pub input_schema: Value,
}

/// One round of tool use inside a turn: what the model said and asked for, and the answers.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolRound {
    pub text: String,
    pub calls: Vec<ToolUse>,
    /// One per call, in the order of `calls`.
    pub results: Vec<ToolResult>,
}

/// What a tool call answered; `is_error` for a failure or a refusal.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolResult {
    pub tool_use_id: String,
    pub content: String,
    pub is_error: bool,
    /// Pictures the result carries (a screenshot, an MCP image), sent after its text.
    pub images: Vec<ToolImage>,
}

/// An image in a tool's result: its media type (`image/png`) and base64 data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolImage {
    pub media_type: String,
    pub data: String,
}

/// A tool call the model asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolUse {
    pub id: String,
    pub name: String,
    pub input: Value,
}

/// The outcome of one streamed call.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Completion {
    pub text: String,
    pub stop_reason: String,
    pub usage: Usage,
    pub tool_uses: Vec<ToolUse>,
    pub model: String,
}

/// How a compacted session's summary is introduced to the model, by both providers.
pub fn summary_text(summary: &str) -> String {
    format!(
        "## Summary of the earlier conversation\n\nThe older messages of this conversation were condensed \
         into this summary; they are still searchable with `memory_search`.\n\n{summary}"
    )
}

/// Receives each text delta as it arrives.
pub type DeltaSink<'a> = &'a (dyn Fn(&str) + Send + Sync);

pub trait Provider: Send + Sync {
    /// Short name for logs and `status`.
    fn name(&self) -> &str;

    /// Streams one completion; text deltas go to `on_delta` as they arrive.
    fn stream<'a>(
        &'a self,
        model: &'a str,
        request: &'a ModelRequest,
        on_delta: DeltaSink<'a>,
    ) -> BoxFuture<'a, Result<Completion, ProviderError>>;
}

/// Builds the configured provider, or `None` when no provider is configured.
pub fn from_settings(settings: &ModelSettings) -> Option<Arc<dyn Provider>> {
    let provider = settings.provider.as_ref()?;
    let client = http::client();
    Some(match provider.api {
        Api::AnthropicMessages => Arc::new(anthropic::Anthropic::new(client, provider.clone(), settings.timeout)),
        Api::OpenAiChat => Arc::new(openai::OpenAi::new(client, provider.clone(), settings.timeout)),
    })
}
