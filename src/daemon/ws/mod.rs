//! The gateway WebSocket: upgrade, handshake, then requests, responses and events.

mod connection;
mod handshake;
mod methods;
mod pairing_methods;

use std::sync::Arc;

use axum::extract::ws::WebSocketUpgrade;
use axum::response::Response;

use super::state::{Gateway, Peer};

/// Largest frame after the handshake (`policy.maxPayload`).
pub const MAX_PAYLOAD: usize = 1024 * 1024;
/// Largest frame before the handshake.
pub const MAX_PREAUTH_PAYLOAD: usize = 64 * 1024;

pub fn upgrade(gateway: Arc<Gateway>, upgrade: WebSocketUpgrade, peer: Peer, cookie: bool) -> Response {
    upgrade
        .max_message_size(MAX_PAYLOAD)
        .max_frame_size(MAX_PAYLOAD)
        .on_upgrade(move |socket| connection::run(gateway, socket, peer, cookie))
}
