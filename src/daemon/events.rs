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
    /// For `chat` events: the run and the text a delta adds, so a connection that owes its
    /// client the cumulative text can rebuild it without parsing the payload.
    pub run: Option<RunStep>,
}

/// One step of a run, as a `chat` event carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunStep {
    pub run_id: String,
    /// The new text of a delta; `None` when the run ended (`final`, `aborted`, `error`).
    pub added: Option<String>,
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
        self.send(event, scope, payload, None);
    }

    /// A `chat` event of run `step.run_id`.
    pub fn publish_chat(&self, scope: Scope, payload: &impl Serialize, step: RunStep) {
        self.send("chat", scope, payload, Some(step));
    }

    fn send(&self, event: &'static str, scope: Scope, payload: &impl Serialize, run: Option<RunStep>) {
        let payload = serde_json::to_string(payload).unwrap_or_else(|_| "{}".into());
        // No receivers is fine: nobody is connected.
        let _ = self.sender.send(Arc::new(Broadcast { event, payload, scope, run }));
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Broadcast>> {
        self.sender.subscribe()
    }
}
