//! What one connection follows: the `chat` events of the sessions it takes part in (it sent
//! to them, read their history or asked with `sessions.messages.subscribe`), the session
//! list's changes once it asked with `sessions.subscribe`, and the gateway-wide feeds of the
//! scopes it holds (pairing, admin). A turn thus costs the same whatever the number of
//! connected clients.

use std::collections::VecDeque;
use std::sync::Arc;

use futures_util::StreamExt;
use tokio_stream::StreamMap;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use crate::core::ids::SessionKey;
use crate::core::scopes::Scope;
use crate::daemon::events::{Broadcast, EventBus, RunBroadcast};

/// Sessions one connection follows at once; following one more forgets the oldest.
pub const MAX_FOLLOWED: usize = 64;

/// One step of what the connection follows.
pub enum Followed {
    Run(Arc<RunBroadcast>),
    Event(Arc<Broadcast>),
    /// The connection fell this many events behind on one session or feed.
    Missed(u64),
}

#[derive(Default)]
pub struct Follows {
    streams: StreamMap<SessionKey, BroadcastStream<Arc<RunBroadcast>>>,
    order: VecDeque<SessionKey>,
    feeds: StreamMap<Scope, BroadcastStream<Arc<Broadcast>>>,
}

impl Follows {
    /// Follows `session`'s `chat` events from now on.
    pub fn follow(&mut self, bus: &EventBus, session: &SessionKey) {
        if let Some(index) = self.order.iter().position(|known| known == session) {
            if let Some(known) = self.order.remove(index) {
                self.order.push_back(known);
            }
            return;
        }
        if self.order.len() == MAX_FOLLOWED
            && let Some(oldest) = self.order.pop_front()
        {
            self.streams.remove(&oldest);
        }
        self.streams.insert(session.clone(), BroadcastStream::new(bus.subscribe_session(session)));
        self.order.push_back(session.clone());
    }

    pub fn unfollow(&mut self, session: &SessionKey) {
        self.order.retain(|known| known != session);
        self.streams.remove(session);
    }

    /// Hears `scope`'s gateway-wide feed from now on (`true`), or no longer.
    pub fn listen(&mut self, bus: &EventBus, scope: Scope, on: bool) {
        if !on {
            self.feeds.remove(&scope);
        } else if !self.feeds.contains_key(&scope) {
            self.feeds.insert(scope, BroadcastStream::new(bus.subscribe(scope)));
        }
    }

    /// The next event of any followed session or feed; pending while there is none.
    pub async fn next(&mut self) -> Followed {
        let followed = match (self.streams.is_empty(), self.feeds.is_empty()) {
            (true, true) => return std::future::pending().await,
            (false, true) => chat(self.streams.next().await),
            (true, false) => event(self.feeds.next().await),
            (false, false) => tokio::select! {
                next = self.streams.next() => chat(next),
                next = self.feeds.next() => event(next),
            },
        };
        match followed {
            Some(followed) => followed,
            // A sender lives while anyone listens to it, so these streams do not end.
            None => std::future::pending().await,
        }
    }

    /// Events already waiting, in no particular order between sessions and feeds, without
    /// waiting for more (for a connection that is closing).
    pub fn ready(&mut self) -> Vec<Followed> {
        let mut ready = Vec::new();
        while let Some(Some((_, Ok(chat)))) = futures_util::FutureExt::now_or_never(self.streams.next()) {
            ready.push(Followed::Run(chat));
        }
        while let Some(Some((_, Ok(event)))) = futures_util::FutureExt::now_or_never(self.feeds.next()) {
            ready.push(Followed::Event(event));
        }
        ready
    }

    #[cfg(test)]
    pub fn followed(&self) -> Vec<&str> {
        self.order.iter().map(SessionKey::as_str).collect()
    }
}

fn chat(next: Option<(SessionKey, Result<Arc<RunBroadcast>, BroadcastStreamRecvError>)>) -> Option<Followed> {
    Some(match next? {
        (_, Ok(chat)) => Followed::Run(chat),
        (_, Err(BroadcastStreamRecvError::Lagged(missed))) => Followed::Missed(missed),
    })
}

fn event(next: Option<(Scope, Result<Arc<Broadcast>, BroadcastStreamRecvError>)>) -> Option<Followed> {
    Some(match next? {
        (_, Ok(event)) => Followed::Event(event),
        (_, Err(BroadcastStreamRecvError::Lagged(missed))) => Followed::Missed(missed),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ids::RunId;
    use crate::core::protocol::{ChatEvent, ChatStep};

    fn key(name: &str) -> SessionKey {
        SessionKey::parse(name).unwrap()
    }

    fn publish(bus: &EventBus, session: &str, text: &str) {
        bus.publish_chat(ChatEvent {
            run_id: RunId::from_stored("r".into()),
            session_key: key(session),
            seq: 0,
            step: ChatStep::Delta { delta_text: text.into(), replace: false, message: None },
        });
    }

    #[tokio::test]
    async fn a_connection_hears_the_sessions_it_follows_and_no_others() {
        let bus = EventBus::default();
        let mut follows = Follows::default();
        follows.follow(&bus, &key("a"));
        publish(&bus, "b", "not mine");
        publish(&bus, "a", "mine");
        let Followed::Run(chat) = follows.next().await else { panic!("expected an event") };
        assert_eq!(chat.chat().unwrap().session_key, key("a"));
        assert!(follows.ready().is_empty());
        follows.unfollow(&key("a"));
        publish(&bus, "a", "after unfollowing");
        assert!(follows.ready().is_empty());
    }

    #[tokio::test]
    async fn a_feed_is_heard_only_while_listened_to() {
        let bus = EventBus::default();
        let mut follows = Follows::default();
        bus.publish("sessions.changed", Scope::Read, &1);
        follows.listen(&bus, Scope::Read, true);
        bus.publish("device.presence", Scope::Pairing, &2);
        bus.publish("sessions.changed", Scope::Read, &3);
        let Followed::Event(event) = follows.next().await else { panic!("expected an event") };
        assert_eq!(
            (event.event, event.payload.as_str()),
            ("sessions.changed", "3"),
            "only what came after, on its feed"
        );
        follows.listen(&bus, Scope::Read, false);
        bus.publish("sessions.changed", Scope::Read, &4);
        assert!(follows.ready().is_empty());
    }

    #[test]
    fn the_oldest_session_is_forgotten_past_the_bound_and_following_again_renews() {
        let bus = EventBus::default();
        let mut follows = Follows::default();
        for index in 0..MAX_FOLLOWED {
            follows.follow(&bus, &key(&format!("s{index}")));
        }
        follows.follow(&bus, &key("s0"));
        follows.follow(&bus, &key("new"));
        assert_eq!(follows.followed().len(), MAX_FOLLOWED);
        assert_eq!(follows.followed()[0], "s2", "s1 was the oldest once s0 was renewed");
        assert_eq!(follows.followed()[MAX_FOLLOWED - 2..], ["s0", "new"]);
    }
}
