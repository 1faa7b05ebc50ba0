//! One WebSocket connection: challenge, handshake, then a loop over client frames, broadcast
//! events, ticks and shutdown. Frames go out through the connection's bounded outbox.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use futures_util::StreamExt;
use futures_util::stream::SplitStream;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use tokio::sync::watch;

use super::cumulative::Cumulative;
use super::follow::{Followed, Follows};
use super::handshake::{self, Authorized, Decision, Refusal};
use super::outbox::{self, Outbox};
use super::{MAX_PREAUTH_PAYLOAD, methods};
use crate::core::frames::{self, ErrorShape, FrameError, Request};
use crate::core::frames::{CAP_CHAT_DELTA_TEXT, ErrorCode};
use crate::core::pairing::DEVICE_REQUEST_TTL;
use crate::core::protocol::events::{self, Challenge, PairPending, Shutdown, Tick};
use crate::core::scopes::Scope;
use crate::core::time::now_ms;
use crate::daemon::events::{Broadcast, ChatBroadcast};
use crate::daemon::pairing::{PendingDevice, Resolution};
use crate::daemon::state::{Gateway, Peer};

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The close code for a client too slow for its events (as OpenClaw closes a slow consumer).
const CLOSE_TOO_SLOW: u16 = 1008;

type Incoming = SplitStream<WebSocket>;

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
    let Some((request_id, authorized)) = handshake(&gateway, &mut incoming, &outbox, peer, cookie, &nonce).await else {
        return;
    };
    let mut events = gateway.events.subscribe();
    // Registered before hello-ok and checked after registering: a revocation that lands while
    // the handshake runs is never missed.
    let registration = match (gateway.core(), &authorized.device) {
        (Ok(core), Some(device)) => {
            if let Err(error) = core.store.touch_device(device.id.as_str(), &peer.address.to_string()).await {
                tracing::warn!(%error, "cannot record the device's last connect");
            }
            let token = authorized.device_token.as_ref().map(|(token, _)| token.expose());
            let Some(guard) = core.pairing.register_checked(device.id.as_str(), token).await else {
                let error = ErrorShape::new(ErrorCode::NotPaired, "device revoked by an operator during the handshake")
                    .with_details(json!({"code": "DEVICE_REVOKED"}));
                let _ = outbox.push(frames::error_response(&request_id, &error));
                outbox.close(handshake::CLOSE_POLICY, "device revoked by an operator");
                return;
            };
            Some(guard)
        }
        _ => None,
    };
    let address = peer.address.to_string();
    let revoked = registration.as_ref().map(|guard| guard.revoked.clone()).unwrap_or_default();
    // A connection signed in with a device token lasts no longer than the token.
    let expiry = authorized.device_token.as_ref().map(|(_, expires_ms)| {
        let left = u64::try_from(expires_ms.saturating_sub(now_ms())).unwrap_or(0);
        tokio::time::Instant::now() + Duration::from_millis(left)
    });
    let expired = async move {
        match expiry {
            Some(deadline) => tokio::time::sleep_until(deadline).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(expired);
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
    let mut frames = EventFrames { seq: 0, cumulative };
    let mut follows = Follows::default();
    let mut tick = tokio::time::interval_at(
        tokio::time::Instant::now() + gateway.settings.tick_interval,
        gateway.settings.tick_interval,
    );
    loop {
        let pushed = tokio::select! {
            incoming = incoming.next() => {
                let text = match incoming {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Binary(_))) => {
                        outbox.close(1003, "binary frames are not supported");
                        break;
                    }
                    Some(Ok(_)) => continue,
                };
                let reply = match Request::parse(text.as_str()) {
                    Ok(request) => {
                        let id = request.id.clone();
                        match methods::dispatch(&gateway, &authorized, &address, &mut follows, request).await {
                            Ok(payload) => frames::ok_response(&id, &payload),
                            Err(error) => frames::error_response(&id, &error),
                        }
                    }
                    Err(FrameError::Invalid { id: Some(id), message }) => frames::error_response(&id, &ErrorShape::invalid(message)),
                    Err(FrameError::Invalid { id: None, message }) => {
                        outbox.close(1008, &message);
                        break;
                    }
                    Err(FrameError::NotJson) => {
                        outbox.close(1003, "invalid frame: not JSON");
                        break;
                    }
                };
                outbox.push(reply)
            }
            event = events.recv() => match event {
                Ok(event) if wanted(&authorized, &follows, &event) => outbox.push(frames.event(event.event, &event.payload)),
                Ok(_) => Ok(()),
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(conn = %conn_id, missed, "client too slow for the event stream; closing");
                    outbox.abort(CLOSE_TOO_SLOW, &format!("client too slow: {missed} events missed"));
                    break;
                }
                Err(RecvError::Closed) => break,
            },
            followed = follows.next(), if authorized.grants.allows(Scope::Read) => match followed {
                Followed::Chat(chat) => outbox.push(frames.chat(&chat)),
                Followed::Missed(missed) => {
                    tracing::warn!(conn = %conn_id, missed, "client too slow for a session's events; closing");
                    outbox.abort(CLOSE_TOO_SLOW, &format!("client too slow: {missed} events missed"));
                    break;
                }
            },
            _ = tick.tick() => {
                outbox.push(frames.event(events::TICK, &encode(&Tick { ts: now_ms() })))
            }
            () = outbox.closed() => break,
            () = revoked.cancelled() => {
                outbox.close(handshake::CLOSE_POLICY, "device revoked by an operator");
                break;
            }
            () = &mut expired => {
                outbox.close(handshake::CLOSE_POLICY, "device token expired; connect with the gateway token");
                break;
            }
            () = gateway.close_connections.cancelled() => {
                // Events published before the stop (the aborted runs' last words) go out first.
                for chat in follows.ready() {
                    let _ = outbox.push(frames.chat(&chat));
                }
                while let Ok(event) = events.try_recv() {
                    if wanted(&authorized, &follows, &event) {
                        let _ = outbox.push(frames.event(event.event, &event.payload));
                    }
                }
                let shutdown = match gateway.stop_reason() {
                    Some(reason) => Shutdown { reason, restart_expected_ms: None },
                    None => Shutdown { reason: "gateway stopping".into(), restart_expected_ms: Some(5000) },
                };
                let _ = outbox.push(frames.event(events::SHUTDOWN, &encode(&shutdown)));
                outbox.close(1012, "gateway restarting");
                break;
            }
        };
        if let Err(too_slow) = pushed {
            tracing::warn!(conn = %conn_id, queued = too_slow.queued, "client too slow for its events; closing");
            outbox.abort(CLOSE_TOO_SLOW, &too_slow.to_string());
            break;
        }
    }
    tracing::debug!(conn = %conn_id, "client disconnected");
}

/// Event frames of one connection: its `seq`, and the cumulative chat text its client needs.
struct EventFrames {
    seq: u64,
    cumulative: Option<Cumulative>,
}

impl EventFrames {
    fn event(&mut self, name: &str, payload: &str) -> String {
        self.seq += 1;
        frames::event_frame(name, payload, Some(self.seq))
    }

    fn chat(&mut self, chat: &ChatBroadcast) -> String {
        match self.cumulative.as_mut() {
            Some(cumulative) => {
                let payload = cumulative.payload(chat);
                self.seq += 1;
                frames::event_frame(events::CHAT, &payload, Some(self.seq))
            }
            None => self.event(events::CHAT, &chat.payload),
        }
    }
}

/// Whether a gateway-wide event goes to this connection: its scopes allow it, and session list
/// changes only once it asked for them.
fn wanted(authorized: &Authorized, follows: &Follows, event: &Broadcast) -> bool {
    authorized.grants.allows(event.scope) && (event.event != events::SESSIONS_CHANGED || follows.session_list)
}

/// An event's payload as JSON text.
fn encode(payload: &impl serde::Serialize) -> String {
    serde_json::to_string(payload).unwrap_or_else(|_| "{}".into())
}

/// Reads the first frame and decides the connect; answers and closes on refusal.
async fn handshake(
    gateway: &Gateway,
    incoming: &mut Incoming,
    outbox: &Outbox,
    peer: Peer,
    cookie: bool,
    nonce: &str,
) -> Option<(String, Authorized)> {
    let first = tokio::time::timeout(HANDSHAKE_TIMEOUT, async {
        loop {
            match incoming.next().await {
                Some(Ok(Message::Text(text))) => return Some(text),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                _ => return None,
            }
        }
    })
    .await;
    let text = match first {
        Err(_) => {
            outbox.close(1008, "handshake timeout");
            return None;
        }
        Ok(None) => return None,
        Ok(Some(text)) => text,
    };
    if text.len() > MAX_PREAUTH_PAYLOAD {
        outbox.close(1009, "frame too large before the handshake");
        return None;
    }
    let request = match Request::parse(text.as_str()) {
        Ok(request) => request,
        Err(FrameError::NotJson) => {
            outbox.close(1000, "");
            return None;
        }
        Err(FrameError::Invalid { id, message }) => {
            if let Some(id) = id {
                let _ = outbox.push(frames::error_response(&id, &ErrorShape::invalid(message.clone())));
            }
            outbox.close(1008, &message);
            return None;
        }
    };
    let refuse = |error: ErrorShape, close_code| Refusal { error, close_code };
    let decided = if request.method != "connect" {
        Err(refuse(ErrorShape::invalid("invalid handshake: first request must be connect"), handshake::CLOSE_POLICY))
    } else {
        match handshake::parse(&request.params) {
            Ok(params) => handshake::authorize(gateway, peer, cookie, nonce, params).await,
            Err(error) => Err(refuse(error, handshake::CLOSE_POLICY)),
        }
    };
    let decided = match decided {
        Ok(Decision::Accept(authorized)) => Ok(authorized),
        Ok(Decision::Wait { accepted, request: pending, resolution }) => {
            wait_for_operator(gateway, incoming, outbox, *accepted, pending, resolution).await
        }
        Err(refusal) => Err(refusal),
    };
    match decided {
        Ok(authorized) => Some((request.id, authorized)),
        Err(refusal) => {
            tracing::info!(address = %peer.address, code = refusal.error.detail_code().unwrap_or("-"), "connect refused: {}", refusal.error.message);
            let _ = outbox.push(frames::error_response(&request.id, &refusal.error));
            outbox.close(refusal.close_code, &refusal.error.message);
            None
        }
    }
}

/// Holds a connect open until an operator answers its pairing request (or it expires, the
/// client leaves, or the gateway stops). The client learns the request id at once.
async fn wait_for_operator(
    gateway: &Gateway,
    incoming: &mut Incoming,
    outbox: &Outbox,
    mut accepted: Authorized,
    pending: PendingDevice,
    mut resolution: watch::Receiver<Option<Resolution>>,
) -> Result<Authorized, Refusal> {
    let notice = PairPending {
        request_id: pending.request_id.clone(),
        device_id: pending.device_id.clone(),
        expires_at_ms: pending.expires_at_ms,
    };
    let _ = outbox.push(frames::event_frame(events::DEVICE_PAIR_PENDING, &encode(&notice), None));
    let refusal = |message: &str, code: &str| Refusal {
        error: ErrorShape::new(ErrorCode::NotPaired, message)
            .with_details(json!({"code": code, "requestId": pending.request_id})),
        close_code: handshake::CLOSE_POLICY,
    };
    let deadline = tokio::time::sleep(DEVICE_REQUEST_TTL);
    tokio::pin!(deadline);
    loop {
        if let Some(outcome) = resolution.borrow_and_update().clone() {
            return match outcome {
                Resolution::Approved { device, token } => {
                    accepted.issue(token, device.token_expires_at_ms.unwrap_or_default());
                    Ok(accepted)
                }
                Resolution::Rejected => Err(refusal("pairing rejected by an operator", "PAIRING_REJECTED")),
                Resolution::Gone => {
                    Err(refusal("pairing request expired or was superseded; connect again", "PAIRING_EXPIRED"))
                }
            };
        }
        tokio::select! {
            changed = resolution.changed() => {
                if changed.is_err() {
                    return Err(refusal("pairing request expired or was superseded; connect again", "PAIRING_EXPIRED"));
                }
            }
            frame = incoming.next() => match frame {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => {
                    return Err(refusal("the client left while waiting for approval", "PAIRING_ABANDONED"));
                }
                Some(Ok(_)) => {}
            },
            () = &mut deadline => return Err(refusal("pairing request expired; connect again", "PAIRING_EXPIRED")),
            () = gateway.close_connections.cancelled() => {
                return Err(Refusal { error: ErrorShape::unavailable("the gateway is stopping"), close_code: 1012 });
            }
        }
    }
}
