//! The broadcast bus: server events (chat streams, session changes, shutdown) fanned out to
//! every connection, encoded once.

use std::sync::Arc;

use serde::Serialize;
use tokio::sync::broadcast;

use crate::core::scopes::Scope;

/// One event for all connections holding `scope`.
#[derive(Debug)]
pub struct Broadcast {
    pub event: &'static str,
    /// The payload, already serialised.
    pub payload: String,
    pub scope: Scope,
}

#[derive(Clone)]
pub struct EventBus {
    sender: broadcast::Sender<Arc<Broadcast>>,
}

/// Events a connection may fall behind by before it is dropped as too slow.
const CAPACITY: usize = 4096;

impl Default for EventBus {
    fn default() -> Self {
        Self { sender: broadcast::Sender::new(CAPACITY) }
    }
}

impl EventBus {
    pub fn publish(&self, event: &'static str, scope: Scope, payload: &impl Serialize) {
        let payload = serde_json::to_string(payload).unwrap_or_else(|_| "{}".into());
        // No receivers is fine: nobody is connected.
        let _ = self.sender.send(Arc::new(Broadcast { event, payload, scope }));
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Broadcast>> {
        self.sender.subscribe()
    }
}
