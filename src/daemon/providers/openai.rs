//! OpenAI-compatible chat completions, streaming (OpenAI, Ollama, vLLM, OpenRouter), lenient
//! about `choices: null`, empty choices and usage-only chunks.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use super::error::{ErrorKind, ProviderError};
use super::http::{SseStream, parse_json, send};
use super::{Completion, DeltaSink, ModelRequest, Provider, ToolUse};
use crate::core::settings::ProviderSettings;
use crate::daemon::store::MessageRole;

pub struct OpenAi {
    client: reqwest::Client,
    settings: ProviderSettings,
    timeout: Duration,
}

impl OpenAi {
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
            .post(format!("{}/chat/completions", self.settings.base_url))
            .header("accept", "text/event-stream")
            .json(&body(model, request));
        if let Some(key) = &self.settings.api_key {
            builder = builder.bearer_auth(key.expose());
        }
        if let Some(token) = &self.settings.gateway_auth {
            builder = builder.header("cf-aig-authorization", format!("Bearer {}", token.expose()));
        }
        let response = send(builder, self.timeout, parse_error).await?;
        let mut stream = SseStream::new(response, self.timeout);
        let mut state = StreamState::new(model);
        while let Some(event) = stream.next().await? {
            if state.event(&event.data, on_delta)? {
                return Ok(state.finish());
            }
        }
        state.ended()
    }
}

/// Folds the data of a stream's events into the completion, one event at a time as `run` does.
/// The fuzz target's way in.
pub fn fold_events<'a>(
    model: &str,
    events: impl IntoIterator<Item = &'a str>,
    on_delta: DeltaSink<'_>,
) -> Result<Completion, ProviderError> {
    let mut state = StreamState::new(model);
    for data in events {
        if state.event(data, on_delta)? {
            return Ok(state.finish());
        }
    }
    state.ended()
}

impl Provider for OpenAi {
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

pub fn body(model: &str, request: &ModelRequest) -> Value {
    let mut messages = vec![json!({"role": "system", "content": request.system})];
    if let Some(summary) = &request.summary {
        messages.push(json!({"role": "system", "content": super::summary_text(summary)}));
    }
    messages.extend(request.turns.iter().map(|turn| {
        let role = match turn.role {
            MessageRole::User => "user",
            MessageRole::Assistant => "assistant",
        };
        json!({"role": role, "content": turn.text})
    }));
    for round in &request.tool_rounds {
        let calls: Vec<Value> = round
            .calls
            .iter()
            .map(|call| json!({"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.input.to_string()}}))
            .collect();
        messages.push(json!({"role": "assistant", "content": round.text, "tool_calls": calls}));
        messages.extend(
            round
                .results
                .iter()
                .map(|result| json!({"role": "tool", "tool_call_id": result.tool_use_id, "content": result.content})),
        );
        // A tool message holds text only: the round's images follow as one user message.
        let images: Vec<Value> = round
            .results
            .iter()
            .flat_map(|result| &result.images)
            .map(|image| json!({"type": "image_url", "image_url": {"url": format!("data:{};base64,{}", image.media_type, image.data)}}))
            .collect();
        if !images.is_empty() {
            let mut content = vec![json!({"type": "text", "text": "The images the tools returned:"})];
            content.extend(images);
            messages.push(json!({"role": "user", "content": content}));
        }
    }
    let mut body = json!({
        "model": model,
        "stream": true,
        "stream_options": {"include_usage": true},
        "max_tokens": request.max_tokens,
        "messages": messages,
    });
    if !request.tools.is_empty() {
        body["tools"] = request
            .tools
            .iter()
            .map(|tool| json!({"type": "function", "function": {"name": tool.name, "description": tool.description, "parameters": tool.input_schema}}))
            .collect();
    }
    body
}

/// `{"error":{"message":..,"type":..,"code":..}}` → (type or code, message)
fn parse_error(body: &str) -> (String, String) {
    let value: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let error = &value["error"];
    let message = error["message"].as_str().or_else(|| error.as_str());
    let kind = error["code"].as_str().or_else(|| error["type"].as_str()).unwrap_or_default();
    match message {
        Some(message) => (kind.to_owned(), message.to_owned()),
        None => (String::new(), body.chars().take(200).collect()),
    }
}

#[derive(Default)]
struct StreamState {
    completion: Completion,
    /// Tool calls by index: id, name, arguments so far.
    tools: BTreeMap<u64, (String, String, String)>,
}

impl StreamState {
    fn new(model: &str) -> Self {
        Self { completion: Completion { model: model.to_owned(), ..Completion::default() }, ..Self::default() }
    }

    /// Applies one event's data; `true` at `[DONE]`.
    fn event(&mut self, data: &str, on_delta: DeltaSink<'_>) -> Result<bool, ProviderError> {
        if data.trim() == "[DONE]" {
            return Ok(true);
        }
        self.apply(&parse_json(data)?, on_delta)?;
        Ok(false)
    }

    /// The stream closed without `[DONE]`: some servers do, and a finish reason means the
    /// answer is whole.
    fn ended(self) -> Result<Completion, ProviderError> {
        if self.completion.stop_reason.is_empty() {
            return Err(ProviderError::new(ErrorKind::Protocol, "the model stream ended without a finish reason"));
        }
        Ok(self.finish())
    }

    fn apply(&mut self, chunk: &Value, on_delta: DeltaSink<'_>) -> Result<(), ProviderError> {
        if let Some(error) = chunk.get("error").filter(|error| !error.is_null()) {
            let message = error["message"].as_str().or_else(|| error.as_str()).unwrap_or("unknown error");
            let kind = error["type"].as_str().unwrap_or("api_error");
            let kind = if kind.contains("rate_limit") { "rate_limit_error" } else { kind };
            return Err(ProviderError::from_stream_error(kind, message));
        }
        if let Some(usage) = chunk.get("usage").filter(|usage| usage.is_object()) {
            let count = |value: &Value| value.as_u64().unwrap_or(0);
            let total = &mut self.completion.usage;
            total.input_tokens = count(&usage["prompt_tokens"]);
            total.output_tokens = count(&usage["completion_tokens"]);
            total.cache_read_tokens = count(&usage["prompt_tokens_details"]["cached_tokens"]);
        }
        let Some(choices) = chunk.get("choices").and_then(Value::as_array) else {
            return Ok(());
        };
        for choice in choices {
            let delta = &choice["delta"];
            if let Some(text) = delta["content"].as_str().filter(|text| !text.is_empty()) {
                self.completion.text.push_str(text);
                on_delta(text);
            }
            for call in delta["tool_calls"].as_array().into_iter().flatten() {
                let entry = self.tools.entry(call["index"].as_u64().unwrap_or(0)).or_default();
                if let Some(id) = call["id"].as_str() {
                    entry.0 = id.to_owned();
                }
                if let Some(name) = call["function"]["name"].as_str() {
                    entry.1.push_str(name);
                }
                if let Some(arguments) = call["function"]["arguments"].as_str() {
                    entry.2.push_str(arguments);
                }
            }
            if let Some(reason) = choice["finish_reason"].as_str() {
                self.completion.stop_reason = reason.to_owned();
            }
        }
        Ok(())
    }

    fn finish(mut self) -> Completion {
        for (id, name, arguments) in std::mem::take(&mut self.tools).into_values() {
            let input = serde_json::from_str(&arguments).unwrap_or(Value::String(arguments));
            self.completion.tool_uses.push(ToolUse { id, name, input });
        }
        self.completion
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerates_null_and_empty_choices_and_reads_usage() {
        let chunks = [
            json!({"choices": null}),
            json!({"choices": [{"index":0,"delta":{"role":"assistant","content":"Hel"},"finish_reason":null}]}),
            json!({"choices": []}),
            json!({"choices": [{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}]}),
            json!({"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 2, "prompt_tokens_details": {"cached_tokens": 4}}}),
        ];
        let mut state = StreamState::default();
        for chunk in &chunks {
            state.apply(chunk, &|_| {}).unwrap();
        }
        let completion = state.finish();
        assert_eq!(completion.text, "Hello");
        assert_eq!(completion.stop_reason, "stop");
        assert_eq!(
            (completion.usage.input_tokens, completion.usage.output_tokens, completion.usage.cache_read_tokens),
            (9, 2, 4)
        );
    }

    #[test]
    fn assembles_tool_calls() {
        let mut state = StreamState::default();
        let first = json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"lookup","arguments":"{\"q\""}}]}}]});
        let second = json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":":1}"}}]},"finish_reason":"tool_calls"}]});
        state.apply(&first, &|_| {}).unwrap();
        state.apply(&second, &|_| {}).unwrap();
        let completion = state.finish();
        assert_eq!(
            completion.tool_uses,
            [ToolUse { id: "call_1".into(), name: "lookup".into(), input: json!({"q":1}) }]
        );
    }

    #[test]
    fn an_error_chunk_fails_the_call() {
        let mut state = StreamState::default();
        let error = state
            .apply(&json!({"error":{"message":"Rate limit reached","type":"rate_limit_exceeded"}}), &|_| {})
            .unwrap_err();
        assert_eq!(error.kind, ErrorKind::RateLimited);
    }
}
