//! The gateway's shared state: settings, token, readiness, the store and agent once open.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::http::HeaderMap;

use tokio::sync::{Semaphore, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::agent::Agent;
use super::auth::access::AccessVerifier;
pub use super::auth::edge::Peer;
use super::auth::ratelimit::AuthLimiter;
use super::channels::Channels;
use super::events::EventBus;
use super::pairing::Pairing;
use super::replication::Replication;
use super::store::Store;
use crate::core::secret::Secret;
use crate::core::settings::Settings;

pub use crate::core::protocol::hello::Readiness;

/// The gateway has not opened its store yet (it is starting or restoring from the bucket).
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the gateway is still starting; retry shortly")]
pub struct Starting;

impl From<Starting> for crate::core::frames::ErrorShape {
    fn from(starting: Starting) -> Self {
        Self::unavailable(starting.to_string())
    }
}

/// The parts that exist once the store is open.
pub struct Core {
    pub store: Store,
    pub agent: Arc<Agent>,
    pub pairing: Arc<Pairing>,
}

pub struct Gateway {
    pub settings: Settings,
    pub token: Secret,
    pub events: EventBus,
    pub started: Instant,
    pub boot_id: String,
    pub readiness: watch::Sender<Readiness>,
    pub core: OnceLock<Core>,
    pub auth_limiter: AuthLimiter,
    /// Cloudflare Access in front of the admin surface, when configured.
    pub access: Option<AccessVerifier>,
    /// Fired after turns have drained: connections say `shutdown` and close.
    pub close_connections: CancellationToken,
    /// One permit per open WebSocket connection (`max_connections`).
    pub connection_slots: Arc<Semaphore>,
    /// The open connections' tasks, awaited on stop.
    pub connection_tasks: TaskTracker,
    pub replication: Replication,
    /// Chat platforms: liveness from the start, adapters once the core is open.
    pub channels: Channels,
    /// MCP servers: their tools reach the agent, their states the status surfaces.
    pub mcp: super::mcp::Mcp,
    /// Bytes queued for every client together (`MOLT_MAX_QUEUED_BYTES`).
    pub queue_budget: Arc<super::ws::Budget>,
    /// Why the gateway stops, when it is not a plain shutdown (told to clients).
    pub stop_reason: std::sync::Mutex<Option<String>>,
}

impl Gateway {
    /// The open store, agent and pairing, or [`Starting`]: the one answer every surface gives
    /// while the gateway is still starting (or restoring).
    pub fn core(&self) -> Result<&Core, Starting> {
        self.core.get().ok_or(Starting)
    }

    pub fn stop_reason(&self) -> Option<String> {
        self.stop_reason.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    pub fn set_stop_reason(&self, reason: String) {
        *self.stop_reason.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(reason);
    }

    /// Who sent a request, by the one rule in [`super::auth::edge`].
    pub fn peer(&self, socket: SocketAddr, headers: &HeaderMap) -> Peer {
        Peer::new(socket, headers, &self.settings.edge)
    }

    /// Whether a browser request's `Origin` may reach the gateway (see [`super::auth::edge`]).
    pub fn origin_allowed(&self, headers: &HeaderMap, peer: &Peer) -> bool {
        super::auth::edge::origin_allowed(headers, peer, &self.settings.edge)
    }
}
