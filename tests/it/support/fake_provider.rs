//! Owns what the fake model providers (`fake_anthropic`, `fake_openai`) share beyond the
//! server base: the scripted-reply queue, the API key a fake requires, bounded SSE bodies
//! and a count of the streams still open, and what the default echo reply is made from.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Longest time any streamed reply may last (`Slow`, `Stall`), whatever the client does.
pub const STREAM_LIMIT: Duration = Duration::from_secs(60);

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

/// A fake provider's script, shared by its handle and its handlers; `R` is its reply type.
pub struct Script<R> {
    replies: Mutex<VecDeque<R>>,
    active: Arc<AtomicUsize>,
    /// The server's stop: every stream ends with it.
    stop: CancellationToken,
    key: Option<String>,
}

impl<R: Send + 'static> Script<R> {
    pub fn new(key: Option<String>, stop: CancellationToken) -> Script<R> {
        Script { replies: Mutex::new(VecDeque::new()), active: Arc::new(AtomicUsize::new(0)), stop, key }
    }

    fn replies(&self) -> MutexGuard<'_, VecDeque<R>> {
        self.replies.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The API key the fake requires, if it was started with one.
    pub fn expected_key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    pub fn push(&self, reply: R) {
        self.replies().push_back(reply);
    }

    pub fn next_reply(&self) -> Option<R> {
        self.replies().pop_front()
    }

    /// How many streamed replies are still being produced (a `Stall` or `Slow` reply whose
    /// client has not gone away yet, or a reply still being written).
    pub fn active_streams(&self) -> usize {
        self.active.load(Ordering::SeqCst)
    }

    /// A 200 `text/event-stream` response whose body `produce` writes through an [`Sse`].
    pub fn sse<F, Fut>(&self, produce: F) -> Response
    where
        F: FnOnce(Sse) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel::<Bytes>(16);
        let sse = Sse { tx, cancel: self.stop.clone(), deadline: Instant::now() + STREAM_LIMIT };
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

/// Counts a running stream producer for [`Script::active_streams`].
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
