//! Anthropic Messages API, streaming: every documented SSE event, tool-use blocks, prompt
//! caching on the stable prefix, usage with cache reads and writes.

use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use super::error::{ErrorKind, ProviderError};
use super::http::{SseStream, parse_json, send};
use super::{Completion, DeltaSink, ModelRequest, Provider, ToolUse};
use crate::core::settings::ProviderSettings;
use crate::daemon::store::MessageRole;

pub const API_VERSION: &str = "2023-06-01";

pub struct Anthropic {
    client: reqwest::Client,
    settings: ProviderSettings,
    timeout: Duration,
}

impl Anthropic {
    pub fn new(client: reqwest::Client, settings: ProviderSettings, timeout: Duration) -> Self {
        Self { client, settings, timeout }
    }

    async fn run(
        &self,
        model: &str,
        request: &ModelRequest,
        on_delta: DeltaSink<'_>,
    ) -> Result<Completion, ProviderError> {
        let mut builder = self
            .client
            .post(format!("{}/v1/messages", self.settings.base_url))
            .header("anthropic-version", API_VERSION)
            .header("accept", "text/event-stream")
            .json(&body(model, request));
        if let Some(key) = &self.settings.api_key {
            builder = builder.header("x-api-key", key.expose());
        }
        if let Some(token) = &self.settings.gateway_auth {
            builder = builder.header("cf-aig-authorization", format!("Bearer {}", token.expose()));
        }
        let response = send(builder, self.timeout, parse_error).await?;
        let mut stream = SseStream::new(response, self.timeout);
        let mut state = StreamState::new(model);
        while let Some(event) = stream.next().await? {
            if state.apply(&parse_json(&event.data)?, on_delta)? {
                return Ok(state.completion);
            }
        }
        Err(ended_early())
    }
}

impl Provider for Anthropic {
    fn name(&self) -> &str {
        &self.settings.name
    }

    fn stream<'a>(
        &'a self,
        model: &'a str,
        request: &'a ModelRequest,
        on_delta: DeltaSink<'a>,
    ) -> BoxFuture<'a, Result<Completion, ProviderError>> {
        Box::pin(self.run(model, request, on_delta))
    }
}

/// The request body, with prompt-cache breakpoints (Anthropic allows four) where the prompt
/// stops changing: the system prompt, the summary of older messages, the end of the history
/// before the new message, and the newest tool results of this turn. Each request's prefix up
/// to a breakpoint is then read from the cache by the next one.
pub fn body(model: &str, request: &ModelRequest) -> Value {
    let cached = |text: &str| json!({"type": "text", "text": text, "cache_control": {"type": "ephemeral"}});
    let last_history = request.turns.len().checked_sub(2);
    let mut messages: Vec<Value> = request
        .turns
        .iter()
        .enumerate()
        .map(|(index, turn)| {
            let role = match turn.role {
                MessageRole::User => "user",
                MessageRole::Assistant => "assistant",
            };
            let content = if Some(index) == last_history { json!([cached(&turn.text)]) } else { json!(turn.text) };
            json!({"role": role, "content": content})
        })
        .collect();
    for round in &request.tool_rounds {
        let mut content = Vec::new();
        if !round.text.is_empty() {
            content.push(json!({"type": "text", "text": round.text}));
        }
        content.extend(
            round
                .calls
                .iter()
                .map(|call| json!({"type": "tool_use", "id": call.id, "name": call.name, "input": call.input})),
        );
        messages.push(json!({"role": "assistant", "content": content}));
        let results: Vec<Value> = round
            .results
            .iter()
            .map(|result| {
                let content = if result.images.is_empty() {
                    json!(result.content)
                } else {
                    let mut blocks = vec![json!({"type": "text", "text": result.content})];
                    blocks.extend(result.images.iter().map(|image| {
                        json!({"type": "image", "source": {"type": "base64", "media_type": image.media_type, "data": image.data}})
                    }));
                    Value::Array(blocks)
                };
                let mut block = json!({"type": "tool_result", "tool_use_id": result.tool_use_id, "content": content});
                if result.is_error {
                    block["is_error"] = Value::Bool(true);
                }
                block
            })
            .collect();
        messages.push(json!({"role": "user", "content": results}));
    }
    if !request.tool_rounds.is_empty()
        && let Some(last) = messages
            .last_mut()
            .and_then(|message| message["content"].as_array_mut())
            .and_then(|blocks| blocks.last_mut())
    {
        last["cache_control"] = json!({"type": "ephemeral"});
    }
    let mut system = vec![cached(&request.system)];
    if let Some(summary) = &request.summary {
        system.push(cached(&super::summary_text(summary)));
    }
    let mut body = json!({
        "model": model,
        "max_tokens": request.max_tokens,
        "stream": true,
        "system": system,
        "messages": messages,
    });
    if !request.tools.is_empty() {
        body["tools"] = request
            .tools
            .iter()
            .map(|tool| json!({"name": tool.name, "description": tool.description, "input_schema": tool.input_schema}))
            .collect();
    }
    body
}

/// `{"type":"error","error":{"type":..,"message":..}}` → (type, message)
/// Folds the data of a stream's events into the completion, one event at a time as `run` does.
/// The fuzz target's way in.
pub fn fold_events<'a>(
    model: &str,
    events: impl IntoIterator<Item = &'a str>,
    on_delta: DeltaSink<'_>,
) -> Result<Completion, ProviderError> {
    let mut state = StreamState::new(model);
    for data in events {
        if state.apply(&parse_json(data)?, on_delta)? {
            return Ok(state.completion);
        }
    }
    Err(ended_early())
}

fn ended_early() -> ProviderError {
    ProviderError::new(ErrorKind::Protocol, "the model stream ended before `message_stop`")
}

fn parse_error(body: &str) -> (String, String) {
    let value: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let error = &value["error"];
    let text = |field: &Value| field.as_str().unwrap_or_default().to_owned();
    match (error["type"].as_str(), error["message"].as_str()) {
        (None, None) => (String::new(), body.chars().take(200).collect()),
        _ => (text(&error["type"]), text(&error["message"])),
    }
}

#[derive(Default)]
struct StreamState {
    completion: Completion,
    /// The tool-use block being streamed: id, name, partial JSON.
    tool: Option<(String, String, String)>,
}

impl StreamState {
    fn new(model: &str) -> Self {
        Self { completion: Completion { model: model.to_owned(), ..Completion::default() }, ..Self::default() }
    }

    /// Applies one event; `true` once the message is complete.
    fn apply(&mut self, event: &Value, on_delta: DeltaSink<'_>) -> Result<bool, ProviderError> {
        let count = |value: &Value| value.as_u64().unwrap_or(0);
        match event["type"].as_str().unwrap_or_default() {
            "message_start" => {
                let usage = &event["message"]["usage"];
                let total = &mut self.completion.usage;
                total.input_tokens = count(&usage["input_tokens"]);
                total.cache_read_tokens = count(&usage["cache_read_input_tokens"]);
                total.cache_write_tokens = count(&usage["cache_creation_input_tokens"]);
                total.output_tokens = count(&usage["output_tokens"]);
            }
            "content_block_start" => {
                let block = &event["content_block"];
                if block["type"] == "tool_use" {
                    let field = |name: &str| block[name].as_str().unwrap_or_default().to_owned();
                    self.tool = Some((field("id"), field("name"), String::new()));
                } else if let Some(text) = block["text"].as_str().filter(|text| !text.is_empty()) {
                    self.text(text, on_delta);
                }
            }
            "content_block_delta" => {
                let delta = &event["delta"];
                match delta["type"].as_str().unwrap_or_default() {
                    "text_delta" => self.text(delta["text"].as_str().unwrap_or_default(), on_delta),
                    "input_json_delta" => {
                        if let Some((_, _, json)) = &mut self.tool {
                            json.push_str(delta["partial_json"].as_str().unwrap_or_default());
                        }
                    }
                    _ => {}
                }
            }
            "content_block_stop" => {
                if let Some((id, name, json)) = self.tool.take() {
                    let input = if json.trim().is_empty() {
                        json!({})
                    } else {
                        serde_json::from_str(&json).unwrap_or(Value::String(json))
                    };
                    self.completion.tool_uses.push(ToolUse { id, name, input });
                }
            }
            "message_delta" => {
                if let Some(reason) = event["delta"]["stop_reason"].as_str() {
                    self.completion.stop_reason = reason.to_owned();
                }
                if let Some(output) = event["usage"]["output_tokens"].as_u64() {
                    self.completion.usage.output_tokens = output;
                }
            }
            "message_stop" => return Ok(true),
            "error" => {
                let error = &event["error"];
                return Err(ProviderError::from_stream_error(
                    error["type"].as_str().unwrap_or("api_error"),
                    error["message"].as_str().unwrap_or_default(),
                ));
            }
            // `ping` and event types added later are ignored, as the API asks.
            _ => {}
        }
        Ok(false)
    }

    fn text(&mut self, text: &str, on_delta: DeltaSink<'_>) {
        if !text.is_empty() {
            self.completion.text.push_str(text);
            on_delta(text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_a_full_stream_with_a_tool_call() {
        let events = [
            json!({"type":"message_start","message":{"usage":{"input_tokens":12,"cache_read_input_tokens":100,"cache_creation_input_tokens":7,"output_tokens":1}}}),
            json!({"type":"ping"}),
            json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}),
            json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}),
            json!({"type":"content_block_stop","index":0}),
            json!({"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"lookup","input":{}}}),
            json!({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"q\":"}}),
            json!({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"\"rust\"}"}}),
            json!({"type":"content_block_stop","index":1}),
            json!({"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":30}}),
            json!({"type":"message_stop"}),
        ];
        let seen = std::sync::Mutex::new(String::new());
        let sink = |text: &str| seen.lock().unwrap().push_str(text);
        let mut state = StreamState::default();
        let done: Vec<bool> = events.iter().map(|event| state.apply(event, &sink).unwrap()).collect();
        assert_eq!(done.iter().filter(|&&d| d).count(), 1);
        assert_eq!(*seen.lock().unwrap(), "Hi");
        let completion = state.completion;
        assert_eq!(completion.stop_reason, "tool_use");
        assert_eq!(
            completion.tool_uses,
            [ToolUse { id: "toolu_1".into(), name: "lookup".into(), input: json!({"q":"rust"}) }]
        );
        assert_eq!((completion.usage.input_tokens, completion.usage.output_tokens), (12, 30));
        assert_eq!((completion.usage.cache_read_tokens, completion.usage.cache_write_tokens), (100, 7));
    }

    #[test]
    fn a_tool_result_with_an_image_is_sent_as_blocks_and_the_newest_results_are_cached() {
        use crate::daemon::providers::{ToolImage, ToolResult, ToolRound, Turn};
        use crate::daemon::store::MessageRole;
        let image = ToolImage { media_type: "image/png".into(), data: "iVBORw0KGgo=".into() };
        let request = ModelRequest {
            system: "s".into(),
            summary: None,
            turns: vec![Turn { role: MessageRole::User, text: "look".into() }],
            max_tokens: 10,
            tools: Vec::new(),
            tool_rounds: vec![ToolRound {
                text: String::new(),
                calls: vec![ToolUse { id: "t1".into(), name: "browser".into(), input: json!({}) }],
                results: vec![ToolResult {
                    tool_use_id: "t1".into(),
                    content: "a page".into(),
                    is_error: false,
                    images: vec![image],
                }],
            }],
        };
        let body = body("m", &request);
        assert_eq!(
            body["messages"][2]["content"][0],
            json!({"type": "tool_result", "tool_use_id": "t1", "cache_control": {"type": "ephemeral"}, "content": [
                {"type": "text", "text": "a page"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
            ]})
        );
        let openai = crate::daemon::providers::openai::body("m", &request);
        let last = openai["messages"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["role"], "user");
        assert_eq!(last["content"][1]["image_url"]["url"], "data:image/png;base64,iVBORw0KGgo=");
    }

    #[test]
    fn an_error_event_after_200_fails_the_call() {
        let mut state = StreamState::default();
        let event = json!({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}});
        let error = state.apply(&event, &|_| {}).unwrap_err();
        assert_eq!(error.kind, ErrorKind::Overloaded);
    }

    #[test]
    fn error_bodies_are_parsed() {
        let body = r#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#;
        assert_eq!(parse_error(body), ("authentication_error".into(), "invalid x-api-key".into()));
        assert_eq!(parse_error("<html>bad gateway</html>").1, "<html>bad gateway</html>");
    }
}
