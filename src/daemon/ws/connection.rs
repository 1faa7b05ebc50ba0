//! One WebSocket connection: challenge, handshake, then a loop over client frames, broadcast
//! events, ticks and shutdown. Frames go out through the connection's bounded outbox.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use futures_util::StreamExt;
use futures_util::stream::SplitStream;
use tokio_util::sync::CancellationToken;

use super::cumulative::Cumulative;
use super::follow::{Followed, Follows};
use super::handshake::{self, Authorized};
use super::outbox::{self, Outbox};
use super::{admission, methods};
use crate::core::frames::{self, CAP_CHAT_DELTA_TEXT, ErrorShape, FrameError, Request};
use crate::core::protocol::agent::TOOL_EVENTS_CAP;
use crate::core::protocol::events::{self, Challenge, Shutdown, Tick};
use crate::core::scopes::Scope;
use crate::core::time::now_ms;
use crate::daemon::events::{RunBroadcast, RunEvent};
use crate::daemon::state::{Gateway, Peer};

/// The close code for a client too slow for its events (as OpenClaw closes a slow consumer).
const CLOSE_TOO_SLOW: u16 = 1008;

pub(super) type Incoming = SplitStream<WebSocket>;

pub async fn run(gateway: Arc<Gateway>, socket: WebSocket, peer: Peer, cookie: bool) {
    let (sink, incoming) = socket.split();
    let (outbox, writer) =
        outbox::channel(sink, gateway.settings.max_buffered_bytes, Arc::clone(&gateway.queue_budget));
    // The session drops its outbox when it ends; the writer then sends what is left and stops.
    tokio::join!(session(gateway, incoming, outbox, peer, cookie), writer.run());
}

async fn session(gateway: Arc<Gateway>, mut incoming: Incoming, outbox: Outbox, peer: Peer, cookie: bool) {
    let conn_id = uuid::Uuid::new_v4().to_string();
    let nonce = uuid::Uuid::new_v4().to_string();
    let challenge = Challenge { nonce: nonce.clone(), ts: now_ms() };
    let _ = outbox.push(frames::event_frame(events::CONNECT_CHALLENGE, &encode(&challenge), None));
    let Some((request_id, authorized)) =
        admission::handshake(&gateway, &mut incoming, &outbox, peer, cookie, &nonce).await
    else {
        return;
    };
    // The feeds of the scopes this connection holds, from before `hello-ok`; the session list's
    // (`operator.read`) only on `sessions.subscribe`.
    let mut follows = Follows::default();
    for scope in [Scope::Pairing, Scope::Admin, Scope::Approvals] {
        follows.listen(&gateway.events, scope, authorized.grants.allows(scope));
    }
    let Some(registration) = admission::register(&gateway, &authorized, peer, &outbox, &request_id).await else {
        return;
    };
    let revoked = registration.as_ref().map(|guard| guard.revoked.clone()).unwrap_or_default();
    let hello = methods::hello(&gateway, &authorized, &conn_id).await;
    let _ = outbox.push(frames::ok_response(&request_id, &hello));
    tracing::debug!(
        conn = %conn_id,
        client = %authorized.client.id,
        version = %authorized.client.version,
        name = authorized.client.display_name.as_deref().unwrap_or("-"),
        device = authorized.device.as_ref().map_or("-", |device| device.id.as_str()),
        auth = authorized.auth_method,
        "client connected"
    );
    // Clients that append `deltaText` themselves get deltas as the bus carries them.
    let cumulative = (!authorized.caps.iter().any(|cap| cap == CAP_CHAT_DELTA_TEXT)).then(Cumulative::default);
    let tool_events = authorized.caps.iter().any(|cap| cap == TOOL_EVENTS_CAP);
    let mut connected = Connected {
        address: peer.address.to_string(),
        gateway: Arc::clone(&gateway),
        authorized,
        outbox,
        frames: EventFrames { seq: 0, cumulative, tool_events },
        follows,
        conn_id,
    };
    connected.serve(incoming, revoked).await;
    tracing::debug!(conn = %connected.conn_id, "client disconnected");
    drop(registration);
}

/// What a step of the loop asks for.
enum Flow {
    Continue,
    /// A frame to queue for the client.
    Send(String),
    Stop,
}

/// A connection past its handshake.
struct Connected {
    gateway: Arc<Gateway>,
    authorized: Authorized,
    address: String,
    outbox: Outbox,
    frames: EventFrames,
    follows: Follows,
    conn_id: String,
}

impl Connected {
    /// Requests, gateway-wide and followed events and ticks until the client leaves, the
    /// device is revoked or its token expires, the client falls behind, or the gateway stops.
    async fn serve(&mut self, mut incoming: Incoming, revoked: CancellationToken) {
        let expired = expiry(self.authorized.device_token.as_ref().map(|(_, expires_ms)| *expires_ms));
        tokio::pin!(expired);
        let every = self.gateway.settings.tick_interval;
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            let flow = tokio::select! {
                frame = incoming.next() => self.on_frame(frame).await,
                followed = self.follows.next() => self.on_followed(followed),
                _ = tick.tick() => Flow::Send(self.frames.event(events::TICK, &encode(&Tick { ts: now_ms() }))),
                () = self.outbox.closed() => Flow::Stop,
                () = revoked.cancelled() => {
                    self.outbox.close(handshake::CLOSE_POLICY, "device revoked by an operator");
                    Flow::Stop
                }
                () = &mut expired => {
                    self.outbox.close(handshake::CLOSE_POLICY, "device token expired; connect with the gateway token");
                    Flow::Stop
                }
                () = self.gateway.close_connections.cancelled() => {
                    self.on_stop();
                    Flow::Stop
                }
            };
            match flow {
                Flow::Continue => {}
                Flow::Stop => return,
                Flow::Send(frame) => {
                    if let Err(too_slow) = self.outbox.push(frame) {
                        tracing::warn!(conn = %self.conn_id, queued = too_slow.queued, "client too slow for its events; closing");
                        self.outbox.abort(CLOSE_TOO_SLOW, &too_slow.to_string());
                        return;
                    }
                }
            }
        }
    }

    /// A frame from the client: a request is answered; anything else that is not a ping ends
    /// the connection with the close code OpenClaw uses for it.
    async fn on_frame(&mut self, frame: Option<Result<Message, axum::Error>>) -> Flow {
        let text = match frame {
            None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return Flow::Stop,
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Binary(_))) => {
                self.outbox.close(1003, "binary frames are not supported");
                return Flow::Stop;
            }
            Some(Ok(_)) => return Flow::Continue,
        };
        match Request::parse(text.as_str()) {
            Ok(request) => {
                let id = request.id.clone();
                let answer =
                    methods::dispatch(&self.gateway, &self.authorized, &self.address, &mut self.follows, request).await;
                Flow::Send(match answer {
                    Ok(payload) => frames::ok_response(&id, &payload),
                    Err(error) => frames::error_response(&id, &error),
                })
            }
            Err(FrameError::Invalid { id: Some(id), message }) => {
                Flow::Send(frames::error_response(&id, &ErrorShape::invalid(message)))
            }
            Err(FrameError::Invalid { id: None, message }) => {
                self.outbox.close(1008, &message);
                Flow::Stop
            }
            Err(FrameError::NotJson) => {
                self.outbox.close(1003, "invalid frame: not JSON");
                Flow::Stop
            }
        }
    }

    fn on_followed(&mut self, followed: Followed) -> Flow {
        match followed {
            Followed::Run(run) => self.frames.run(&run).map_or(Flow::Continue, Flow::Send),
            Followed::Event(event) => Flow::Send(self.frames.event(event.event, &event.payload)),
            Followed::Missed(missed) => self.too_slow(missed, "its events"),
        }
    }

    fn too_slow(&self, missed: u64, what: &str) -> Flow {
        tracing::warn!(conn = %self.conn_id, missed, "client too slow for {what}; closing");
        self.outbox.abort(CLOSE_TOO_SLOW, &format!("client too slow: {missed} events missed"));
        Flow::Stop
    }

    /// The gateway stops: events published before the stop (the aborted runs' last words) go
    /// out first, then `shutdown`, then close 1012.
    fn on_stop(&mut self) {
        for followed in self.follows.ready() {
            if let Flow::Send(frame) = self.on_followed(followed) {
                let _ = self.outbox.push(frame);
            }
        }
        let shutdown = match self.gateway.stop_reason() {
            Some(reason) => Shutdown { reason, restart_expected_ms: None },
            None => Shutdown { reason: "gateway stopping".into(), restart_expected_ms: Some(5000) },
        };
        let _ = self.outbox.push(self.frames.event(events::SHUTDOWN, &encode(&shutdown)));
        self.outbox.close(1012, "gateway restarting");
    }
}

/// A connection signed in with a device token lasts no longer than the token.
async fn expiry(expires_ms: Option<i64>) {
    let Some(expires_ms) = expires_ms else { return std::future::pending().await };
    let left = u64::try_from(expires_ms.saturating_sub(now_ms())).unwrap_or(0);
    tokio::time::sleep(Duration::from_millis(left)).await;
}

/// Event frames of one connection: its `seq`, and the cumulative chat text its client needs.
struct EventFrames {
    seq: u64,
    cumulative: Option<Cumulative>,
    /// The client declared `tool-events`: it hears `agent` tool events.
    tool_events: bool,
}

impl EventFrames {
    fn event(&mut self, name: &str, payload: &str) -> String {
        self.seq += 1;
        frames::event_frame(name, payload, Some(self.seq))
    }

    /// A run's event as this connection's client takes it; `None` for tool activity the
    /// client did not ask for.
    fn run(&mut self, run: &RunBroadcast) -> Option<String> {
        match (&run.event, self.cumulative.as_mut()) {
            (RunEvent::Chat(chat), Some(cumulative)) => {
                let payload = cumulative.payload(chat, &run.payload);
                self.seq += 1;
                Some(frames::event_frame(events::CHAT, &payload, Some(self.seq)))
            }
            (RunEvent::Chat(_), None) => Some(self.event(events::CHAT, &run.payload)),
            (RunEvent::Tool(_), _) if self.tool_events => Some(self.event(events::AGENT, &run.payload)),
            (RunEvent::Tool(_), _) => None,
        }
    }
}

/// An event's payload as JSON text.
pub(super) fn encode(payload: &impl serde::Serialize) -> String {
    serde_json::to_string(payload).unwrap_or_else(|_| "{}".into())
}
