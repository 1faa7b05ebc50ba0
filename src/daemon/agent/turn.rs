//! One agent turn: prompt → provider stream → `chat` events → the reply stored with its usage.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio_util::sync::CancellationToken;

use super::{Agent, lock, memory, prompt};
use crate::core::asker::MemoryScope;
use crate::core::ids::{RunId, SessionKey};
use crate::core::protocol::sessions::ChangeReason;
use crate::core::protocol::{AssistantMessage, ChatEvent, ChatStep, ErrorKind};
use crate::core::settings::NO_PROVIDER_HINT;
use crate::daemon::providers::{self, ModelRequest, ProviderError, ToolRound};
use crate::daemon::store::{MessageRole, NewMessage, Usage};

/// Messages of history read for a prompt.
const HISTORY_LIMIT: usize = 200;

/// Emits the `chat` events of one run with their per-run `seq`. Dropped before the run ended
/// (a panic unwinding the turn, or the turn's task dropped), it still tells the clients.
struct ChatStream<'a> {
    agent: &'a Agent,
    run_id: &'a RunId,
    session_key: &'a SessionKey,
    seq: AtomicU64,
    text: Mutex<String>,
    ended: AtomicBool,
}

impl Drop for ChatStream<'_> {
    fn drop(&mut self) {
        if self.ended.load(Ordering::Relaxed) {
            return;
        }
        if std::thread::panicking() {
            tracing::error!(run = %self.run_id, "the turn panicked; its clients get an error event");
            let message = "the turn failed unexpectedly inside molt; the gateway log has the details";
            self.emit(ChatStep::Error { error_message: message.into(), error_kind: ErrorKind::Unknown });
        } else {
            self.emit(aborted(&self.partial()));
        }
    }
}

impl ChatStream<'_> {
    /// The step that ends the run (`final`, `aborted`, `error`).
    fn emit(&self, step: ChatStep) {
        self.ended.store(true, Ordering::Relaxed);
        self.publish(step);
    }

    fn publish(&self, step: ChatStep) {
        self.agent.events.publish_chat(ChatEvent {
            run_id: self.run_id.clone(),
            session_key: self.session_key.clone(),
            seq: self.seq.fetch_add(1, Ordering::Relaxed),
            step,
        });
    }

    /// A delta carries only its new text, so a reply costs linear bytes; connections whose
    /// clients need the cumulative `message` add it themselves (`ws/cumulative.rs`).
    fn delta(&self, text: &str) {
        lock(&self.text).push_str(text);
        self.publish(ChatStep::Delta { delta_text: text.to_owned(), replace: false, message: None });
    }

    fn partial(&self) -> String {
        lock(&self.text).clone()
    }

    fn fail(&self, message: String, kind: ErrorKind) {
        self.emit(ChatStep::Error { error_message: message, error_kind: kind });
    }
}

fn aborted(partial: &str) -> ChatStep {
    ChatStep::Aborted { message: Some(AssistantMessage::text(partial)), stop_reason: Some("aborted".into()) }
}

enum Outcome {
    Done(providers::Completion),
    Failed(ProviderError),
    Aborted,
}

impl Agent {
    pub(super) async fn run_turn(
        &self,
        session_key: SessionKey,
        run_id: RunId,
        cancel: CancellationToken,
        scope: MemoryScope,
    ) {
        let stream = ChatStream {
            agent: self,
            run_id: &run_id,
            session_key: &session_key,
            seq: AtomicU64::new(0),
            text: Mutex::new(String::new()),
            ended: AtomicBool::new(false),
        };
        let session_lock = self.session_lock(&session_key);
        let _turn = tokio::select! {
            guard = session_lock.lock() => guard,
            () = cancel.cancelled() => {
                stream.emit(ChatStep::Aborted { message: None, stop_reason: None });
                return;
            }
        };
        let Some(provider) = self.provider.clone() else {
            stream.fail(NO_PROVIDER_HINT.into(), ErrorKind::Unknown);
            return;
        };
        let history = match self.store.history(&session_key, HISTORY_LIMIT).await {
            Ok(history) => history,
            Err(error) => {
                tracing::error!(%error, "cannot read history for a turn");
                stream.fail(format!("cannot read the conversation: {error}"), ErrorKind::Unknown);
                return;
            }
        };
        let mut request = ModelRequest {
            system: prompt::system_prompt(&self.workspace, &scope),
            turns: prompt::turns(&history, prompt::HISTORY_BUDGET_CHARS),
            max_tokens: self.model.max_tokens,
            tools: memory::tools(&scope),
            tool_rounds: Vec::new(),
        };
        let models: Vec<String> =
            std::iter::once(self.model.model.clone()).chain(self.model.fallbacks.iter().cloned()).collect();
        let sink = |text: &str| stream.delta(text);
        let mut usage = Usage::default();
        let outcome = loop {
            let step = tokio::select! {
                result = providers::complete(provider.as_ref(), &models, self.model.max_attempts, &request, &sink) => match result {
                    Ok(completion) => Outcome::Done(completion),
                    Err(error) => Outcome::Failed(error),
                },
                () = cancel.cancelled() => Outcome::Aborted,
            };
            let Outcome::Done(completion) = step else { break step };
            usage.add(&completion.usage);
            let wants_tools = !completion.tool_uses.is_empty() && request.tool_rounds.len() < memory::MAX_TOOL_ROUNDS;
            if !wants_tools {
                break Outcome::Done(completion);
            }
            // Run the tools and ask again; the reply keeps streaming into the same message.
            let results = completion
                .tool_uses
                .iter()
                .map(|call| (call.id.clone(), memory::run(&self.workspace, &scope, call)))
                .collect();
            request.tool_rounds.push(ToolRound { text: completion.text, calls: completion.tool_uses, results });
        };
        match outcome {
            Outcome::Done(completion) => {
                let text = stream.partial();
                self.store_reply(
                    &session_key,
                    &run_id,
                    text.clone(),
                    Some(completion.model.clone()),
                    &completion.stop_reason,
                    usage,
                )
                .await;
                stream.emit(ChatStep::Final {
                    message: AssistantMessage::text(&text),
                    usage,
                    stop_reason: completion.stop_reason,
                    model: completion.model,
                });
            }
            Outcome::Failed(error) => {
                let partial = stream.partial();
                if !partial.is_empty() {
                    self.store_reply(&session_key, &run_id, partial, None, "error", Usage::default()).await;
                }
                tracing::warn!(run = %run_id, error = %error, "turn failed");
                let kind = error.protocol_kind();
                stream.fail(error.message, kind);
            }
            Outcome::Aborted => {
                let partial = stream.partial();
                if !partial.is_empty() {
                    self.store_reply(&session_key, &run_id, partial.clone(), None, "aborted", Usage::default()).await;
                }
                stream.emit(aborted(&partial));
            }
        }
        self.events.session_changed(&session_key, ChangeReason::Message);
    }

    async fn store_reply(
        &self,
        session_key: &SessionKey,
        run_id: &RunId,
        content: String,
        model: Option<String>,
        stop_reason: &str,
        usage: Usage,
    ) {
        let message = NewMessage {
            session_key: session_key.clone(),
            run_id: run_id.clone(),
            role: MessageRole::Assistant,
            content,
            idempotency_key: None,
            model,
            stop_reason: Some(stop_reason.to_owned()),
            usage,
        };
        if let Err(error) = self.store.append_message(message).await {
            tracing::error!(%error, run = %run_id, "cannot store the assistant's reply");
        }
    }
}
