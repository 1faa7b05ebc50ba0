//! Owns `FakeOpenAi`: a local fake of an OpenAI-compatible chat-completions API
//! (`POST /v1/chat/completions` and `POST /chat/completions`, SSE streaming, real error
//! bodies) that plays scripted replies and records every request.
use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use serde_json::{Value, json};

pub use super::fake_anthropic::ToolCall;
pub use super::fake_provider::Usage;
use super::fake_provider::{Script, Sse, last_user_text, unix_now, word_chunks};
pub use super::fake_server::RecordedRequest;
use super::fake_server::{FakeServer, json_response, random_id, set_header};

/// One scripted answer to one chat-completions request.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// Streamed content deltas, then `finish_reason: "stop"`.
    Text { chunks: Vec<String>, usage: Usage },
    /// Like `Text` but ends with `finish_reason: "length"`.
    Truncated { chunks: Vec<String>, usage: Usage },
    /// Content `text` (skipped when empty), then one `delta.tool_calls` call whose
    /// arguments arrive in pieces; `finish_reason: "tool_calls"`.
    ToolUse { text: String, tool_name: String, input_json_chunks: Vec<String> },
    /// Content `text` (skipped when empty), then one `delta.tool_calls` entry per call, each at
    /// its own `index`, as a model asks for parallel calls; `finish_reason: "tool_calls"`.
    Tools { text: String, calls: Vec<ToolCall> },
    /// An HTTP error with the real error body (`retry-after` header when set).
    Status { status: u16, error_type: String, message: String, retry_after: Option<u64> },
    /// 200, some content chunks, then `data: {"error":{...}}` and the end of the stream.
    ErrorAfter { chunks: Vec<String>, error_type: String, message: String },
    /// 200, some content chunks, then silence until the client leaves (60 s at most).
    Stall { chunks: Vec<String> },
    /// Content chunks with `delay_ms` before each one, then a normal end (60 s at most).
    Slow { chunks: Vec<String>, delay_ms: u64 },
    /// 200 with an SSE body that is not valid JSON, then the end of the stream.
    Broken,
    /// Content chunks amid odd chunks real servers send: `"choices": []` first, then the
    /// role chunk, a `"choices": null` chunk, the content, the `finish_reason` chunk, and a
    /// final usage-only chunk without `choices` (sent whatever `stream_options` says).
    Quirky { chunks: Vec<String> },
}

impl Reply {
    /// `text` streamed in word-sized chunks; usage 10 in, one output token per chunk.
    pub fn text(text: &str) -> Reply {
        let chunks = word_chunks(text);
        let usage = Usage::simple(chunks.len());
        Reply::Text { chunks, usage }
    }

    /// An HTTP error without `retry-after`.
    pub fn status(status: u16, error_type: &str, message: &str) -> Reply {
        Reply::Status { status, error_type: error_type.to_owned(), message: message.to_owned(), retry_after: None }
    }
}

/// A fake OpenAI-compatible server on 127.0.0.1; dropping it stops the server and its
/// streams.
pub struct FakeOpenAi {
    server: FakeServer,
    script: Arc<Script<Reply>>,
}

impl FakeOpenAi {
    /// Starts a fake that needs no API key (like Ollama).
    pub async fn start() -> FakeOpenAi {
        FakeOpenAi::launch(None).await
    }

    /// Starts a fake that answers 401 unless `authorization` is exactly `Bearer <key>`.
    pub async fn start_with_key(key: &str) -> FakeOpenAi {
        FakeOpenAi::launch(Some(key.to_owned())).await
    }

    async fn launch(key: Option<String>) -> FakeOpenAi {
        let bound = FakeServer::bind().await;
        let script = Arc::new(Script::new(key, bound.stopping()));
        let router = Router::new().fallback(handle).with_state(Arc::clone(&script));
        FakeOpenAi { server: bound.serve(router), script }
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash or `/v1`.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// Queues a reply; each valid chat-completions request takes the oldest one. With the
    /// queue empty the fake echoes `You said: <last user text>`.
    pub fn push(&self, reply: Reply) {
        self.script.push(reply);
    }

    /// Every request received so far, in order (including rejected ones).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.server.requests()
    }

    /// Waits until `n` requests arrived or `timeout` passed; returns all requests so far.
    pub async fn wait_for_requests(&self, n: usize, timeout: Duration) -> Vec<RecordedRequest> {
        self.server.wait_for_requests(n, timeout).await
    }

    /// Streams still being produced (e.g. a `Stall` whose client has not disconnected).
    pub fn active_streams(&self) -> usize {
        self.script.active_streams()
    }
}

/// The API's rule: an assistant message with `tool_calls` is followed by one `tool` message
/// per call id, and a `tool` message answers a call made before it.
fn tool_messages_answer_tool_calls(body: &Value) -> Result<(), String> {
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    for (index, message) in messages.iter().enumerate() {
        let calls: Vec<&str> = message["tool_calls"]
            .as_array()
            .map(|calls| calls.iter().filter_map(|call| call["id"].as_str()).collect())
            .unwrap_or_default();
        if calls.is_empty() {
            continue;
        }
        let answered: Vec<&str> = messages[index + 1..]
            .iter()
            .take_while(|next| next["role"] == "tool")
            .filter_map(|next| next["tool_call_id"].as_str())
            .collect();
        let missing: Vec<&str> = calls.iter().copied().filter(|id| !answered.contains(id)).collect();
        if !missing.is_empty() {
            return Err(format!(
                "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: {}",
                missing.join(", ")
            ));
        }
    }
    for (index, message) in messages.iter().enumerate().filter(|(_, message)| message["role"] == "tool") {
        let earlier = messages[..index].iter().rev().find(|m| m["role"] != "tool");
        let id = message["tool_call_id"].as_str().unwrap_or_default();
        let known = earlier
            .and_then(|m| m["tool_calls"].as_array())
            .is_some_and(|calls| calls.iter().any(|call| call["id"] == id));
        if !known {
            return Err(format!(
                "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'. (messages[{index}])"
            ));
        }
    }
    Ok(())
}

/// What every chunk of one completion shares.
struct Completion {
    id: String,
    created: u64,
    model: String,
    include_usage: bool,
}

impl Completion {
    /// A chunk with the given `choices` (`None`: no `choices` key at all).
    fn bare(&self, choices: Option<Value>) -> Value {
        let mut chunk = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
        });
        if let Some(choices) = choices {
            chunk["choices"] = choices;
        }
        chunk
    }

    /// A chunk with one choice; `"usage": null` too when the client asked for usage.
    fn chunk(&self, delta: Value, finish_reason: Option<&str>) -> Value {
        let choice = json!({
            "index": 0,
            "delta": delta,
            "logprobs": null,
            "finish_reason": finish_reason,
        });
        let mut chunk = self.bare(Some(json!([choice])));
        if self.include_usage {
            chunk["usage"] = Value::Null;
        }
        chunk
    }

    fn usage_chunk(&self, choices: Option<Value>, usage: Usage) -> Value {
        let mut chunk = self.bare(choices);
        chunk["usage"] = usage_json(usage);
        chunk
    }

    /// A non-streaming `chat.completion` response.
    fn whole(&self, message: Value, finish_reason: &str, usage: Usage) -> Response {
        let body = json!({
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [{
                "index": 0,
                "message": message,
                "logprobs": null,
                "finish_reason": finish_reason,
            }],
            "usage": usage_json(usage),
        });
        json_response(200, &body, &[])
    }
}

/// OpenAI usage: `prompt_tokens` is `input_tokens`; cache reads show as `cached_tokens`.
fn usage_json(usage: Usage) -> Value {
    let mut json = json!({
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
    });
    if usage.cache_read_input_tokens > 0 {
        json["prompt_tokens_details"] = json!({"cached_tokens": usage.cache_read_input_tokens});
    }
    json
}

async fn handle(State(script): State<Arc<Script<Reply>>>, Extension(request): Extension<RecordedRequest>) -> Response {
    let request_id = random_id("req_", 32);
    let mut response = answer(&script, &request);
    set_header(&mut response, "x-request-id", &request_id);
    response
}

fn answer(script: &Script<Reply>, request: &RecordedRequest) -> Response {
    let body = &request.body;
    let invalid = |message: &str| error_response(400, "invalid_request_error", message, Value::Null, None);
    let path = request.path.as_str();
    // Cloudflare AI Gateway puts `/<account>/<gateway>/openai` in front of the API path.
    if request.method != "POST" || !path.ends_with("/chat/completions") {
        let message = format!("Invalid URL ({} {path})", request.method);
        return error_response(404, "invalid_request_error", &message, Value::Null, None);
    }
    let auth = request.header("authorization");
    if let Some(key) = script.expected_key()
        && auth != Some(format!("Bearer {key}").as_str())
    {
        let (message, code) = match auth {
            None => ("You didn't provide an API key.", Value::Null),
            Some(_) => ("Incorrect API key provided.", json!("invalid_api_key")),
        };
        return error_response(401, "invalid_request_error", message, code, None);
    }
    if !body.is_object() {
        return invalid("We could not parse the JSON body of your request.");
    }
    if body.get("model").is_none() {
        return invalid("you must provide a model parameter");
    }
    if !body["messages"].is_array() {
        return invalid("Missing required parameter: 'messages'.");
    }
    if let Err(message) = tool_messages_answer_tool_calls(body) {
        return invalid(&message);
    }
    let reply = match script.next_reply() {
        Some(Reply::ToolUse { text, tool_name, input_json_chunks }) => {
            Reply::Tools { text, calls: vec![ToolCall { name: tool_name, input_json_chunks }] }
        }
        Some(reply) => reply,
        None => Reply::text(&format!("You said: {}", last_user_text(body))),
    };
    let completion = Completion {
        id: random_id("chatcmpl-", 24),
        created: unix_now(),
        model: body["model"].as_str().unwrap_or("gpt-fake").to_owned(),
        include_usage: body["stream_options"]["include_usage"] == true,
    };
    let streaming = body["stream"] == true;
    let assistant = |content: Value| json!({"role": "assistant", "content": content});
    match reply {
        Reply::Status { status, error_type, message, retry_after } => {
            let code = json!(error_type);
            error_response(status, &error_type, &message, code, retry_after)
        }
        Reply::Text { chunks, usage } if !streaming => {
            completion.whole(assistant(json!(chunks.concat())), "stop", usage)
        }
        Reply::Truncated { chunks, usage } if !streaming => {
            completion.whole(assistant(json!(chunks.concat())), "length", usage)
        }
        Reply::Tools { text, calls } if !streaming => {
            let mut message = assistant(json!(Some(text).filter(|t| !t.is_empty())));
            message["tool_calls"] = calls
                .iter()
                .map(|call| {
                    json!({
                        "id": random_id("call_", 24),
                        "type": "function",
                        "function": {"name": call.name, "arguments": call.input_json_chunks.concat()},
                    })
                })
                .collect();
            let usage = Usage::simple(calls.iter().map(|call| call.input_json_chunks.len()).sum::<usize>() + 1);
            completion.whole(message, "tool_calls", usage)
        }
        // Everything else streams, even when the request did not ask for a stream.
        reply => script.sse(move |sse| async move {
            let _ = play(&sse, reply, &completion).await;
        }),
    }
}

/// Writes one scripted reply as `data:` chunks; `None` when the client went away.
async fn play(sse: &Sse, reply: Reply, c: &Completion) -> Option<()> {
    let role = json!({"role": "assistant", "content": ""});
    match reply {
        Reply::Text { chunks, usage } => {
            data(sse, &c.chunk(role, None)).await?;
            contents(sse, c, &chunks).await?;
            finish(sse, c, "stop", usage).await
        }
        Reply::Truncated { chunks, usage } => {
            data(sse, &c.chunk(role, None)).await?;
            contents(sse, c, &chunks).await?;
            finish(sse, c, "length", usage).await
        }
        Reply::ToolUse { text, tool_name, input_json_chunks } => {
            let calls = vec![ToolCall { name: tool_name, input_json_chunks }];
            Box::pin(play(sse, Reply::Tools { text, calls }, c)).await
        }
        Reply::Tools { text, calls } => {
            data(sse, &c.chunk(role, None)).await?;
            if !text.is_empty() {
                contents(sse, c, &[text]).await?;
            }
            let pieces: usize = calls.iter().map(|call| call.input_json_chunks.len()).sum();
            for (index, call) in calls.into_iter().enumerate() {
                let id = random_id("call_", 24);
                let function = json!({"name": call.name, "arguments": ""});
                let first = json!({"index": index, "id": id, "type": "function", "function": function});
                data(sse, &c.chunk(json!({"tool_calls": [first]}), None)).await?;
                for piece in &call.input_json_chunks {
                    let call = json!({"index": index, "function": {"arguments": piece}});
                    data(sse, &c.chunk(json!({"tool_calls": [call]}), None)).await?;
                }
            }
            finish(sse, c, "tool_calls", Usage::simple(pieces + 1)).await
        }
        Reply::ErrorAfter { chunks, error_type, message } => {
            data(sse, &c.chunk(role, None)).await?;
            contents(sse, c, &chunks).await?;
            let error = json!({"error": {"message": message, "type": error_type}});
            data(sse, &error).await
        }
        Reply::Stall { chunks } => {
            data(sse, &c.chunk(role, None)).await?;
            contents(sse, c, &chunks).await?;
            sse.hold().await;
            None
        }
        Reply::Slow { chunks, delay_ms } => {
            data(sse, &c.chunk(role, None)).await?;
            for chunk in &chunks {
                sse.sleep(Duration::from_millis(delay_ms)).await?;
                contents(sse, c, std::slice::from_ref(chunk)).await?;
            }
            finish(sse, c, "stop", Usage::simple(chunks.len())).await
        }
        Reply::Broken => sse.send("data: {not json\n\n").await,
        Reply::Quirky { chunks } => {
            data(sse, &c.bare(Some(json!([])))).await?;
            data(sse, &c.chunk(role, None)).await?;
            data(sse, &c.bare(Some(Value::Null))).await?;
            contents(sse, c, &chunks).await?;
            data(sse, &c.chunk(json!({}), Some("stop"))).await?;
            data(sse, &c.usage_chunk(None, Usage::simple(chunks.len()))).await?;
            sse.send("data: [DONE]\n\n").await
        }
        // Answered before any stream starts.
        Reply::Status { .. } => None,
    }
}

async fn data(sse: &Sse, chunk: &Value) -> Option<()> {
    sse.send(format!("data: {chunk}\n\n")).await
}

async fn contents(sse: &Sse, c: &Completion, chunks: &[String]) -> Option<()> {
    for chunk in chunks {
        data(sse, &c.chunk(json!({"content": chunk}), None)).await?;
    }
    Some(())
}

/// The `finish_reason` chunk, the usage chunk if asked for, and `data: [DONE]`.
async fn finish(sse: &Sse, c: &Completion, finish_reason: &str, usage: Usage) -> Option<()> {
    data(sse, &c.chunk(json!({}), Some(finish_reason))).await?;
    if c.include_usage {
        data(sse, &c.usage_chunk(Some(json!([])), usage)).await?;
    }
    sse.send("data: [DONE]\n\n").await
}

/// An OpenAI error response, with a `retry-after` header when set.
fn error_response(status: u16, error_type: &str, message: &str, code: Value, retry_after: Option<u64>) -> Response {
    let error = json!({"message": message, "type": error_type, "param": null, "code": code});
    let mut headers = Vec::new();
    if let Some(seconds) = retry_after {
        headers.push(("retry-after", seconds.to_string()));
    }
    json_response(status, &json!({ "error": error }), &headers)
}
