//! Owns the request recorder and the server plumbing shared by the fake model providers
//! (`fake_anthropic`, `fake_openai`): recorded requests, the scripted-reply queue, the
//! loopback server task, bounded SSE bodies, and the default echo reply's helpers.
// Shared test support: each integration-test binary uses only part of it.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use rand::Rng;
use rand::distr::Alphanumeric;
use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Longest time any streamed reply may last (`Slow`, `Stall`), whatever the client does.
pub const STREAM_LIMIT: Duration = Duration::from_secs(60);
/// Largest request body read; a larger one is recorded with body `Null`.
const BODY_LIMIT: usize = 64 * 1024 * 1024;

/// One request as the fake received it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    pub method: String,
    /// The URI path, without the query string.
    pub path: String,
    /// Header names are lowercase; values that are not UTF-8 are converted lossily.
    pub headers: Vec<(String, String)>,
    /// The parsed JSON body, or `Null` when the body is empty or not JSON.
    pub body: serde_json::Value,
    /// When the whole request had been read (for the benches' latency figures).
    pub at: std::time::Instant,
}

impl RecordedRequest {
    /// The first value of header `name` (matched case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Reads a whole request. Never fails: an unreadable or non-JSON body gives `Null`.
    pub async fn capture(req: Request) -> RecordedRequest {
        let (parts, body) = req.into_parts();
        let headers = parts
            .headers
            .iter()
            .map(|(k, v)| {
                let value = String::from_utf8_lossy(v.as_bytes()).into_owned();
                (k.as_str().to_ascii_lowercase(), value)
            })
            .collect();
        let bytes = axum::body::to_bytes(body, BODY_LIMIT).await.unwrap_or_default();
        RecordedRequest {
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            headers,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            at: std::time::Instant::now(),
        }
    }
}

/// Token counts a scripted reply reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_input_tokens: u64,
    pub cache_creation_input_tokens: u64,
}

impl Usage {
    /// The usage of an unscripted reply: 10 input tokens, `output_tokens` output tokens.
    pub fn simple(output_tokens: usize) -> Usage {
        Usage { input_tokens: 10, output_tokens: output_tokens as u64, ..Usage::default() }
    }
}

/// State shared by a fake's handle and its server task; `R` is the fake's reply type.
pub struct Shared<R> {
    state: Mutex<State<R>>,
    count: watch::Sender<usize>,
    active: Arc<AtomicUsize>,
    cancel: CancellationToken,
    key: Option<String>,
}

struct State<R> {
    requests: Vec<RecordedRequest>,
    replies: VecDeque<R>,
}

impl<R: Send + 'static> Shared<R> {
    pub fn new(key: Option<String>) -> Shared<R> {
        Shared {
            state: Mutex::new(State { requests: Vec::new(), replies: VecDeque::new() }),
            count: watch::Sender::new(0),
            active: Arc::new(AtomicUsize::new(0)),
            cancel: CancellationToken::new(),
            key,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<R>> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The API key the fake requires, if it was started with one.
    pub fn expected_key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    pub fn record(&self, request: RecordedRequest) {
        let mut state = self.lock();
        state.requests.push(request);
        self.count.send_replace(state.requests.len());
    }

    pub fn push(&self, reply: R) {
        self.lock().replies.push_back(reply);
    }

    pub fn next_reply(&self) -> Option<R> {
        self.lock().replies.pop_front()
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    /// Waits until at least `n` requests were recorded or `timeout` passed, then returns
    /// every request recorded so far (possibly fewer than `n`).
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<RecordedRequest> {
        let mut rx = self.count.subscribe();
        let _ = tokio::time::timeout(timeout, rx.wait_for(|count| *count >= n)).await;
        self.requests()
    }

    /// How many streamed replies are still being produced (a `Stall` or `Slow` reply whose
    /// client has not gone away yet, or a reply still being written).
    pub fn active_streams(&self) -> usize {
        self.active.load(Ordering::SeqCst)
    }

    /// Binds 127.0.0.1:0 and serves `router` in a task until [`Shared::shutdown`].
    pub async fn serve(&self, router: Router) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("fake provider: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("fake provider: local address");
        let stop = self.cancel.clone().cancelled_owned();
        tokio::spawn(async move {
            let _ = axum::serve(super::no_delay(listener), router).with_graceful_shutdown(stop).await;
        });
        addr
    }

    /// Stops accepting connections and ends every stream still open.
    pub fn shutdown(&self) {
        self.cancel.cancel();
    }

    /// A 200 `text/event-stream` response whose body `produce` writes through an [`Sse`].
    pub fn sse<F, Fut>(&self, produce: F) -> Response
    where
        F: FnOnce(Sse) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel::<Bytes>(16);
        let sse = Sse { tx, cancel: self.cancel.clone(), deadline: Instant::now() + STREAM_LIMIT };
        let guard = ActiveGuard::new(self.active.clone());
        tokio::spawn(async move {
            let _guard = guard;
            produce(sse).await;
        });
        let body = futures_util::stream::unfold(rx, |mut rx| async move {
            let bytes = rx.recv().await?;
            Some((Ok::<Bytes, Infallible>(bytes), rx))
        });
        let mut response = Response::new(Body::from_stream(body));
        let headers = response.headers_mut();
        let event_stream = HeaderValue::from_static("text/event-stream; charset=utf-8");
        headers.insert(header::CONTENT_TYPE, event_stream);
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        response
    }
}

/// Counts a running stream producer for [`Shared::active_streams`].
struct ActiveGuard(Arc<AtomicUsize>);

impl ActiveGuard {
    fn new(counter: Arc<AtomicUsize>) -> ActiveGuard {
        counter.fetch_add(1, Ordering::SeqCst);
        ActiveGuard(counter)
    }
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The writing end of a streamed body. Every wait ends when the client goes away, the fake
/// is dropped, or [`STREAM_LIMIT`] has passed since the stream began.
pub struct Sse {
    tx: mpsc::Sender<Bytes>,
    cancel: CancellationToken,
    deadline: Instant,
}

impl Sse {
    /// Sends raw bytes; `None` once the stream must end.
    pub async fn send(&self, bytes: impl Into<Bytes>) -> Option<()> {
        tokio::select! {
            sent = self.tx.send(bytes.into()) => sent.ok(),
            _ = self.cancel.cancelled() => None,
            _ = tokio::time::sleep_until(self.deadline) => None,
        }
    }

    /// Sleeps `delay`; `None` if the stream must end first.
    pub async fn sleep(&self, delay: Duration) -> Option<()> {
        let wake = Instant::now() + delay;
        if wake >= self.deadline {
            self.hold().await;
            return None;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(wake) => Some(()),
            _ = self.tx.closed() => None,
            _ = self.cancel.cancelled() => None,
        }
    }

    /// Keeps the connection open without sending until the stream must end.
    pub async fn hold(&self) {
        tokio::select! {
            _ = self.tx.closed() => {}
            _ = self.cancel.cancelled() => {}
            _ = tokio::time::sleep_until(self.deadline) => {}
        }
    }
}

/// A JSON response; a status that is not a valid HTTP status becomes 500.
pub fn json_response(status: u16, body: &Value, headers: &[(&'static str, String)]) -> Response {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let map = response.headers_mut();
    map.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    for (name, value) in headers {
        set_header(&mut response, name, value);
    }
    response
}

/// Sets a header, skipping a value that is not a valid header value.
pub fn set_header(response: &mut Response, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(HeaderName::from_static(name), value);
    }
}

/// `prefix` followed by `len` random alphanumeric characters.
pub fn random_id(prefix: &str, len: usize) -> String {
    let tail: String = rand::rng().sample_iter(Alphanumeric).take(len).map(char::from).collect();
    format!("{prefix}{tail}")
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The text of the last `user` message in a request body: its `content` string, or its
/// `{"type":"text","text":...}` blocks joined. Empty when there is none.
pub fn last_user_text(body: &Value) -> String {
    let messages = body["messages"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    let Some(message) = messages.iter().rev().find(|m| m["role"] == "user") else {
        return String::new();
    };
    match &message["content"] {
        Value::String(text) => text.clone(),
        Value::Array(blocks) => {
            blocks.iter().filter(|b| b["type"] == "text").filter_map(|b| b["text"].as_str()).collect()
        }
        _ => String::new(),
    }
}

/// Splits `text` into word-sized chunks, each keeping its trailing space, so that the
/// chunks concatenate back to `text`.
pub fn word_chunks(text: &str) -> Vec<String> {
    text.split_inclusive(' ').map(str::to_owned).collect()
}
