//! The gateway's shared state: settings, token, readiness, the store and agent once open.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::http::HeaderMap;
use serde::Serialize;
use tokio::sync::{Semaphore, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::access::AccessVerifier;
use super::agent::Agent;
use super::channels::Channels;
use super::events::EventBus;
use super::pairing::Pairing;
use super::ratelimit::AuthLimiter;
use super::replication::Replication;
use super::store::Store;
use crate::core::secret::Secret;
use crate::core::settings::Settings;

/// What `/readyz` reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum Readiness {
    Starting {
        reason: String,
    },
    /// Rebuilding the store from the bucket; not serving chats yet.
    Restoring {
        reason: String,
    },
    Ready,
    Failed {
        reason: String,
    },
    Stopping {
        reason: String,
    },
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
    /// Why the gateway stops, when it is not a plain shutdown (told to clients).
    pub stop_reason: std::sync::Mutex<Option<String>>,
}

impl Gateway {
    pub fn core(&self) -> Option<&Core> {
        self.core.get()
    }

    pub fn stop_reason(&self) -> Option<String> {
        self.stop_reason.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    pub fn set_stop_reason(&self, reason: String) {
        *self.stop_reason.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(reason);
    }
}

/// Headers a proxy (the Cloudflare Worker, a reverse proxy) adds: their presence means the
/// request did not come straight from this host.
const PROXY_HEADERS: [&str; 4] = ["cf-connecting-ip", "x-forwarded-for", "forwarded", "x-real-ip"];

/// Who is on the other end of a request.
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    pub address: IpAddr,
    /// A loopback peer with no proxy headers: a process on this machine.
    pub direct_loopback: bool,
}

impl Peer {
    pub fn new(socket: SocketAddr, headers: &HeaderMap) -> Self {
        let proxied = PROXY_HEADERS.iter().any(|name| headers.contains_key(*name));
        // Behind the Worker (or a reverse proxy) every request arrives from it; the edge names
        // the real client.
        let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
        let address = header("cf-connecting-ip")
            .or_else(|| header("x-forwarded-for").and_then(|list| list.split(',').next()))
            .or_else(|| header("x-real-ip"))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or(socket.ip());
        Self { address, direct_loopback: socket.ip().is_loopback() && !proxied }
    }
}
