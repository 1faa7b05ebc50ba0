//! The one way a platform's message comes in, for every adapter: recorded once per dedupe key
//! before the platform is acknowledged, answered in its own task, marked handled once it needs
//! nothing more, and, when a stop came in between, answered once on the next start. Only this
//! file reads or writes the store's inbound record; adapters parse their wire format and call
//! [`Router::accept`] and [`Router::replay`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::OnceCell;

use super::ChannelError;
use super::platform::{Inbound, Platform};
use super::router::Router;
use crate::core::settings::GroupPolicy;
use crate::core::sync::lock;
use crate::daemon::store::StoreError;

/// Unhandled updates answered per channel on start, oldest first.
const REPLAY_LIMIT: usize = 1000;
/// The form of [`Recording`]; rows without it hold a platform's own payload (recorded by
/// earlier versions) and are read by the adapter's parser.
const RECORD_VERSION: u32 = 1;

/// What the store keeps for an update: the platform-neutral message, so a replay needs no
/// platform parser and sees the message as it was when it came in.
#[derive(Serialize)]
struct Recording<'a> {
    version: u32,
    inbound: &'a Inbound,
}

#[derive(Deserialize)]
struct Recorded {
    version: u32,
    inbound: Inbound,
}

/// Recorded rows: dedupe key and payload.
type Rows = Vec<(String, String)>;
/// One channel's leftovers: read once, then taken once.
type Cell = OnceCell<Mutex<Option<Rows>>>;

/// Per channel, the updates the last stop left unhandled: read once, before this process
/// records anything on that channel, so the replay and the intake never answer the same
/// message (a webhook can deliver before the adapter replays); taken by the first replay.
#[derive(Default)]
pub(super) struct Leftovers(Mutex<HashMap<&'static str, Arc<Cell>>>);

/// What became of an accepted message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// Recorded now and being answered.
    New,
    /// Recorded before (a redelivery): dropped.
    Redelivery,
}

impl Router {
    /// Records `inbound` and answers it in its own task; a redelivery of a recorded message is
    /// dropped. `Err` only when it could not be recorded: the caller leaves the platform
    /// unacknowledged so it delivers the update again.
    pub async fn accept<P: Platform>(
        self: &Arc<Self>,
        platform: &Arc<P>,
        policy: GroupPolicy,
        inbound: Inbound,
    ) -> Result<Accepted, ChannelError> {
        let channel = platform.name();
        self.left_over(channel).await?;
        let payload = serde_json::to_string(&Recording { version: RECORD_VERSION, inbound: &inbound })
            .map_err(|error| ChannelError::Invalid(format!("cannot encode a chat message: {error}")))?;
        if !self.store.record_inbound(channel, &inbound.dedupe_key, &payload).await? {
            tracing::debug!(channel, key = %inbound.dedupe_key, "a redelivered update was already recorded");
            return Ok(Accepted::Redelivery);
        }
        self.dispatch(Arc::clone(platform), policy, inbound);
        Ok(Accepted::New)
    }

    /// Answers the messages of `platform` the last stop left unhandled, once per process
    /// however often the adapter's loop starts. `legacy` reads a row that holds the platform's
    /// own payload; a row nothing can read is marked handled.
    pub async fn replay<P, F>(self: &Arc<Self>, platform: &Arc<P>, policy: GroupPolicy, legacy: F)
    where
        P: Platform,
        F: Fn(&Value) -> Option<Inbound>,
    {
        let channel = platform.name();
        let rows = match self.left_over(channel).await {
            Ok(cell) => cell.get().and_then(|rows| lock(rows).take()).unwrap_or_default(),
            Err(error) => {
                tracing::warn!(channel, %error, "cannot read unhandled chat messages");
                return;
            }
        };
        for (key, payload) in rows {
            match read(&payload, &legacy) {
                Some(mut inbound) => {
                    tracing::info!(channel, %key, "answering a chat message left unhandled by the last stop");
                    inbound.dedupe_key = key;
                    self.dispatch(Arc::clone(platform), policy, inbound);
                }
                None => {
                    tracing::debug!(channel, %key, "a recorded update holds no message to answer");
                    if let Err(error) = self.store.mark_inbound_handled(channel, &key).await {
                        tracing::warn!(channel, %error, "cannot mark a chat message handled");
                    }
                }
            }
        }
    }

    /// What the last stop left unhandled on `channel`, read on the first call.
    async fn left_over(&self, channel: &'static str) -> Result<Arc<Cell>, StoreError> {
        let cell = Arc::clone(lock(&self.leftovers.0).entry(channel).or_default());
        cell.get_or_try_init(|| async {
            let rows = self.store.unhandled_inbound(channel, REPLAY_LIMIT).await?;
            Ok::<_, StoreError>(Mutex::new(Some(rows)))
        })
        .await?;
        Ok(cell)
    }

    /// Answers a recorded message in its own task. It is marked handled once it needs nothing
    /// more: the user's message is stored (its turn may still fail; a redelivery then finds the
    /// message and starts no second turn) or no turn was due. A message that could not be
    /// stored (the gateway stopping, the store refusing) stays unhandled, and the next start
    /// answers it.
    fn dispatch<P: Platform>(self: &Arc<Self>, platform: Arc<P>, policy: GroupPolicy, inbound: Inbound) {
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
}

/// The message a recorded row holds: the neutral form, else the platform's own payload.
fn read(payload: &str, legacy: impl Fn(&Value) -> Option<Inbound>) -> Option<Inbound> {
    let value: Value = serde_json::from_str(payload).ok()?;
    if value.get("version").is_some() {
        let recorded = Recorded::deserialize(&value).ok()?;
        return (recorded.version == RECORD_VERSION).then_some(recorded.inbound);
    }
    legacy(&value)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use tokio::sync::Semaphore;
    use tokio_util::sync::CancellationToken;
    use tokio_util::task::TaskTracker;

    use super::*;
    use crate::core::pairing::DmPolicy;
    use crate::core::settings::{ChannelSeed, FileConfig, Settings};
    use crate::daemon::agent::Agent;
    use crate::daemon::agent::AgentParts;
    use crate::daemon::channels::platform::{ChatKind, ChatRef, Limits, MessageRef};
    use crate::daemon::events::EventBus;
    use crate::daemon::pairing::Pairing;
    use crate::daemon::store::Store;

    /// A chat platform that only remembers what it was asked to send; a send waits for a
    /// permit of `gate`, so a test can hold answers in flight.
    struct Chat {
        sent: Mutex<Vec<String>>,
        gate: Semaphore,
    }

    impl Chat {
        fn new(permits: usize) -> Self {
            Self { sent: Mutex::new(Vec::new()), gate: Semaphore::new(permits) }
        }

        fn sent(&self) -> Vec<String> {
            lock(&self.sent).clone()
        }
    }

    impl Platform for Chat {
        fn name(&self) -> &'static str {
            "telegram"
        }
        fn limits(&self) -> Limits {
            Limits { max_chars: 4096, edit_interval: Duration::from_millis(1), typing_interval: None }
        }
        async fn send(&self, _: &ChatRef, text: &str) -> Result<MessageRef, ChannelError> {
            let _permit = self.gate.acquire().await.map_err(|_| ChannelError::Cancelled)?;
            lock(&self.sent).push(text.to_owned());
            Ok(MessageRef("1".into()))
        }
        async fn edit(&self, _: &ChatRef, _: &MessageRef, _: &str) -> Result<(), ChannelError> {
            Ok(())
        }
        async fn typing(&self, _: &ChatRef) -> Result<(), ChannelError> {
            Ok(())
        }
    }

    /// One start of the gateway over `store`, with no model provider: a turn fails at once and
    /// the chat is told so in one message. The DM policy is seeded on the first start only.
    struct Start {
        router: Arc<Router>,
        agent: Arc<Agent>,
        chat: Arc<Chat>,
    }

    async fn start(store: &Store, dir: &std::path::Path, policy: DmPolicy) -> Start {
        let events = EventBus::default();
        let settings = Settings::resolve(&Default::default(), &|_| None, &FileConfig::default()).unwrap();
        let mut parts = AgentParts::from_settings(&settings, dir.join("workspace"));
        parts.provider = None;
        let agent = Agent::new(store.clone(), events.clone(), parts);
        let pairing = Arc::new(Pairing::new(store.clone(), events.clone(), Duration::from_secs(60)));
        let seed = ChannelSeed { channel: "telegram", policy: Some(policy), allow_from: None };
        pairing.seed(&[seed]).await.unwrap();
        let tracker = TaskTracker::new();
        let router = Router::new(store.clone(), Arc::clone(&agent), pairing, events, tracker, CancellationToken::new());
        Start { router: Arc::new(router), agent, chat: Arc::new(Chat::new(Semaphore::MAX_PERMITS)) }
    }

    impl Start {
        async fn accept(&self, key: &str) -> Accepted {
            self.router.accept(&self.chat, GroupPolicy::Mention, message(key)).await.unwrap()
        }

        async fn replay(&self) {
            self.router.replay(&self.chat, GroupPolicy::Mention, |_| None).await;
        }

        /// Waits for every message being answered.
        async fn settle(&self) {
            self.router.tracker.close();
            self.router.tracker.wait().await;
            self.router.tracker.reopen();
        }
    }

    fn message(key: &str) -> Inbound {
        Inbound {
            dedupe_key: key.into(),
            chat: ChatRef { id: "42".into(), thread: None },
            kind: ChatKind::Direct,
            sender_id: "42".into(),
            sender_name: Some("Ada".into()),
            text: format!("hello from {key}"),
            addressed: false,
        }
    }

    async fn unhandled(store: &Store) -> Vec<String> {
        store.unhandled_inbound("telegram", 10).await.unwrap().into_iter().map(|(key, _)| key).collect()
    }

    #[tokio::test]
    async fn a_message_left_unhandled_by_a_stop_is_answered_once_on_the_next_start_and_never_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();

        // A stop lands before the user's message is stored: recorded, left unhandled.
        let first = start(&store, dir.path(), DmPolicy::Open).await;
        first.agent.shutdown(Duration::ZERO).await;
        assert_eq!(first.accept("update:1").await, Accepted::New);
        first.settle().await;
        assert!(first.chat.sent().is_empty());
        assert_eq!(unhandled(&store).await, ["update:1"]);
        assert_eq!(first.accept("update:1").await, Accepted::Redelivery, "a redelivery is still dropped");
        first.settle().await;
        assert!(first.chat.sent().is_empty());

        // The next start answers it.
        let second = start(&store, dir.path(), DmPolicy::Open).await;
        second.replay().await;
        second.settle().await;
        assert_eq!(second.chat.sent().len(), 1, "answered once: {:?}", second.chat.sent());
        assert!(unhandled(&store).await.is_empty());

        // Handled: neither a later start nor a redelivery answers it again.
        let third = start(&store, dir.path(), DmPolicy::Open).await;
        third.replay().await;
        assert_eq!(third.accept("update:1").await, Accepted::Redelivery);
        third.settle().await;
        assert!(third.chat.sent().is_empty(), "{:?}", third.chat.sent());
    }

    #[tokio::test]
    async fn a_handled_message_is_never_answered_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let first = start(&store, dir.path(), DmPolicy::Open).await;
        assert_eq!(first.accept("update:2").await, Accepted::New);
        first.settle().await;
        assert_eq!(first.chat.sent().len(), 1);
        assert_eq!(first.accept("update:2").await, Accepted::Redelivery);
        first.settle().await;
        assert_eq!(first.chat.sent().len(), 1, "the redelivery was not answered");

        let second = start(&store, dir.path(), DmPolicy::Open).await;
        second.replay().await;
        assert_eq!(second.accept("update:2").await, Accepted::Redelivery);
        second.settle().await;
        assert!(second.chat.sent().is_empty(), "{:?}", second.chat.sent());
    }

    #[tokio::test]
    async fn the_replay_answers_only_what_the_last_stop_left_and_only_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        // A stranger's messages: the pairing codes they get have no idempotency key to guard
        // them. Update 6 is what the last stop left.
        let payload = serde_json::to_string(&Recording { version: RECORD_VERSION, inbound: &message("update:6") });
        assert!(store.record_inbound("telegram", "update:6", &payload.unwrap()).await.unwrap());
        let mut start = start(&store, dir.path(), DmPolicy::Pairing).await;
        start.chat = Arc::new(Chat::new(0));
        // While answers are still being sent: a webhook delivers update 7 before the adapter
        // replays, then the adapter's loop starts twice.
        assert_eq!(start.accept("update:7").await, Accepted::New);
        start.replay().await;
        start.replay().await;
        start.chat.gate.add_permits(16);
        start.settle().await;
        let sent = start.chat.sent();
        assert_eq!(sent.len(), 2, "one pairing code for each update: {sent:?}");
        assert!(sent.iter().all(|text| text.contains("pairing code")), "{sent:?}");
        assert!(unhandled(&store).await.is_empty());
    }

    #[tokio::test]
    async fn rows_an_earlier_version_recorded_are_read_by_the_adapter_and_unreadable_ones_are_settled() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert!(store.record_inbound("telegram", "update:3", r#"{"update_id": 3, "text": "old"}"#).await.unwrap());
        assert!(store.record_inbound("telegram", "update:4", r#"{"update_id": 4}"#).await.unwrap());
        let start = start(&store, dir.path(), DmPolicy::Open).await;
        let legacy = |update: &Value| update["text"].as_str().map(|_| message("update:3"));
        start.router.replay(&start.chat, GroupPolicy::Mention, legacy).await;
        start.settle().await;
        assert_eq!(start.chat.sent().len(), 1, "{:?}", start.chat.sent());
        assert!(unhandled(&store).await.is_empty(), "nothing to answer in update 4: settled too");
    }

    #[test]
    fn a_recording_reads_back_as_the_message_it_holds() {
        let inbound = message("update:5");
        let payload = serde_json::to_string(&Recording { version: RECORD_VERSION, inbound: &inbound }).unwrap();
        assert_eq!(read(&payload, |_| None), Some(inbound));
        assert_eq!(read(r#"{"version": 2, "inbound": {}}"#, |_| None), None);
    }
}
