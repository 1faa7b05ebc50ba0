//! Socket Mode: `apps.connections.open` with the `xapp-` token gives a WebSocket URL; every
//! envelope is recorded, acked at once, then handled (Slack retries after 3 s), `disconnect` opens a
//! fresh socket after closing the old one (exactly one live socket), and a socket with no
//! frame, not even a pong, for the deaf bound is replaced.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use super::Slack;
use crate::core::secret::Secret;
use crate::daemon::channels::net::{backoff, scrub};
use crate::daemon::channels::{ChannelError, Router};

/// Why a socket ended.
enum End {
    Cancelled,
    Reconnect(&'static str),
}

pub async fn run(slack: &Arc<Slack>, router: &Arc<Router>, app_token: &Secret, deaf_after: Duration) {
    let mut failures = 0u32;
    loop {
        let wait = match session(slack, router, app_token, deaf_after).await {
            Ok(End::Cancelled) => return,
            Ok(End::Reconnect(reason)) => {
                failures = 0;
                tracing::info!(reason, "slack socket: reconnecting");
                Duration::ZERO
            }
            Err(ChannelError::RateLimited { retry_after, .. }) => retry_after,
            Err(error) => {
                failures += 1;
                tracing::warn!(%error, "slack socket failed; reconnecting");
                slack.liveness.error(error.to_string());
                backoff(failures, Duration::from_millis(500), Duration::from_secs(30))
            }
        };
        slack.liveness.reconnecting();
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = slack.cancel.cancelled() => return,
        }
    }
}

async fn session(
    slack: &Arc<Slack>,
    router: &Arc<Router>,
    app_token: &Secret,
    deaf_after: Duration,
) -> Result<End, ChannelError> {
    let opened = slack.api.call("apps.connections.open", app_token, None).await?;
    let url =
        opened["url"].as_str().ok_or_else(|| ChannelError::Invalid("apps.connections.open gave no url".into()))?;
    let network = |error: tokio_tungstenite::tungstenite::Error| ChannelError::Network {
        platform: "slack",
        // The socket URL carries a ticket: never shown.
        message: scrub(&error.to_string(), url),
    };
    let connect = tokio_tungstenite::connect_async_with_config(url, None, true);
    let (mut socket, _) = tokio::time::timeout(Duration::from_secs(15), connect)
        .await
        .map_err(|_| ChannelError::Network { platform: "slack", message: "connecting the socket timed out".into() })?
        .map_err(network)?;
    let mut last_frame = Instant::now();
    let mut ping = tokio::time::interval(deaf_after / 3);
    ping.tick().await;
    loop {
        let frame = tokio::select! {
            frame = socket.next() => frame,
            _ = ping.tick() => {
                if last_frame.elapsed() >= deaf_after {
                    slack.liveness.error(format!("no frame for {} s: the socket is deaf", deaf_after.as_secs()));
                    let _ = tokio::time::timeout(Duration::from_secs(2), socket.close(None)).await;
                    return Ok(End::Reconnect("deaf"));
                }
                socket.send(Message::Ping(Vec::new().into())).await.map_err(network)?;
                continue;
            }
            () = slack.cancel.cancelled() => {
                let _ = tokio::time::timeout(Duration::from_secs(2), socket.close(None)).await;
                return Ok(End::Cancelled);
            }
        };
        let Some(frame) = frame else { return Ok(End::Reconnect("socket closed")) };
        let frame = frame.map_err(network)?;
        last_frame = Instant::now();
        slack.liveness.alive();
        let text = match frame {
            Message::Text(text) => text,
            Message::Close(_) => return Ok(End::Reconnect("socket closed")),
            _ => continue,
        };
        let Ok(envelope) = serde_json::from_str::<Value>(&text) else { continue };
        // An event is recorded (a fast local insert) before its ack, so an envelope that could
        // not be recorded is left unacked and Slack sends it again.
        let recorded = match envelope["type"].as_str() {
            Some("hello") => {
                slack.liveness.connected();
                true
            }
            Some("disconnect") => {
                let _ = tokio::time::timeout(Duration::from_secs(2), socket.close(None)).await;
                return Ok(End::Reconnect("disconnect requested"));
            }
            Some("events_api") => match super::accept(slack, router, &envelope["payload"]).await {
                Ok(()) => true,
                Err(error) => {
                    tracing::error!(%error, "cannot record a slack event; leaving it unacked for a retry");
                    false
                }
            },
            _ => true,
        };
        if recorded && let Some(id) = envelope["envelope_id"].as_str() {
            socket.send(Message::Text(json!({"envelope_id": id}).to_string().into())).await.map_err(network)?;
        }
    }
}
