//! The event bus: gateway-wide events on one feed per scope (session list changes on
//! `operator.read`'s, device and code pairing on `operator.pairing`'s, the audit on
//! `operator.admin`'s, exec approvals on `operator.approvals`'), and each session's `chat` events delivered only to the listeners of
//! that session. A listener takes the feeds it may and wants to hear, so no connection wakes
//! for an event it would drop. Every event is serialised once, and a `chat` event nobody
//! follows is not serialised at all.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::sync::broadcast;

use crate::core::ids::SessionKey;
use crate::core::protocol::ChatEvent;
use crate::core::protocol::agent::AgentEvent;
use crate::core::protocol::events;
use crate::core::protocol::sessions::{ChangeReason, SessionsChanged};
use crate::core::scopes::Scope;
use crate::core::sync::lock;

/// One gateway-wide event for all listeners holding `scope`.
#[derive(Debug)]
pub struct Broadcast {
    pub event: &'static str,
    /// The payload, already serialised.
    pub payload: String,
    pub scope: Scope,
}

/// One event of a session's runs (a `chat` step or a tool's activity), typed for the gateway's
/// own readers and serialised once for the wire.
#[derive(Debug)]
pub struct RunBroadcast {
    pub event: RunEvent,
    pub payload: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RunEvent {
    Chat(ChatEvent),
    /// Sent as an `agent` event to clients that declared `tool-events`.
    Tool(AgentEvent),
}

impl RunBroadcast {
    /// The `chat` event, when this is one.
    pub fn chat(&self) -> Option<&ChatEvent> {
        match &self.event {
            RunEvent::Chat(chat) => Some(chat),
            RunEvent::Tool(_) => None,
        }
    }
}

/// Gateway-wide events of one feed a listener may fall behind by before it is told it missed
/// some. Each ring is allocated whole at start, so the feeds that carry little are small.
fn capacity(scope: Scope) -> usize {
    match scope {
        Scope::Read | Scope::Pairing => 1024,
        Scope::Approvals => 256,
        Scope::Admin => 256,
        // Nothing is published for write access alone.
        Scope::Write => 16,
    }
}
/// `chat` events of one session a listener may fall behind by. A run's deltas come at the
/// model's pace and a listener moves them on without waiting on IO, so falling this far behind
/// means the listener is stuck; the ring is allocated per followed session, so it stays small.
pub const SESSION_CAPACITY: usize = 256;

#[derive(Clone)]
pub struct EventBus {
    /// One feed per scope, in `FEEDS` order.
    feeds: Arc<[broadcast::Sender<Arc<Broadcast>>; 5]>,
    sessions: Arc<Sessions>,
}

/// The scopes with a feed of their own.
pub const FEEDS: [Scope; 5] = [Scope::Read, Scope::Write, Scope::Admin, Scope::Pairing, Scope::Approvals];

fn feed_index(scope: Scope) -> usize {
    match scope {
        Scope::Read => 0,
        Scope::Write => 1,
        Scope::Admin => 2,
        Scope::Pairing => 3,
        Scope::Approvals => 4,
    }
}

impl Default for EventBus {
    fn default() -> Self {
        let feeds = std::array::from_fn(|index| broadcast::Sender::new(capacity(FEEDS[index])));
        Self { feeds: Arc::new(feeds), sessions: Arc::default() }
    }
}

impl EventBus {
    /// Sends a gateway-wide event to the listeners of `scope`'s feed.
    pub fn publish(&self, event: &'static str, scope: Scope, payload: &impl Serialize) {
        let sender = &self.feeds[feed_index(scope)];
        if sender.receiver_count() == 0 {
            return;
        }
        let payload = serde_json::to_string(payload).unwrap_or_else(|_| "{}".into());
        // The last listener may have left since: nothing to do then.
        let _ = sender.send(Arc::new(Broadcast { event, payload, scope }));
    }

    /// Sends a typed gateway-wide event on its scope's feed.
    pub fn emit<E: events::Event>(&self, event: &E) {
        self.publish(E::NAME, E::SCOPE, event);
    }

    /// The gateway-wide events of `scope` from now on.
    pub fn subscribe(&self, scope: Scope) -> broadcast::Receiver<Arc<Broadcast>> {
        self.feeds[feed_index(scope)].subscribe()
    }

    /// `sessions.changed`, for the connections that asked for session list changes.
    pub fn session_changed(&self, session: &SessionKey, reason: ChangeReason) {
        let changed = SessionsChanged { session_key: session.clone(), reason };
        self.publish(events::SESSIONS_CHANGED, Scope::Read, &changed);
    }

    /// Sends `event` to the listeners of its session, if any.
    pub fn publish_chat(&self, event: ChatEvent) {
        let session = event.session_key.clone();
        self.publish_run(&session, RunEvent::Chat(event));
    }

    /// Sends a tool's activity to the listeners of its session, if any.
    pub fn publish_tool(&self, event: AgentEvent) {
        let session = event.session_key.clone();
        self.publish_run(&session, RunEvent::Tool(event));
    }

    fn publish_run(&self, session: &SessionKey, event: RunEvent) {
        let Some(sender) = self.sessions.sender(session) else { return };
        let payload = match &event {
            RunEvent::Chat(chat) => serde_json::to_string(chat),
            RunEvent::Tool(tool) => serde_json::to_string(tool),
        };
        let payload = payload.unwrap_or_else(|_| "{}".into());
        // The last listener may have left since the look-up: nothing to do then.
        let _ = sender.send(Arc::new(RunBroadcast { event, payload }));
    }

    /// Follows the `chat` events of `session` from now on. Subscribe before starting a run or
    /// reading history, so that no event falls between.
    pub fn subscribe_session(&self, session: &SessionKey) -> broadcast::Receiver<Arc<RunBroadcast>> {
        self.sessions.subscribe(session)
    }

    /// Sessions with a sender kept for them (followed, or not swept yet).
    #[cfg(test)]
    fn session_senders(&self) -> usize {
        lock(&self.sessions.map).senders.len()
    }
}

/// One broadcast channel per followed session, made on the first subscription and dropped
/// once nobody follows the session.
#[derive(Default)]
struct Sessions {
    map: Mutex<SessionMap>,
}

#[derive(Default)]
struct SessionMap {
    senders: HashMap<SessionKey, broadcast::Sender<Arc<RunBroadcast>>>,
    /// The count of kept senders at which the next new subscription sweeps unfollowed ones.
    sweep_at: usize,
}

/// Kept senders below which no sweep runs.
const SWEEP_FLOOR: usize = 64;

impl Sessions {
    fn sender(&self, session: &SessionKey) -> Option<broadcast::Sender<Arc<RunBroadcast>>> {
        let mut map = lock(&self.map);
        let sender = map.senders.get(session)?;
        if sender.receiver_count() == 0 {
            map.senders.remove(session);
            return None;
        }
        Some(sender.clone())
    }

    fn subscribe(&self, session: &SessionKey) -> broadcast::Receiver<Arc<RunBroadcast>> {
        let mut map = lock(&self.map);
        if let Some(sender) = map.senders.get(session) {
            return sender.subscribe();
        }
        if map.senders.len() >= map.sweep_at.max(SWEEP_FLOOR) {
            map.senders.retain(|_, sender| sender.receiver_count() > 0);
            // Sweeping again only once the map has doubled keeps subscribing amortised O(1).
            map.sweep_at = map.senders.len() * 2;
        }
        let sender = broadcast::Sender::new(SESSION_CAPACITY);
        let receiver = sender.subscribe();
        map.senders.insert(session.clone(), sender);
        receiver
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ids::RunId;
    use crate::core::protocol::ChatStep;

    fn chat(session: &str, text: &str) -> ChatEvent {
        ChatEvent {
            run_id: RunId::from_stored("r".into()),
            session_key: SessionKey::parse(session).unwrap(),
            seq: 0,
            step: ChatStep::Delta { delta_text: text.into(), replace: false, message: None },
        }
    }

    #[test]
    fn chat_events_reach_only_the_listeners_of_their_session() {
        let bus = EventBus::default();
        let mut global = bus.subscribe(Scope::Read);
        let mut first = bus.subscribe_session(&SessionKey::parse("a").unwrap());
        let mut second = bus.subscribe_session(&SessionKey::parse("a").unwrap());
        let mut other = bus.subscribe_session(&SessionKey::parse("b").unwrap());
        bus.publish_chat(chat("a", "hi"));
        for receiver in [&mut first, &mut second] {
            let got = receiver.try_recv().unwrap();
            assert_eq!(got.chat(), Some(&chat("a", "hi")));
            assert_eq!(got.payload, serde_json::to_string(&chat("a", "hi")).unwrap());
        }
        assert!(other.try_recv().is_err(), "another session's listener hears nothing");
        assert!(global.try_recv().is_err(), "chat events are not gateway-wide");
    }

    #[test]
    fn a_session_nobody_follows_keeps_no_sender() {
        let bus = EventBus::default();
        let receiver = bus.subscribe_session(&SessionKey::parse("a").unwrap());
        drop(receiver);
        bus.publish_chat(chat("a", "nobody hears this"));
        assert_eq!(bus.session_senders(), 0, "publishing to an unfollowed session drops its sender");
        // Subscriptions that are never published to are swept as the map grows.
        for index in 0..SWEEP_FLOOR * 4 {
            drop(bus.subscribe_session(&SessionKey::parse(&format!("s{index}")).unwrap()));
        }
        assert!(bus.session_senders() <= SWEEP_FLOOR + 1, "{} senders kept", bus.session_senders());
        let kept = bus.subscribe_session(&SessionKey::parse("kept").unwrap());
        for index in 0..SWEEP_FLOOR * 4 {
            drop(bus.subscribe_session(&SessionKey::parse(&format!("t{index}")).unwrap()));
        }
        bus.publish_chat(chat("kept", "still here"));
        let mut kept = kept;
        assert_eq!(
            kept.try_recv().unwrap().chat(),
            Some(&chat("kept", "still here")),
            "a followed session survives sweeps"
        );
    }
}
