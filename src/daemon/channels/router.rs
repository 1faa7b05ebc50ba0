//! The router: an inbound message → DM or group policy → session key → agent turn → a reply
//! streamed into the chat. Messages reach it through `intake.rs`, which records each update
//! before it is handled, so a redelivery never produces a second reply.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::ChannelError;
use super::intake::Leftovers;
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
    pub(super) store: Store,
    agent: Arc<Agent>,
    pairing: Arc<Pairing>,
    events: EventBus,
    pub(super) tracker: TaskTracker,
    cancel: CancellationToken,
    pub(super) leftovers: Leftovers,
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
    pub fn new(
        store: Store,
        agent: Arc<Agent>,
        pairing: Arc<Pairing>,
        events: EventBus,
        tracker: TaskTracker,
        cancel: CancellationToken,
    ) -> Self {
        Self { store, agent, pairing, events, tracker, cancel, leftovers: Leftovers::default() }
    }

    /// The commands waiting for the operator, which a chat platform's buttons answer.
    pub(super) fn exec_approvals(&self) -> &Arc<crate::daemon::agent::tools::exec::ExecApprovals> {
        self.agent.exec_approvals()
    }

    /// Decides what `inbound` needs and does it: nothing, a pairing code, or an agent turn whose
    /// reply streams into the chat. [`ChannelError::NotStored`] when the user's message could
    /// not be stored.
    pub(super) async fn answer<P: Platform>(
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

    #[test]
    fn the_pairing_message_names_the_approve_command() {
        assert!(pairing_message("slack", "ABCD2345").contains("molt pair code approve slack ABCD2345"));
    }
}
