//! The gateway WebSocket: upgrade, handshake, then requests, responses and events.

mod admission;
mod connection;
mod cumulative;
mod exec_methods;
mod follow;
pub(crate) mod handshake;
mod methods;
mod outbox;
pub use outbox::Budget;
mod pairing_methods;

use std::sync::Arc;

use axum::extract::ws::WebSocketUpgrade;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::state::{Gateway, Peer};

/// Largest frame after the handshake (`policy.maxPayload`).
pub const MAX_PAYLOAD: usize = 1024 * 1024;
/// Largest frame before the handshake.
pub const MAX_PREAUTH_PAYLOAD: usize = 64 * 1024;
/// Bytes read from a socket at a time. tungstenite's default (128 KiB) is zero-filled before
/// the first read, so it costs every idle connection 128 KiB; the gateway's frames are small,
/// and a larger one is still read whole, in more reads.
const READ_BUFFER: usize = 8 * 1024;

/// Upgrades to the gateway protocol when a connection slot is free; otherwise answers 503
/// before upgrading, so a flood of sockets cannot exhaust the gateway.
pub fn upgrade(gateway: Arc<Gateway>, upgrade: WebSocketUpgrade, peer: Peer, cookie: bool) -> Response {
    let Ok(slot) = Arc::clone(&gateway.connection_slots).try_acquire_owned() else {
        let max = gateway.settings.max_connections;
        tracing::warn!(max_connections = max, address = %peer.address, "connection refused: the gateway is full");
        let body = json!({
            "error": "too many connections",
            "reason": format!("the gateway serves at most {max} connections at once; try again shortly"),
            "maxConnections": max,
        });
        return (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "5")], axum::Json(body)).into_response();
    };
    let tasks = gateway.connection_tasks.clone();
    upgrade.max_message_size(MAX_PAYLOAD).max_frame_size(MAX_PAYLOAD).read_buffer_size(READ_BUFFER).on_upgrade(
        move |socket| {
            tasks.track_future(async move {
                connection::run(gateway, socket, peer, cookie).await;
                drop(slot);
            })
        },
    )
}
