//! Owns `FakeAnthropic`: a local fake of the Anthropic Messages API (`POST /v1/messages`,
//! SSE streaming, real error bodies) that plays scripted replies and records every request.
use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use serde_json::{Value, json};

pub use super::fake_provider::Usage;
use super::fake_provider::{Script, Sse, last_user_text, word_chunks};
pub use super::fake_server::RecordedRequest;
use super::fake_server::{FakeServer, json_response, random_id, set_header};
pub use super::prompt_cache::Accounted;
use super::prompt_cache::{self, PromptCache};

/// One scripted answer to one `POST /v1/messages`.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// Streamed text deltas, then `stop_reason: "end_turn"`.
    Text { chunks: Vec<String>, usage: Usage },
    /// Like `Text` but ends with `stop_reason: "max_tokens"`.
    Truncated { chunks: Vec<String>, usage: Usage },
    /// A text block (skipped when `text` is empty), then a `tool_use` block whose input
    /// arrives as `input_json_delta` pieces; `stop_reason: "tool_use"`.
    ToolUse { text: String, tool_name: String, input_json_chunks: Vec<String> },
    /// A text block (skipped when empty), then one `tool_use` block per call, as a model asks
    /// for several tools at once; `stop_reason: "tool_use"`.
    Tools { text: String, calls: Vec<ToolCall> },
    /// An HTTP error with the real error body (`retry-after` header when set).
    /// `retry_after` is the header's text as sent, so tests can send what a broken server might.
    Status { status: u16, error_type: String, message: String, retry_after: Option<String> },
    /// 200, some text deltas, then an `error` event and the end of the stream.
    ErrorAfter { chunks: Vec<String>, error_type: String, message: String },
    /// 200, some text deltas, then silence until the client leaves (60 s at most).
    Stall { chunks: Vec<String> },
    /// Text deltas with `delay_ms` before each one, then a normal end (60 s at most).
    Slow { chunks: Vec<String>, delay_ms: u64 },
    /// 200 with an SSE body that is not valid JSON, then the end of the stream.
    Broken,
}

/// One scripted tool call: its name and its input JSON in the pieces it streams in.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    pub name: String,
    pub input_json_chunks: Vec<String>,
}

impl ToolCall {
    /// A call whose input streams in two pieces.
    pub fn new(name: &str, input: &Value) -> ToolCall {
        let json = input.to_string();
        let middle = json.char_indices().nth(json.chars().count() / 2).map_or(0, |(at, _)| at);
        ToolCall {
            name: name.to_owned(),
            input_json_chunks: vec![json[..middle].to_owned(), json[middle..].to_owned()],
        }
    }
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

/// A fake Anthropic server on 127.0.0.1; dropping it stops the server and its streams.
pub struct FakeAnthropic {
    server: FakeServer,
    script: Arc<Script<Reply>>,
    cache: Arc<CacheAccounting>,
}

/// The prompt cache the fake keeps when asked to account it (off by default, so scripted
/// usage is reported as scripted).
#[derive(Default)]
struct CacheAccounting {
    on: std::sync::atomic::AtomicBool,
    cache: PromptCache,
    /// Every accounted request's split, in order.
    accounted: std::sync::Mutex<Vec<Accounted>>,
    /// The answer to every summary request (whose system prompt starts with `SUMMARY_SYSTEM`),
    /// outside the script's queue.
    summary: std::sync::Mutex<Option<String>>,
    /// Every summary request is refused (400), outside the script's queue.
    refuse_summaries: std::sync::atomic::AtomicBool,
}

/// How molt's compaction request opens its system prompt.
pub const SUMMARY_SYSTEM: &str = "You keep the running summary";

impl FakeAnthropic {
    /// Starts a fake that accepts any `x-api-key` (or none).
    pub async fn start() -> FakeAnthropic {
        FakeAnthropic::launch(None).await
    }

    /// Starts a fake that answers 401 unless `x-api-key` is exactly `key`.
    pub async fn start_with_key(key: &str) -> FakeAnthropic {
        FakeAnthropic::launch(Some(key.to_owned())).await
    }

    async fn launch(key: Option<String>) -> FakeAnthropic {
        let bound = FakeServer::bind().await;
        let script = Arc::new(Script::new(key, bound.stopping()));
        let cache = Arc::new(CacheAccounting::default());
        let router =
            Router::new().fallback(handle).with_state(Arc::clone(&script)).layer(Extension(Arc::clone(&cache)));
        FakeAnthropic { server: bound.serve(router), script, cache }
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash or `/v1`.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// The `x-api-key` the fake requires, if it was started with one.
    pub fn key(&self) -> Option<&str> {
        self.script.expected_key()
    }

    /// Queues a reply; each valid `POST /v1/messages` takes the oldest one. With the queue
    /// empty the fake echoes `You said: <last user text>`.
    pub fn push(&self, reply: Reply) {
        self.script.push(reply);
    }

    /// Every request received so far, in order (including rejected ones).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.server.requests()
    }

    /// The last user message of each request, in order: which messages reached the model.
    pub fn user_texts(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|request| {
                let messages = request.body["messages"].as_array().cloned().unwrap_or_default();
                let last = messages.iter().rev().find(|message| message["role"] == "user").cloned().unwrap_or_default();
                match &last["content"] {
                    serde_json::Value::String(text) => text.clone(),
                    serde_json::Value::Array(blocks) => {
                        blocks.iter().filter_map(|block| block["text"].as_str()).collect()
                    }
                    _ => String::new(),
                }
            })
            .collect()
    }

    /// Waits until `n` requests arrived or `timeout` passed; returns all requests so far.
    pub async fn wait_for_requests(&self, n: usize, timeout: Duration) -> Vec<RecordedRequest> {
        self.server.wait_for_requests(n, timeout).await
    }

    /// From now on, reports input, cache-read and cache-write tokens as Anthropic's prompt
    /// cache would (`prompt_cache.rs`) instead of the scripted input usage.
    pub fn account_prompt_cache(&self) {
        self.cache.on.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Answers every compaction request with `summary` from now on, leaving the queue alone.
    pub fn summarize_with(&self, summary: &str) {
        *self.cache.summary.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(summary.to_owned());
    }

    /// Refuses every compaction request with a 400 from now on, leaving the queue alone.
    pub fn refuse_summaries(&self) {
        self.cache.refuse_summaries.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// The prompt-token split of every accounted request so far, in order.
    pub fn accounted(&self) -> Vec<Accounted> {
        self.cache.accounted.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// Streams still being produced (e.g. a `Stall` whose client has not disconnected).
    pub fn active_streams(&self) -> usize {
        self.script.active_streams()
    }
}

async fn handle(
    State(script): State<Arc<Script<Reply>>>,
    Extension(cache): Extension<Arc<CacheAccounting>>,
    Extension(request): Extension<RecordedRequest>,
) -> Response {
    let request_id = random_id("req_", 24);
    let mut response = answer(&script, &cache, &request, &request_id);
    set_header(&mut response, "request-id", &request_id);
    response
}

fn answer(script: &Script<Reply>, cache: &CacheAccounting, request: &RecordedRequest, request_id: &str) -> Response {
    let body = &request.body;
    let error = |status: u16, error_type: &str, message: &str, retry_after: Option<String>| {
        error_response(status, error_type, message, retry_after, request_id)
    };
    let invalid = |message: &str| error(400, "invalid_request_error", message, None);
    // Cloudflare AI Gateway puts `/<account>/<gateway>/anthropic` in front of the API path.
    if request.method != "POST" || !request.path.ends_with("/v1/messages") {
        return error(404, "not_found_error", "Not found", None);
    }
    if let Some(key) = script.expected_key()
        && request.header("x-api-key") != Some(key)
    {
        return error(401, "authentication_error", "invalid x-api-key", None);
    }
    if request.header("anthropic-version").is_none() {
        return invalid("anthropic-version: header is required");
    }
    if !body.is_object() {
        return invalid("There was an error parsing the body of your request: invalid JSON");
    }
    for field in ["model", "max_tokens", "messages"] {
        if body.get(field).is_none() {
            return invalid(&format!("{field}: Field required"));
        }
    }
    if let Err(message) = tool_results_follow_tool_uses(body) {
        return invalid(&message);
    }
    let marks = prompt_cache::breakpoints(body);
    if marks > prompt_cache::MAX_BREAKPOINTS {
        return invalid(&format!("A maximum of 4 blocks with cache_control may be provided. Found {marks}."));
    }
    let prompt = cache.on.load(std::sync::atomic::Ordering::Relaxed).then(|| {
        let accounted = cache.cache.account(body);
        cache.accounted.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(accounted);
        accounted
    });
    let system = body["system"][0]["text"].as_str().unwrap_or_default();
    if system.starts_with(SUMMARY_SYSTEM) && cache.refuse_summaries.load(std::sync::atomic::Ordering::Relaxed) {
        return invalid("messages: the summary was refused by the test");
    }
    let summary = cache.summary.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
    let reply = match summary.filter(|_| system.starts_with(SUMMARY_SYSTEM)).map(|text| Reply::text(&text)) {
        Some(summary) => Some(summary),
        None => script.next_reply(),
    };
    let reply = match reply {
        Some(Reply::ToolUse { text, tool_name, input_json_chunks }) => {
            Reply::Tools { text, calls: vec![ToolCall { name: tool_name, input_json_chunks }] }
        }
        Some(reply) => reply,
        None => Reply::text(&format!("You said: {}", last_user_text(body))),
    };
    let model = body["model"].as_str().unwrap_or("claude-fake").to_owned();
    let streaming = body["stream"] == true;
    match reply {
        Reply::Status { status, error_type, message, retry_after } => error(status, &error_type, &message, retry_after),
        Reply::Text { chunks, usage } if !streaming => {
            let text = json!({"type": "text", "text": chunks.concat()});
            message_json(&model, vec![text], "end_turn", with_prompt(usage, prompt))
        }
        Reply::Truncated { chunks, usage } if !streaming => {
            let text = json!({"type": "text", "text": chunks.concat()});
            message_json(&model, vec![text], "max_tokens", with_prompt(usage, prompt))
        }
        Reply::Tools { text, calls } if !streaming => {
            let mut content = Vec::new();
            if !text.is_empty() {
                content.push(json!({"type": "text", "text": text}));
            }
            for call in &calls {
                let input = serde_json::from_str::<Value>(&call.input_json_chunks.concat());
                content.push(json!({
                    "type": "tool_use",
                    "id": random_id("toolu_", 24),
                    "name": call.name,
                    "input": input.unwrap_or_else(|_| json!({})),
                }));
            }
            let usage = Usage::simple(calls.iter().map(|call| call.input_json_chunks.len()).sum::<usize>() + 1);
            message_json(&model, content, "tool_use", with_prompt(usage, prompt))
        }
        // Everything else streams, even when the request did not ask for a stream.
        reply => script.sse(move |sse| async move {
            let _ = play(&sse, reply, &model, prompt).await;
        }),
    }
}

/// Writes one scripted reply as Anthropic SSE events; `None` when the client went away.
async fn play(sse: &Sse, reply: Reply, model: &str, prompt: Option<Accounted>) -> Option<()> {
    let usage_of = |usage: Usage| with_prompt(usage, prompt);
    match reply {
        Reply::Text { chunks, usage } => {
            open(sse, model, usage_of(usage)).await?;
            text_deltas(sse, 0, &chunks).await?;
            close(sse, 0, "end_turn", usage.output_tokens).await
        }
        Reply::Truncated { chunks, usage } => {
            open(sse, model, usage_of(usage)).await?;
            text_deltas(sse, 0, &chunks).await?;
            close(sse, 0, "max_tokens", usage.output_tokens).await
        }
        Reply::ToolUse { text, tool_name, input_json_chunks } => {
            let calls = vec![ToolCall { name: tool_name, input_json_chunks }];
            Box::pin(play(sse, Reply::Tools { text, calls }, model, prompt)).await
        }
        Reply::Tools { text, calls } => {
            let output_tokens = (calls.iter().map(|call| call.input_json_chunks.len()).sum::<usize>() + 1) as u64;
            event(sse, "message_start", &message_start(model, usage_of(Usage::simple(1)))).await?;
            let mut index = 0;
            if !text.is_empty() {
                block_start(sse, 0, json!({"type": "text", "text": ""})).await?;
                event(sse, "ping", &json!({"type": "ping"})).await?;
                text_deltas(sse, 0, &[text]).await?;
                block_stop(sse, 0).await?;
                index = 1;
            }
            let last = index + calls.len() - 1;
            for (number, call) in calls.into_iter().enumerate() {
                let at = index + number;
                let id = random_id("toolu_", 24);
                let tool = json!({"type": "tool_use", "id": id, "name": call.name, "input": {}});
                block_start(sse, at, tool).await?;
                if at == 0 {
                    event(sse, "ping", &json!({"type": "ping"})).await?;
                }
                for piece in call.input_json_chunks {
                    let delta = json!({"type": "input_json_delta", "partial_json": piece});
                    block_delta(sse, at, delta).await?;
                }
                if at != last {
                    block_stop(sse, at).await?;
                }
            }
            close(sse, last, "tool_use", output_tokens).await
        }
        Reply::ErrorAfter { chunks, error_type, message } => {
            open(sse, model, Usage::simple(chunks.len())).await?;
            text_deltas(sse, 0, &chunks).await?;
            let error = json!({"type": "error", "error": {"type": error_type, "message": message}});
            event(sse, "error", &error).await
        }
        Reply::Stall { chunks } => {
            open(sse, model, Usage::simple(chunks.len())).await?;
            text_deltas(sse, 0, &chunks).await?;
            sse.hold().await;
            None
        }
        Reply::Slow { chunks, delay_ms } => {
            let usage = Usage::simple(chunks.len());
            open(sse, model, usage_of(usage)).await?;
            for chunk in chunks {
                sse.sleep(Duration::from_millis(delay_ms)).await?;
                text_deltas(sse, 0, &[chunk]).await?;
            }
            close(sse, 0, "end_turn", usage.output_tokens).await
        }
        Reply::Broken => sse.send("event: message_start\ndata: {not json\n\n").await,
        // Answered before any stream starts.
        Reply::Status { .. } => None,
    }
}

/// The API's rule: every `tool_use` block of an assistant message is answered by a
/// `tool_result` block with its id in the very next (user) message, and a `tool_result`
/// answers a `tool_use` of the message just before it.
fn tool_results_follow_tool_uses(body: &Value) -> Result<(), String> {
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    let blocks = |message: &Value, kind: &str, field: &str| -> Vec<String> {
        message["content"]
            .as_array()
            .map(|blocks| {
                blocks
                    .iter()
                    .filter(|block| block["type"] == kind)
                    .filter_map(|block| block[field].as_str())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    for (index, message) in messages.iter().enumerate() {
        let uses = blocks(message, "tool_use", "id");
        let next = messages.get(index + 1).cloned().unwrap_or(Value::Null);
        let results = blocks(&next, "tool_result", "tool_use_id");
        let missing: Vec<&String> = uses.iter().filter(|id| !results.contains(id)).collect();
        if !uses.is_empty() && (!missing.is_empty() || next["role"] != "user") {
            let ids: Vec<&str> = missing.iter().map(|id| id.as_str()).collect();
            return Err(format!(
                "messages.{}: `tool_use` ids were found without `tool_result` blocks immediately after: {}. Each `tool_use` block must have a corresponding `tool_result` block in the next message.",
                index + 1,
                ids.join(", ")
            ));
        }
        let answered = blocks(message, "tool_result", "tool_use_id");
        let previous = index.checked_sub(1).map(|at| blocks(&messages[at], "tool_use", "id")).unwrap_or_default();
        if let Some(stray) = answered.iter().find(|id| !previous.contains(id)) {
            return Err(format!(
                "messages.{index}.content: unexpected `tool_use_id` found in `tool_result` blocks: {stray}. Each `tool_result` block must have a corresponding `tool_use` block in the previous message."
            ));
        }
    }
    Ok(())
}

async fn event(sse: &Sse, name: &str, data: &Value) -> Option<()> {
    sse.send(format!("event: {name}\ndata: {data}\n\n")).await
}

/// `message_start`, the text block's `content_block_start` at index 0, and a `ping`.
async fn open(sse: &Sse, model: &str, usage: Usage) -> Option<()> {
    event(sse, "message_start", &message_start(model, usage)).await?;
    block_start(sse, 0, json!({"type": "text", "text": ""})).await?;
    event(sse, "ping", &json!({"type": "ping"})).await
}

/// `content_block_stop`, `message_delta` and `message_stop`.
async fn close(sse: &Sse, index: usize, stop_reason: &str, output_tokens: u64) -> Option<()> {
    block_stop(sse, index).await?;
    let delta = json!({
        "type": "message_delta",
        "delta": {"stop_reason": stop_reason, "stop_sequence": null},
        "usage": {"output_tokens": output_tokens},
    });
    event(sse, "message_delta", &delta).await?;
    event(sse, "message_stop", &json!({"type": "message_stop"})).await
}

async fn text_deltas(sse: &Sse, index: usize, chunks: &[String]) -> Option<()> {
    for chunk in chunks {
        block_delta(sse, index, json!({"type": "text_delta", "text": chunk})).await?;
    }
    Some(())
}

async fn block_start(sse: &Sse, index: usize, block: Value) -> Option<()> {
    let data = json!({"type": "content_block_start", "index": index, "content_block": block});
    event(sse, "content_block_start", &data).await
}

async fn block_delta(sse: &Sse, index: usize, delta: Value) -> Option<()> {
    let data = json!({"type": "content_block_delta", "index": index, "delta": delta});
    event(sse, "content_block_delta", &data).await
}

async fn block_stop(sse: &Sse, index: usize) -> Option<()> {
    let data = json!({"type": "content_block_stop", "index": index});
    event(sse, "content_block_stop", &data).await
}

/// The scripted usage with the prompt's tokens as the cache accounted them, when it did.
fn with_prompt(usage: Usage, prompt: Option<Accounted>) -> Usage {
    match prompt {
        Some(prompt) => Usage {
            input_tokens: prompt.input_tokens,
            cache_read_input_tokens: prompt.cache_read_input_tokens,
            cache_creation_input_tokens: prompt.cache_creation_input_tokens,
            output_tokens: usage.output_tokens,
        },
        None => usage,
    }
}

fn message_start(model: &str, usage: Usage) -> Value {
    let mut message = message_body(model, Vec::new(), Value::Null, usage);
    message["usage"]["output_tokens"] = json!(1);
    json!({"type": "message_start", "message": message})
}

fn message_body(model: &str, content: Vec<Value>, stop_reason: Value, usage: Usage) -> Value {
    json!({
        "id": random_id("msg_", 24),
        "type": "message",
        "role": "assistant",
        "content": content,
        "model": model,
        "stop_reason": stop_reason,
        "stop_sequence": null,
        "usage": {
            "input_tokens": usage.input_tokens,
            "cache_creation_input_tokens": usage.cache_creation_input_tokens,
            "cache_read_input_tokens": usage.cache_read_input_tokens,
            "output_tokens": usage.output_tokens,
        },
    })
}

/// A non-streaming `Message` response.
fn message_json(model: &str, content: Vec<Value>, stop_reason: &str, usage: Usage) -> Response {
    json_response(200, &message_body(model, content, json!(stop_reason), usage), &[])
}

/// An Anthropic error response: status, `{"type":"error",...}` body, optional `retry-after`.
fn error_response(
    status: u16,
    error_type: &str,
    message: &str,
    retry_after: Option<String>,
    request_id: &str,
) -> Response {
    let body = json!({
        "type": "error",
        "error": {"type": error_type, "message": message},
        "request_id": request_id,
    });
    let mut headers = Vec::new();
    if let Some(seconds) = retry_after {
        headers.push(("retry-after", seconds));
    }
    json_response(status, &body, &headers)
}
