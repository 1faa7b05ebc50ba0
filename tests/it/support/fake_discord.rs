//! Owns `FakeDiscord`: a local fake of Discord's REST API (`GET /gateway/bot`, create and edit
//! message, typing, `X-RateLimit-*` bucket headers, 429 bodies with `retry_after`) and of the
//! Gateway v10 WebSocket (hello, identify → READY, resume → RESUMED, heartbeat ACKs that can
//! be withheld, MESSAGE_CREATE dispatches, op 7, op 9, dropped connections, close codes).
//! REST calls are the server's record of the requests under `/api/v10/`; gateway frames are
//! recorded here.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Extension, Router};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::fake_server::{FakeServer, Journal, RecordedRequest};

pub const TOKEN: &str = "discord-test-token.abc.def";
pub const BOT_ID: &str = "900000000000000001";
/// The heartbeat interval of [`super::Pace::TEST`].
pub const HEARTBEAT_MS: u64 = 300;

#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub authorization: String,
    pub body: Value,
    pub at: Instant,
}

/// What the gateway fake tells the live connection to do.
enum Command {
    Dispatch(&'static str, Value),
    Raw(Value),
    Close(u16),
    Drop,
}

#[derive(Default)]
struct Inner {
    /// Every frame molt sent on any gateway connection, in order.
    frames: Vec<Value>,
    messages: Vec<(String, String, String)>,
    next_id: u64,
    failures: VecDeque<(String, f64)>,
    bucket_remaining: Option<u64>,
    socket: Option<mpsc::UnboundedSender<Command>>,
}

struct Shared {
    inner: Mutex<Inner>,
    journal: Arc<Journal>,
    addr: SocketAddr,
    /// Cancelled when the fake is dropped: its gateway connections end.
    stop: CancellationToken,
    connections: AtomicU64,
    withhold_acks: AtomicBool,
    seq: AtomicU64,
    pace: super::Pace,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

pub struct FakeDiscord {
    server: FakeServer,
    shared: Arc<Shared>,
}

impl FakeDiscord {
    pub async fn start() -> FakeDiscord {
        FakeDiscord::start_paced(super::Pace::TEST).await
    }

    /// A fake with `pace`'s heartbeat interval and socket lifetime.
    pub async fn start_paced(pace: super::Pace) -> FakeDiscord {
        let bound = FakeServer::bind().await;
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner { next_id: 1_000, ..Inner::default() }),
            journal: bound.journal(),
            addr: bound.addr(),
            stop: bound.stopping(),
            connections: AtomicU64::new(0),
            withhold_acks: AtomicBool::new(false),
            seq: AtomicU64::new(0),
            pace,
        });
        let router = Router::new()
            .route("/api/v10/gateway/bot", get(rest))
            .route("/api/v10/channels/{channel}/messages", post(rest))
            .route("/api/v10/channels/{channel}/messages/{id}", patch(rest))
            .route("/api/v10/channels/{channel}/typing", post(rest))
            .route("/gateway", get(gateway))
            .route("/resume", get(gateway))
            .with_state(Arc::clone(&shared));
        FakeDiscord { server: bound.serve(router), shared }
    }

    /// What `MOLT_DISCORD_API_URL` is set to.
    pub fn api_url(&self) -> String {
        format!("{}/api/v10", self.server.base_url())
    }

    /// Dispatches MESSAGE_CREATE: a DM when `guild` is `None`.
    pub fn message(&self, channel: &str, guild: Option<&str>, author: &str, content: &str, mention_bot: bool) -> Value {
        let id = {
            let mut inner = self.shared.lock();
            inner.next_id += 1;
            inner.next_id.to_string()
        };
        let mentions = if mention_bot { json!([{"id": BOT_ID, "username": "molt", "bot": true}]) } else { json!([]) };
        let mut message = json!({"id": id, "channel_id": channel, "author": {"id": author, "username": format!("user{author}")},
            "content": content, "mentions": mentions, "timestamp": "2026-01-01T00:00:00.000000+00:00", "type": 0});
        if let Some(guild) = guild {
            message["guild_id"] = json!(guild);
        }
        self.command(Command::Dispatch("MESSAGE_CREATE", message.clone()));
        message
    }

    /// Sends the same MESSAGE_CREATE again (as a replay after a resume does).
    pub fn replay(&self, message: &Value) {
        self.command(Command::Dispatch("MESSAGE_CREATE", message.clone()));
    }

    pub fn op7_reconnect(&self) {
        self.command(Command::Raw(json!({"op": 7, "d": null})));
    }

    pub fn op9_invalid_session(&self, resumable: bool) {
        self.command(Command::Raw(json!({"op": 9, "d": resumable})));
    }

    pub fn close(&self, code: u16) {
        self.command(Command::Close(code));
    }

    /// Drops the TCP connection without a close frame.
    pub fn drop_connection(&self) {
        self.command(Command::Drop);
    }

    pub fn withhold_acks(&self, withhold: bool) {
        self.shared.withhold_acks.store(withhold, Ordering::SeqCst);
    }

    /// The next create-message calls answer 429 with this `retry_after` (seconds).
    pub fn rate_limit_next(&self, count: usize, retry_after: f64) {
        let mut inner = self.shared.lock();
        for _ in 0..count {
            inner.failures.push_back(("POST".into(), retry_after));
        }
    }

    /// The next answers report this many requests left in the bucket (then it resets in 1 s).
    pub fn bucket_remaining(&self, remaining: u64) {
        self.shared.lock().bucket_remaining = Some(remaining);
    }

    fn command(&self, command: Command) {
        if let Some(socket) = &self.shared.lock().socket {
            let _ = socket.send(command);
        }
    }

    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::SeqCst)
    }

    pub fn frames(&self) -> Vec<Value> {
        self.shared.lock().frames.clone()
    }

    /// Every REST call, in order (the gateway's WebSocket upgrades are not calls).
    pub fn calls(&self) -> Vec<Call> {
        let requests = self.server.requests().into_iter().filter(|request| request.path.starts_with("/api/v10/"));
        let calls = requests.map(|request| Call {
            authorization: request.header("authorization").unwrap_or_default().to_owned(),
            method: request.method,
            path: request.path,
            body: request.body,
            at: Instant::from_std(request.at),
        });
        calls.collect()
    }

    /// Messages in `channel`, as last edited.
    pub fn shown(&self, channel: &str) -> Vec<String> {
        self.shared.lock().messages.iter().filter(|(id, _, _)| id == channel).map(|(_, _, text)| text.clone()).collect()
    }

    /// Waits (10 s at most) until `check` holds.
    pub async fn wait_until(&self, what: &str, check: impl Fn(&FakeDiscord) -> bool) {
        if !self.server.wait_until(Duration::from_secs(10), || check(self)).await {
            let frames: Vec<Value> = self
                .frames()
                .into_iter()
                .map(|mut frame| {
                    // Identify and Resume carry the token; a heartbeat's `d` is a number.
                    if let Some(data) = frame["d"].as_object_mut() {
                        data.remove("token");
                    }
                    frame
                })
                .collect();
            panic!(
                "discord fake: timed out waiting for {what}; frames: {frames:?}; calls: {:?}",
                self.calls().iter().map(|c| (&c.method, &c.path, &c.body)).collect::<Vec<_>>()
            );
        }
    }
}

/// Answers one REST call; the server wakes the waiters once it is applied.
async fn rest(State(shared): State<Arc<Shared>>, Extension(request): Extension<RecordedRequest>) -> Response {
    let RecordedRequest { method, path, body, .. } = &request;
    let method = method.as_str();
    let mut inner = shared.lock();
    if request.header("authorization") != Some(format!("Bot {TOKEN}").as_str()) {
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({"message": "401: Unauthorized", "code": 0})))
            .into_response();
    }
    let rest = path.trim_start_matches("/api/v10");
    if method == "POST" && rest.ends_with("/messages") && inner.failures.front().is_some_and(|(m, _)| m == method) {
        let (_, retry_after) = inner.failures.pop_front().unwrap_or_default();
        let mut response = (
            StatusCode::TOO_MANY_REQUESTS,
            axum::Json(json!({"message": "You are being rate limited.", "retry_after": retry_after, "global": false})),
        )
            .into_response();
        let headers = response.headers_mut();
        headers.insert("retry-after", (retry_after.ceil() as u64).to_string().parse().unwrap());
        headers.insert("x-ratelimit-scope", "user".parse().unwrap());
        return response;
    }
    let mut response = if rest == "/gateway/bot" {
        let addr = shared.addr;
        axum::Json(json!({"url": format!("ws://{addr}/gateway"), "shards": 1, "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 14_400_000, "max_concurrency": 1}})).into_response()
    } else if rest.ends_with("/typing") {
        StatusCode::NO_CONTENT.into_response()
    } else {
        let parts: Vec<&str> = rest.split('/').collect();
        let channel = parts.get(2).copied().unwrap_or_default().to_owned();
        let content = body["content"].as_str().unwrap_or_default().to_owned();
        if method == "POST" {
            inner.next_id += 1;
            let id = inner.next_id.to_string();
            inner.messages.push((channel.clone(), id.clone(), content.clone()));
            axum::Json(
                json!({"id": id, "channel_id": channel, "content": content, "author": {"id": BOT_ID, "bot": true}}),
            )
            .into_response()
        } else {
            let id = parts.get(4).copied().unwrap_or_default().to_owned();
            match inner.messages.iter_mut().find(|(c, m, _)| *c == channel && *m == id) {
                Some(entry) => {
                    entry.2.clone_from(&content);
                    axum::Json(json!({"id": id, "channel_id": channel, "content": content})).into_response()
                }
                None => (StatusCode::NOT_FOUND, axum::Json(json!({"message": "Unknown Message", "code": 10008})))
                    .into_response(),
            }
        }
    };
    let remaining = inner.bucket_remaining.take().unwrap_or(4);
    let headers = response.headers_mut();
    headers.insert("x-ratelimit-limit", "5".parse().unwrap());
    headers.insert("x-ratelimit-remaining", remaining.to_string().parse().unwrap());
    headers.insert("x-ratelimit-reset-after", "1.000".parse().unwrap());
    headers.insert("x-ratelimit-bucket", "abcd1234".parse().unwrap());
    response
}

async fn gateway(State(shared): State<Arc<Shared>>, upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(move |socket| serve_gateway(shared, socket))
}

fn record(shared: &Shared, frame: Value) {
    shared.lock().frames.push(frame);
    shared.journal.notify();
}

async fn serve_gateway(shared: Arc<Shared>, mut socket: WebSocket) {
    let (sender, mut commands) = mpsc::unbounded_channel();
    shared.lock().socket = Some(sender);
    shared.connections.fetch_add(1, Ordering::SeqCst);
    let text = |value: Value| Message::Text(value.to_string().into());
    let _ = socket
        .send(text(json!({"op": 10, "d": {"heartbeat_interval": shared.pace.heartbeat_ms}, "s": null, "t": null})))
        .await;
    let deadline = Instant::now() + shared.pace.socket_lifetime;
    loop {
        tokio::select! {
            frame = socket.recv() => {
                let Some(Ok(Message::Text(raw))) = frame else { break };
                let Ok(frame) = serde_json::from_str::<Value>(&raw) else { continue };
                record(&shared, frame.clone());
                match frame["op"].as_u64() {
                    Some(1) if !shared.withhold_acks.load(Ordering::SeqCst) => { let _ = socket.send(text(json!({"op": 11, "d": null}))).await; }
                    Some(2) => {
                        let addr = shared.addr;
                        let seq = shared.seq.fetch_add(1, Ordering::SeqCst) + 1;
                        let ready = json!({"v": 10, "user": {"id": BOT_ID, "username": "molt", "bot": true}, "guilds": [], "session_id": format!("session-{seq}"), "resume_gateway_url": format!("ws://{addr}/resume"), "application": {"id": "1"}});
                        let _ = socket.send(text(json!({"op": 0, "s": seq, "t": "READY", "d": ready}))).await;
                    }
                    Some(6) => {
                        let seq = shared.seq.fetch_add(1, Ordering::SeqCst) + 1;
                        let _ = socket.send(text(json!({"op": 0, "s": seq, "t": "RESUMED", "d": null}))).await;
                    }
                    _ => {}
                }
            }
            command = commands.recv() => match command {
                Some(Command::Dispatch(name, data)) => {
                    let seq = shared.seq.fetch_add(1, Ordering::SeqCst) + 1;
                    let _ = socket.send(text(json!({"op": 0, "s": seq, "t": name, "d": data}))).await;
                }
                Some(Command::Raw(value)) => { let _ = socket.send(text(value)).await; }
                Some(Command::Close(code)) => {
                    let _ = socket.send(Message::Close(Some(CloseFrame { code, reason: "closed by the fake".into() }))).await;
                    break;
                }
                Some(Command::Drop) | None => break,
            },
            () = tokio::time::sleep_until(deadline) => break,
            () = shared.stop.cancelled() => break,
        }
    }
    shared.journal.notify();
}
