//! One WebSocket connection: challenge, handshake, then a loop over client frames, broadcast
//! events, ticks and shutdown.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use tokio::sync::watch;

use super::handshake::{self, Authorized, Decision, Refusal};
use super::{MAX_PREAUTH_PAYLOAD, methods};
use crate::core::frames::ErrorCode;
use crate::core::frames::{self, ErrorShape, FrameError, Request};
use crate::core::pairing::DEVICE_REQUEST_TTL;
use crate::core::time::now_ms;
use crate::daemon::pairing::{PendingDevice, Resolution};
use crate::daemon::state::{Gateway, Peer};

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Counts open connections so a stop can wait for them to close.
struct Open<'a>(&'a Gateway);

impl Drop for Open<'_> {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::AcqRel);
    }
}

pub async fn run(gateway: Arc<Gateway>, mut socket: WebSocket, peer: Peer, cookie: bool) {
    gateway.connections.fetch_add(1, Ordering::AcqRel);
    let _open = Open(&gateway);
    let conn_id = uuid::Uuid::new_v4().to_string();
    let nonce = uuid::Uuid::new_v4().to_string();
    let challenge = json!({"nonce": nonce, "ts": now_ms()}).to_string();
    if send(&mut socket, frames::event_frame("connect.challenge", &challenge, None)).await.is_err() {
        return;
    }
    let Some((request_id, authorized)) = handshake(&gateway, &mut socket, peer, cookie, &nonce).await else {
        return;
    };
    let mut events = gateway.events.subscribe();
    // Registered before hello-ok and checked after registering: a revocation that lands while
    // the handshake runs is never missed.
    let registration = match (gateway.core(), &authorized.device) {
        (Some(core), Some(device)) => {
            if let Err(error) = core.store.touch_device(device.id.as_str(), &peer.address.to_string()).await {
                tracing::warn!(%error, "cannot record the device's last connect");
            }
            let token = authorized.device_token.as_ref().map(|(token, _)| token.expose());
            let Some(guard) = core.pairing.register_checked(device.id.as_str(), token).await else {
                let error = ErrorShape::new(ErrorCode::NotPaired, "device revoked by an operator during the handshake")
                    .with_details(json!({"code": "DEVICE_REVOKED"}));
                let _ = send(&mut socket, frames::error_response(&request_id, &error)).await;
                close(&mut socket, handshake::CLOSE_POLICY, "device revoked by an operator").await;
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
    if send(&mut socket, frames::ok_response(&request_id, &hello)).await.is_err() {
        return;
    }
    tracing::debug!(
        conn = %conn_id,
        client = %authorized.client.id,
        version = %authorized.client.version,
        name = authorized.client.display_name.as_deref().unwrap_or("-"),
        device = authorized.device.as_ref().map_or("-", |device| device.id.as_str()),
        auth = authorized.auth_method,
        "client connected"
    );
    let mut seq: u64 = 0;
    let mut next_seq = || {
        seq += 1;
        Some(seq)
    };
    let mut tick = tokio::time::interval_at(
        tokio::time::Instant::now() + gateway.settings.tick_interval,
        gateway.settings.tick_interval,
    );
    loop {
        tokio::select! {
            incoming = socket.recv() => {
                let text = match incoming {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Binary(_))) => {
                        close(&mut socket, 1003, "binary frames are not supported").await;
                        break;
                    }
                    Some(Ok(_)) => continue,
                };
                let reply = match Request::parse(text.as_str()) {
                    Ok(request) => {
                        let id = request.id.clone();
                        match methods::dispatch(&gateway, &authorized, &address, request).await {
                            Ok(payload) => frames::ok_response(&id, &payload),
                            Err(error) => frames::error_response(&id, &error),
                        }
                    }
                    Err(FrameError::Invalid { id: Some(id), message }) => frames::error_response(&id, &ErrorShape::invalid(message)),
                    Err(FrameError::Invalid { id: None, message }) => {
                        close(&mut socket, 1008, &message).await;
                        break;
                    }
                    Err(FrameError::NotJson) => {
                        close(&mut socket, 1003, "invalid frame: not JSON").await;
                        break;
                    }
                };
                if send(&mut socket, reply).await.is_err() {
                    break;
                }
            }
            event = events.recv() => match event {
                Ok(event) if authorized.grants.allows(event.scope) => {
                    if send(&mut socket, frames::event_frame(event.event, &event.payload, next_seq())).await.is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(conn = %conn_id, missed, "client too slow for the event stream; closing");
                    close(&mut socket, 1013, "client too slow; reconnect to catch up").await;
                    break;
                }
                Err(RecvError::Closed) => break,
            },
            _ = tick.tick() => {
                let payload = json!({"ts": now_ms()}).to_string();
                if send(&mut socket, frames::event_frame("tick", &payload, next_seq())).await.is_err() {
                    break;
                }
            }
            () = revoked.cancelled() => {
                close(&mut socket, handshake::CLOSE_POLICY, "device revoked by an operator").await;
                break;
            }
            () = &mut expired => {
                close(&mut socket, handshake::CLOSE_POLICY, "device token expired; connect with the gateway token").await;
                break;
            }
            () = gateway.close_connections.cancelled() => {
                // Events published before the stop (the aborted runs' last words) go out first.
                while let Ok(event) = events.try_recv() {
                    if authorized.grants.allows(event.scope) {
                        let _ = send(&mut socket, frames::event_frame(event.event, &event.payload, next_seq())).await;
                    }
                }
                let payload = json!({"reason": "gateway stopping", "restartExpectedMs": 5000}).to_string();
                let _ = send(&mut socket, frames::event_frame("shutdown", &payload, next_seq())).await;
                close(&mut socket, 1012, "gateway restarting").await;
                break;
            }
        }
    }
    tracing::debug!(conn = %conn_id, "client disconnected");
}

/// Reads the first frame and decides the connect; answers and closes on refusal.
async fn handshake(
    gateway: &Gateway,
    socket: &mut WebSocket,
    peer: Peer,
    cookie: bool,
    nonce: &str,
) -> Option<(String, Authorized)> {
    let first = tokio::time::timeout(HANDSHAKE_TIMEOUT, async {
        loop {
            match socket.recv().await {
                Some(Ok(Message::Text(text))) => return Some(text),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                _ => return None,
            }
        }
    })
    .await;
    let text = match first {
        Err(_) => {
            close(socket, 1008, "handshake timeout").await;
            return None;
        }
        Ok(None) => return None,
        Ok(Some(text)) => text,
    };
    if text.len() > MAX_PREAUTH_PAYLOAD {
        close(socket, 1009, "frame too large before the handshake").await;
        return None;
    }
    let request = match Request::parse(text.as_str()) {
        Ok(request) => request,
        Err(FrameError::NotJson) => {
            close(socket, 1000, "").await;
            return None;
        }
        Err(FrameError::Invalid { id, message }) => {
            if let Some(id) = id {
                let _ = send(socket, frames::error_response(&id, &ErrorShape::invalid(message.clone()))).await;
            }
            close(socket, 1008, &message).await;
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
            wait_for_operator(gateway, socket, *accepted, pending, resolution).await
        }
        Err(refusal) => Err(refusal),
    };
    match decided {
        Ok(authorized) => Some((request.id, authorized)),
        Err(refusal) => {
            tracing::info!(address = %peer.address, code = refusal.error.detail_code().unwrap_or("-"), "connect refused: {}", refusal.error.message);
            let _ = send(socket, frames::error_response(&request.id, &refusal.error)).await;
            close(socket, refusal.close_code, &refusal.error.message).await;
            None
        }
    }
}

/// Holds a connect open until an operator answers its pairing request (or it expires, the
/// client leaves, or the gateway stops). The client learns the request id at once.
async fn wait_for_operator(
    gateway: &Gateway,
    socket: &mut WebSocket,
    mut accepted: Authorized,
    pending: PendingDevice,
    mut resolution: watch::Receiver<Option<Resolution>>,
) -> Result<Authorized, Refusal> {
    let notice =
        json!({"requestId": pending.request_id, "deviceId": pending.device_id, "expiresAtMs": pending.expires_at_ms});
    let _ = send(socket, frames::event_frame("device.pair.pending", &notice.to_string(), None)).await;
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
            incoming = socket.recv() => match incoming {
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

async fn send(socket: &mut WebSocket, text: String) -> Result<(), axum::Error> {
    socket.send(Message::Text(text.into())).await
}

/// Sends a close frame; the reason is cut to the 123 bytes a close frame allows.
async fn close(socket: &mut WebSocket, code: u16, reason: &str) {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let frame = CloseFrame { code, reason: reason[..end].to_owned().into() };
    let _ = socket.send(Message::Close(Some(frame))).await;
}
