//! The router: an inbound message → DM or group policy → session key → agent turn → a reply
//! streamed into the chat. Every update is recorded before it is handled, so a redelivery
//! never produces a second reply.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::ChannelError;
use super::platform::{ChatKind, Inbound, Platform};
use super::reply;
use crate::core::asker::Asker;
use crate::core::ids::SessionKey;
use crate::core::pairing::{DmDecision, DmPolicy};
use crate::core::protocol::sessions::SendStatus;
use crate::core::settings::GroupPolicy;
use crate::daemon::agent::Agent;
use crate::daemon::events::EventBus;
use crate::daemon::pairing::Pairing;
use crate::daemon::store::Store;

pub struct Router {
    pub store: Store,
    pub agent: Arc<Agent>,
    pub pairing: Arc<Pairing>,
    pub events: EventBus,
    pub tracker: TaskTracker,
    pub cancel: CancellationToken,
}

/// `agent:main:<channel>:direct:<peer>`; a group (and a thread in it) has its own.
pub fn session_key(channel: &str, inbound: &Inbound) -> Result<SessionKey, ChannelError> {
    let raw = match (inbound.kind, &inbound.chat.thread) {
        (ChatKind::Direct, _) => format!("agent:main:{channel}:direct:{}", inbound.sender_id),
        (ChatKind::Group, None) => format!("agent:main:{channel}:group:{}", inbound.chat.id),
        (ChatKind::Group, Some(thread)) => format!("agent:main:{channel}:group:{}:thread:{thread}", inbound.chat.id),
    };
    SessionKey::parse(&raw).map_err(ChannelError::Invalid)
}

pub fn pairing_message(channel: &str, code: &str) -> String {
    format!(
        "Hi! I don't know you yet. Your pairing code is {code}.\n\nAsk the owner of this assistant to approve it with:\nmolt pair code approve {channel} {code}\n\nor on the admin page. The code is valid for one hour."
    )
}

const TOO_MANY_PENDING: &str =
    "Hi! Too many pairing requests are waiting for the owner right now. Please try again later.";
const GROUP_UNKNOWN: &str =
    "I only answer people the owner has approved. Send me a direct message to get a pairing code.";

impl Router {
    /// Records an update; `false` when it was seen before and must be dropped.
    pub async fn record(&self, channel: &str, dedupe_key: &str, payload: &str) -> Result<bool, ChannelError> {
        Ok(self.store.record_inbound(channel, dedupe_key, payload).await?)
    }

    /// Handles a recorded update in its own task. It is marked handled once it needs nothing
    /// more: the user's message is stored (its turn may still fail; a redelivery then finds the
    /// message and starts no second turn) or no turn was due. An update whose message could
    /// not be stored (the gateway stopping, the store refusing) stays unhandled, and the next
    /// start answers it.
    pub fn dispatch<P: Platform>(self: &Arc<Self>, platform: Arc<P>, policy: GroupPolicy, inbound: Inbound) {
        let router = Arc::clone(self);
        self.tracker.spawn(async move {
            let channel = platform.name();
            let key = inbound.dedupe_key.clone();
            match router.answer(platform.as_ref(), policy, inbound).await {
                Ok(()) => {}
                Err(ChannelError::NotStored(reason)) => {
                    tracing::warn!(channel, %reason, "a chat message was not stored; it is answered after the next start");
                    return;
                }
                Err(error) => tracing::warn!(channel, %error, "cannot answer a chat message"),
            }
            if let Err(error) = router.store.mark_inbound_handled(channel, &key).await {
                tracing::warn!(channel, %error, "cannot mark a chat message handled");
            }
        });
    }

    async fn answer<P: Platform>(
        &self,
        platform: &P,
        policy: GroupPolicy,
        inbound: Inbound,
    ) -> Result<(), ChannelError> {
        let channel = platform.name();
        if inbound.text.trim().is_empty() {
            return Ok(());
        }
        match inbound.kind {
            ChatKind::Group => {
                if policy == GroupPolicy::Disabled || (policy == GroupPolicy::Mention && !inbound.addressed) {
                    return Ok(());
                }
                let open = self.pairing.policy(channel).await? == DmPolicy::Open;
                if !open && !self.store.is_allowed(channel, &inbound.sender_id).await? {
                    platform.send(&inbound.chat, GROUP_UNKNOWN).await?;
                    return Ok(());
                }
            }
            ChatKind::Direct => {
                match self.pairing.dm_decision(channel, &inbound.sender_id, inbound.sender_name.as_deref()).await? {
                    DmDecision::Allow => {}
                    DmDecision::Code(code) => {
                        tracing::info!(channel, "unknown sender: pairing code sent");
                        platform.send(&inbound.chat, &pairing_message(channel, &code)).await?;
                        return Ok(());
                    }
                    DmDecision::TooManyPending => {
                        platform.send(&inbound.chat, TOO_MANY_PENDING).await?;
                        return Ok(());
                    }
                    DmDecision::Ignore => return Ok(()),
                }
            }
        }
        let session = session_key(channel, &inbound)?;
        // Subscribed before sending so no event of the run is missed.
        let events = self.events.subscribe_session(&session);
        let idempotency = format!("{channel}:{}", inbound.dedupe_key);
        let asker = Asker::Sender { channel: channel.to_owned(), sender_id: inbound.sender_id.clone() };
        let ack = self.agent.send(session, inbound.text, idempotency, asker).await.map_err(|error| {
            if error.retryable() {
                ChannelError::NotStored(error.to_string())
            } else {
                ChannelError::Agent(error.to_string())
            }
        })?;
        if ack.status != SendStatus::Started {
            tracing::info!(channel, "a redelivered message was already answered");
            return Ok(());
        }
        reply::stream(platform, &inbound.chat, events, &ack.run_id, &self.cancel).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::channels::platform::ChatRef;

    fn inbound(kind: ChatKind, thread: Option<&str>) -> Inbound {
        Inbound {
            dedupe_key: "k".into(),
            chat: ChatRef { id: "-100".into(), thread: thread.map(str::to_owned) },
            kind,
            sender_id: "42".into(),
            sender_name: None,
            text: "hi".into(),
            addressed: false,
        }
    }

    #[test]
    fn session_keys_are_per_channel_and_peer_and_groups_and_threads_get_their_own() {
        let key = |kind, thread| session_key("telegram", &inbound(kind, thread)).unwrap().to_string();
        assert_eq!(key(ChatKind::Direct, None), "agent:main:telegram:direct:42");
        assert_eq!(key(ChatKind::Group, None), "agent:main:telegram:group:-100");
        assert_eq!(key(ChatKind::Group, Some("7")), "agent:main:telegram:group:-100:thread:7");
    }

    struct Quiet;

    impl Platform for Quiet {
        fn name(&self) -> &'static str {
            "telegram"
        }
        fn limits(&self) -> crate::daemon::channels::platform::Limits {
            crate::daemon::channels::platform::Limits {
                max_chars: 4096,
                edit_interval: std::time::Duration::from_millis(1),
                typing_interval: None,
            }
        }
        async fn send(
            &self,
            _: &ChatRef,
            _: &str,
        ) -> Result<crate::daemon::channels::platform::MessageRef, ChannelError> {
            Ok(crate::daemon::channels::platform::MessageRef("1".into()))
        }
        async fn edit(
            &self,
            _: &ChatRef,
            _: &crate::daemon::channels::platform::MessageRef,
            _: &str,
        ) -> Result<(), ChannelError> {
            Ok(())
        }
        async fn typing(&self, _: &ChatRef) -> Result<(), ChannelError> {
            Ok(())
        }
    }

    async fn router(dir: &std::path::Path) -> Arc<Router> {
        let store = Store::open(dir).unwrap();
        let events = EventBus::default();
        let settings = crate::core::settings::Settings::resolve(
            &Default::default(),
            &|_| None,
            &crate::core::settings::FileConfig::default(),
        )
        .unwrap();
        let agent = Agent::new(
            store.clone(),
            None,
            settings.model,
            dir.join("workspace"),
            events.clone(),
            crate::core::asker::OperatorIds::default(),
        );
        let pairing = Arc::new(Pairing::new(store.clone(), events.clone(), std::time::Duration::from_secs(60)));
        let open =
            crate::core::settings::ChannelSeed { channel: "telegram", policy: Some(DmPolicy::Open), allow_from: None };
        pairing.seed(&[open]).await.unwrap();
        Arc::new(Router {
            store,
            agent,
            pairing,
            events,
            tracker: TaskTracker::new(),
            cancel: CancellationToken::new(),
        })
    }

    async fn handle(router: &Arc<Router>, key: &str) -> Vec<(String, String)> {
        let mut message = inbound(ChatKind::Direct, None);
        message.dedupe_key = key.into();
        assert!(router.record("telegram", key, "{}").await.unwrap());
        router.dispatch(Arc::new(Quiet), GroupPolicy::Mention, message);
        router.tracker.close();
        router.tracker.wait().await;
        router.tracker.reopen();
        router.store.unhandled_inbound("telegram", 10).await.unwrap()
    }

    #[tokio::test]
    async fn an_update_is_handled_once_its_message_is_stored_and_left_for_the_next_start_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let router = router(dir.path()).await;
        assert_eq!(handle(&router, "update:1").await, [], "stored (the turn itself failed: no provider)");
        router.agent.shutdown(std::time::Duration::ZERO).await;
        let left = handle(&router, "update:2").await;
        assert_eq!(
            left,
            [("update:2".to_owned(), "{}".to_owned())],
            "refused while stopping: answered after the next start"
        );
    }

    #[test]
    fn the_pairing_message_names_the_approve_command() {
        assert!(pairing_message("slack", "ABCD2345").contains("molt pair code approve slack ABCD2345"));
    }
}
