//! Owns `FakeSlack`: a local fake of Slack's Web API (`auth.test`, `apps.connections.open`,
//! `chat.postMessage`, `chat.update`, `{"ok":false,"error"}` bodies, 429 with `Retry-After`)
//! and of the Socket Mode WebSocket (hello, `events_api` envelopes, retries, `disconnect`, and
//! a deaf mode that stops answering pings). Web API calls are the server's record of the
//! requests under `/api/`; acks are recorded here.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::fake_server::{FakeServer, Journal, RecordedRequest};

pub const BOT_TOKEN: &str = "xoxb-slack-test-token";
pub const APP_TOKEN: &str = "xapp-1-slack-test-token";
pub const BOT_USER: &str = "UBOT";

#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub authorization: String,
    pub body: Value,
    pub at: Instant,
}

#[derive(Default)]
struct Inner {
    acks: Vec<String>,
    next_ts: u64,
    next_envelope: u64,
    /// Message texts by (channel, ts), as last updated.
    texts: Vec<((String, String), String, Option<String>)>,
    failures: HashMap<String, VecDeque<(u16, String, Option<u64>)>>,
    socket: Option<mpsc::UnboundedSender<String>>,
}

struct Shared {
    inner: Mutex<Inner>,
    journal: Arc<Journal>,
    addr: SocketAddr,
    /// Cancelled when the fake is dropped: its sockets end.
    stop: CancellationToken,
    connections: AtomicUsize,
    live: AtomicUsize,
    deaf: AtomicBool,
    pace: super::Pace,
}

pub struct FakeSlack {
    server: FakeServer,
    shared: Arc<Shared>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl FakeSlack {
    pub async fn start() -> FakeSlack {
        FakeSlack::start_paced(super::Pace::TEST).await
    }

    /// A fake that keeps each Socket Mode socket for `pace.socket_lifetime`.
    pub async fn start_paced(pace: super::Pace) -> FakeSlack {
        let bound = FakeServer::bind().await;
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner { next_ts: 1, ..Inner::default() }),
            journal: bound.journal(),
            addr: bound.addr(),
            stop: bound.stopping(),
            connections: AtomicUsize::new(0),
            live: AtomicUsize::new(0),
            deaf: AtomicBool::new(false),
            pace,
        });
        let router = Router::new()
            .route("/api/{method}", post(web_api))
            .route("/link", get(link))
            .with_state(Arc::clone(&shared));
        FakeSlack { server: bound.serve(router), shared }
    }

    /// What `MOLT_SLACK_API_URL` is set to.
    pub fn api_url(&self) -> String {
        format!("{}/api", self.server.base_url())
    }

    /// An `event_callback` for a message from `user` in `channel` (`D…` is a DM).
    pub fn callback(&self, channel: &str, user: &str, text: &str) -> Value {
        let mut inner = self.shared.lock();
        inner.next_envelope += 1;
        let ts = format!("1700000100.{:06}", inner.next_envelope);
        let channel_type = if channel.starts_with('D') { "im" } else { "channel" };
        json!({
            "token": "verification-token", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
            "event_id": format!("Ev{:08}", inner.next_envelope), "event_time": 1_700_000_100,
            "event": {"type": "message", "channel": channel, "channel_type": channel_type, "user": user, "text": text, "ts": ts, "event_ts": ts},
        })
    }

    /// Sends `callback` on the live socket as an `events_api` envelope; returns its id.
    pub fn deliver(&self, callback: &Value, retry_attempt: u32) -> String {
        let mut inner = self.shared.lock();
        inner.next_envelope += 1;
        let id = format!("env-{}", inner.next_envelope);
        let envelope = json!({
            "envelope_id": id, "type": "events_api", "payload": callback, "accepts_response_payload": false,
            "retry_attempt": retry_attempt, "retry_reason": if retry_attempt > 0 { "timeout" } else { "" },
        });
        inner.socket.as_ref().expect("no live socket").send(envelope.to_string()).unwrap();
        id
    }

    /// Asks molt to reconnect, as Slack does before it recycles a socket.
    pub fn disconnect(&self) {
        let message = json!({"type": "disconnect", "reason": "refresh_requested", "debug_info": {"host": "fake"}});
        if let Some(socket) = &self.shared.lock().socket {
            let _ = socket.send(message.to_string());
        }
    }

    /// The live socket stops reading: no acks recorded, no pongs.
    pub fn go_deaf(&self) {
        self.shared.deaf.store(true, Ordering::SeqCst);
    }

    pub fn fail(&self, method: &str, count: usize, status: u16, error: &str, retry_after: Option<u64>) {
        let mut inner = self.shared.lock();
        let queue = inner.failures.entry(method.to_owned()).or_default();
        for _ in 0..count {
            queue.push_back((status, error.to_owned(), retry_after));
        }
    }

    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    pub fn live_sockets(&self) -> usize {
        self.shared.live.load(Ordering::SeqCst)
    }

    /// Every Web API call, in order (the Socket Mode upgrades are not calls).
    pub fn calls(&self) -> Vec<Call> {
        let calls = self.server.requests().into_iter().filter_map(|request| {
            let method = request.path.strip_prefix("/api/").filter(|_| request.method == "POST")?.to_owned();
            let authorization = request.header("authorization").unwrap_or_default().to_owned();
            Some(Call { method, authorization, body: request.body, at: Instant::from_std(request.at) })
        });
        calls.collect()
    }

    pub fn calls_of(&self, method: &str) -> Vec<Call> {
        self.calls().into_iter().filter(|call| call.method == method).collect()
    }

    pub fn acks(&self) -> Vec<String> {
        self.shared.lock().acks.clone()
    }

    /// Messages in `channel`: (text as last updated, thread_ts).
    pub fn shown(&self, channel: &str) -> Vec<(String, Option<String>)> {
        self.shared
            .lock()
            .texts
            .iter()
            .filter(|((id, _), _, _)| id == channel)
            .map(|(_, text, thread)| (text.clone(), thread.clone()))
            .collect()
    }

    /// Waits (10 s at most) until `check` holds.
    pub async fn wait_until(&self, what: &str, check: impl Fn(&FakeSlack) -> bool) {
        if !self.server.wait_until(Duration::from_secs(10), || check(self)).await {
            panic!(
                "slack fake: timed out waiting for {what}; calls: {:#?}",
                self.calls().iter().map(|c| (&c.method, &c.body)).collect::<Vec<_>>()
            );
        }
    }
}

fn answer(status: u16, body: Value, retry_after: Option<u64>) -> Response {
    let mut response = (StatusCode::from_u16(status).unwrap_or(StatusCode::OK), axum::Json(body)).into_response();
    if let Some(seconds) = retry_after {
        response.headers_mut().insert("retry-after", seconds.to_string().parse().unwrap());
    }
    response
}

/// Answers one Web API call; the server wakes the waiters once it is applied.
async fn web_api(
    State(shared): State<Arc<Shared>>,
    Path(method): Path<String>,
    Extension(request): Extension<RecordedRequest>,
) -> Response {
    let body = &request.body;
    let failure = shared.lock().failures.get_mut(&method).and_then(VecDeque::pop_front);
    if let Some((status, error, retry_after)) = failure {
        return answer(status, json!({"ok": false, "error": error}), retry_after);
    }
    let expected = if method == "apps.connections.open" { APP_TOKEN } else { BOT_TOKEN };
    if request.header("authorization") != Some(format!("Bearer {expected}").as_str()) {
        return answer(200, json!({"ok": false, "error": "invalid_auth"}), None);
    }
    let mut inner = shared.lock();
    match method.as_str() {
        "auth.test" => answer(
            200,
            json!({"ok": true, "url": "https://fake.slack.com/", "team": "Fake", "user": "molt", "team_id": "T1", "user_id": BOT_USER, "bot_id": "B1"}),
            None,
        ),
        "apps.connections.open" => {
            let addr = shared.addr;
            answer(200, json!({"ok": true, "url": format!("ws://{addr}/link?ticket={}", inner.next_ts)}), None)
        }
        "chat.postMessage" => {
            inner.next_ts += 1;
            let ts = format!("1700000200.{:06}", inner.next_ts);
            let channel = body["channel"].as_str().unwrap_or_default().to_owned();
            let text = body["text"].as_str().unwrap_or_default().to_owned();
            let thread = body["thread_ts"].as_str().map(str::to_owned);
            inner.texts.push(((channel.clone(), ts.clone()), text.clone(), thread));
            answer(
                200,
                json!({"ok": true, "channel": channel, "ts": ts, "message": {"type": "message", "text": text, "user": BOT_USER, "ts": ts}}),
                None,
            )
        }
        "chat.update" => {
            let key = (
                body["channel"].as_str().unwrap_or_default().to_owned(),
                body["ts"].as_str().unwrap_or_default().to_owned(),
            );
            let text = body["text"].as_str().unwrap_or_default().to_owned();
            match inner.texts.iter_mut().find(|(id, _, _)| *id == key) {
                Some(entry) => {
                    entry.1.clone_from(&text);
                    answer(200, json!({"ok": true, "channel": key.0, "ts": key.1, "text": text}), None)
                }
                None => answer(200, json!({"ok": false, "error": "message_not_found"}), None),
            }
        }
        _ => answer(200, json!({"ok": false, "error": "unknown_method"}), None),
    }
}

async fn link(State(shared): State<Arc<Shared>>, upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(move |socket| serve_socket(shared, socket))
}

async fn serve_socket(shared: Arc<Shared>, mut socket: WebSocket) {
    let (sender, mut outgoing) = mpsc::unbounded_channel::<String>();
    shared.lock().socket = Some(sender);
    shared.deaf.store(false, Ordering::SeqCst);
    shared.connections.fetch_add(1, Ordering::SeqCst);
    shared.live.fetch_add(1, Ordering::SeqCst);
    shared.journal.notify();
    let hello = json!({"type": "hello", "num_connections": 1, "debug_info": {"host": "fake", "approximate_connection_time": 18060}, "connection_info": {"app_id": "A1"}});
    let _ = socket.send(Message::Text(hello.to_string().into())).await;
    let deadline = Instant::now() + shared.pace.socket_lifetime;
    loop {
        if shared.deaf.load(Ordering::SeqCst) {
            // Hold the socket without reading it until molt gives up on it (or the lifetime ends).
            let forward = async {
                while let Some(text) = outgoing.recv().await {
                    let _ = socket.send(Message::Text(text.into())).await;
                }
            };
            tokio::select! {
                _ = tokio::time::timeout_at(deadline, forward) => {}
                () = shared.stop.cancelled() => {}
            }
            break;
        }
        tokio::select! {
            frame = socket.recv() => match frame {
                Some(Ok(Message::Text(text))) => {
                    if let Ok(ack) = serde_json::from_str::<Value>(&text) && let Some(id) = ack["envelope_id"].as_str() {
                        shared.lock().acks.push(id.to_owned());
                        shared.journal.notify();
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
            text = outgoing.recv() => match text {
                Some(text) => { let _ = socket.send(Message::Text(text.into())).await; }
                None => break,
            },
            () = tokio::time::sleep(Duration::from_millis(100)) => {}
            () = tokio::time::sleep_until(deadline) => break,
            () = shared.stop.cancelled() => break,
        }
    }
    shared.live.fetch_sub(1, Ordering::SeqCst);
    shared.journal.notify();
}
