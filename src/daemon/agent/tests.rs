//! Agent tests without a network: refused input, a full store, no provider.

use super::*;
use crate::core::frames::{ErrorCode, ErrorShape};

async fn agent(dir: &std::path::Path) -> (Arc<Agent>, Store, EventBus) {
    let store = Store::open(dir).unwrap();
    let settings = crate::core::settings::Settings::resolve(
        &Default::default(),
        &|_| None,
        &crate::core::settings::FileConfig::default(),
    )
    .unwrap();
    let events = EventBus::default();
    let mut parts = AgentParts::from_settings(&settings, dir.to_owned());
    parts.provider = None;
    let agent = Agent::new(store.clone(), events.clone(), parts);
    (agent, store, events)
}

#[tokio::test]
async fn a_full_store_refuses_the_message_with_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let (agent, store, _) = agent(dir.path()).await;
    crate::daemon::store::fill_disk(&store).await;
    let error = agent.send(SessionKey::main(), "x".repeat(100_000), "k".into(), Asker::Operator).await.unwrap_err();
    assert!(matches!(error, AgentError::Store(_)), "{error}");
    assert!(error.retryable());
    assert!(error.to_string().starts_with("cannot store the message"), "{error}");
    assert_eq!(agent.active_runs(), 0, "nothing started for a message that was not stored");
}

#[tokio::test]
async fn empty_and_oversized_messages_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (agent, store, _) = agent(dir.path()).await;
    let empty = agent.send(SessionKey::main(), "  ".into(), "a".into(), Asker::Operator).await.unwrap_err();
    assert_eq!(empty.to_string(), "invalid chat.send params: message must not be empty");
    let huge = agent
        .send(SessionKey::main(), "x".repeat(MAX_MESSAGE_BYTES + 1), "b".into(), Asker::Operator)
        .await
        .unwrap_err();
    assert!(huge.to_string().contains("longer than"));
    assert_eq!(store.message_count().await.unwrap(), 0);
}

#[tokio::test]
async fn after_shutdown_new_messages_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (agent, _, events) = agent(dir.path()).await;
    let mut receiver = events.subscribe_session(&SessionKey::main());
    let ack = agent.send(SessionKey::main(), "hi".into(), "k1".into(), Asker::Operator).await.unwrap();
    assert_eq!(ack.status, crate::core::protocol::sessions::SendStatus::Started);
    agent.shutdown(std::time::Duration::from_secs(5)).await;
    let refused = agent.send(SessionKey::main(), "late".into(), "k2".into(), Asker::Operator).await.unwrap_err();
    assert!(matches!(refused, AgentError::Closing));
    assert_eq!(ErrorShape::from(refused).code, ErrorCode::Unavailable);
    let mut states = Vec::new();
    while let Ok(chat) = receiver.try_recv() {
        assert!(chat.chat().is_some());
        let payload: serde_json::Value = serde_json::from_str(&chat.payload).unwrap();
        states.push(payload["state"].as_str().unwrap().to_owned());
    }
    assert_eq!(states, ["error"], "no provider: the run ends with an error event");
}

/// A provider with a bug: the first call panics, later calls answer.
struct PanicsOnce(std::sync::atomic::AtomicBool);

impl Provider for PanicsOnce {
    fn name(&self) -> &str {
        "panics-once"
    }
    fn stream<'a>(
        &'a self,
        model: &'a str,
        _: &'a crate::daemon::providers::ModelRequest,
        on_delta: crate::daemon::providers::DeltaSink<'a>,
    ) -> futures_util::future::BoxFuture<
        'a,
        Result<crate::daemon::providers::Completion, crate::daemon::providers::ProviderError>,
    > {
        let first = !self.0.swap(true, Ordering::SeqCst);
        Box::pin(async move {
            on_delta("partial");
            assert!(!first, "a bug in a provider");
            Ok(crate::daemon::providers::Completion { text: "fine".into(), model: model.into(), ..Default::default() })
        })
    }
}

/// The run's `chat` states, once its run has ended.
async fn chat_states(
    receiver: &mut tokio::sync::broadcast::Receiver<Arc<crate::daemon::events::RunBroadcast>>,
) -> Vec<String> {
    let mut states = Vec::new();
    for _ in 0..100 {
        let Ok(Ok(event)) = tokio::time::timeout(std::time::Duration::from_secs(5), receiver.recv()).await else {
            break;
        };
        let payload: serde_json::Value = serde_json::from_str(&event.payload).unwrap();
        let state = payload["state"].as_str().unwrap().to_owned();
        states.push(state.clone());
        if state != "delta" {
            break;
        }
    }
    states
}

#[tokio::test]
async fn a_panicking_turn_tells_its_clients_and_the_next_turn_runs() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let settings = crate::core::settings::Settings::resolve(
        &Default::default(),
        &|_| None,
        &crate::core::settings::FileConfig::default(),
    )
    .unwrap();
    let events = EventBus::default();
    let provider: Arc<dyn Provider> = Arc::new(PanicsOnce(Default::default()));
    let mut parts = AgentParts::from_settings(&settings, dir.path().to_owned());
    parts.provider = Some(provider);
    let agent = Agent::new(store, events.clone(), parts);
    let mut receiver = events.subscribe_session(&SessionKey::main());

    agent.send(SessionKey::main(), "hi".into(), "k1".into(), Asker::Operator).await.unwrap();
    assert_eq!(chat_states(&mut receiver).await, ["delta", "error"], "the panic ends the run with an error event");
    for _ in 0..100 {
        if agent.active_runs() == 0 {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(agent.active_runs(), 0, "the panicked run is no longer listed as running");

    agent.send(SessionKey::main(), "again".into(), "k2".into(), Asker::Operator).await.unwrap();
    assert_eq!(chat_states(&mut receiver).await, ["delta", "final"], "the same session still answers");
    agent.shutdown(std::time::Duration::from_secs(5)).await;
}
