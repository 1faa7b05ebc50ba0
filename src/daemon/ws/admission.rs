//! Admission of one connection: its first frame (`connect`), the decision, a connect held
//! until an operator answers (`pairing-wait`), and the registration that lets a revocation end
//! the connection, checked once more before `hello-ok`.

use std::time::Duration;

use axum::extract::ws::Message;
use futures_util::StreamExt;
use serde_json::json;
use tokio::sync::watch;

use super::MAX_PREAUTH_PAYLOAD;
use super::connection::{Incoming, encode};
use super::handshake::{self, Authorized, Decision, Refusal};
use super::outbox::Outbox;
use crate::core::frames::{self, ErrorCode, ErrorShape, FrameError, Request};
use crate::core::pairing::DEVICE_REQUEST_TTL;
use crate::core::protocol::events::{self, PairPending};
use crate::daemon::pairing::{ConnectionGuard, PendingDevice, Resolution};
use crate::daemon::state::{Gateway, Peer};

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Registers a device's connection for revocations, then checks the device (and its token)
/// once more: a revocation that lands while the handshake runs is never missed. `None` when it
/// was revoked (the client is told and the socket closed); `Some(None)` for a connection
/// without a device.
pub(super) async fn register<'a>(
    gateway: &'a Gateway,
    authorized: &Authorized,
    peer: Peer,
    outbox: &Outbox,
    request_id: &str,
) -> Option<Option<ConnectionGuard<'a>>> {
    let (Ok(core), Some(device)) = (gateway.core(), &authorized.device) else { return Some(None) };
    if let Err(error) = core.store.touch_device(device.id.as_str(), &peer.address.to_string()).await {
        tracing::warn!(%error, "cannot record the device's last connect");
    }
    let token = authorized.device_token.as_ref().map(|(token, _)| token.expose());
    if let Some(guard) = core.pairing.register_checked(device.id.as_str(), token).await {
        return Some(Some(guard));
    }
    let error = ErrorShape::new(ErrorCode::NotPaired, "device revoked by an operator during the handshake")
        .with_details(json!({"code": "DEVICE_REVOKED"}));
    let _ = outbox.push(frames::error_response(request_id, &error));
    outbox.close(handshake::CLOSE_POLICY, "device revoked by an operator");
    None
}

/// Reads the first frame and decides the connect; answers and closes on refusal.
pub(super) async fn handshake(
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
