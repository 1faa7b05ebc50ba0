//! One agent turn: prompt → provider stream → `chat` events → the reply stored with its usage.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::{Agent, lock, memory, prompt};
use crate::core::asker::MemoryScope;
use crate::core::ids::{RunId, SessionKey};
use crate::core::scopes::Scope;
use crate::core::settings::NO_PROVIDER_HINT;
use crate::core::time::now_ms;
use crate::daemon::events::RunStep;
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
            self.emit("error", json!({"errorMessage": message, "errorKind": "unknown"}));
        } else {
            self.emit("aborted", json!({"message": assistant_message(&self.partial()), "stopReason": "aborted"}));
        }
    }
}

impl ChatStream<'_> {
    /// A terminal event (`final`, `aborted`, `error`): it ends the run.
    fn emit(&self, state: &str, fields: Value) {
        self.ended.store(true, Ordering::Relaxed);
        self.publish(state, fields, None);
    }

    fn publish(&self, state: &str, mut fields: Value, added: Option<String>) {
        fields["runId"] = json!(self.run_id);
        fields["sessionKey"] = json!(self.session_key);
        fields["seq"] = json!(self.seq.fetch_add(1, Ordering::Relaxed));
        fields["state"] = json!(state);
        let step = RunStep { run_id: self.run_id.to_string(), added };
        self.agent.events.publish_chat(Scope::Read, &fields, step);
    }

    /// A delta carries only its new text, so a reply costs linear bytes; connections whose
    /// clients need the cumulative `message` add it themselves (`ws/cumulative.rs`).
    fn delta(&self, text: &str) {
        lock(&self.text).push_str(text);
        self.publish("delta", json!({"deltaText": text}), Some(text.to_owned()));
    }

    fn partial(&self) -> String {
        lock(&self.text).clone()
    }
}

fn assistant_message(text: &str) -> Value {
    json!({"role": "assistant", "content": [{"type": "text", "text": text}], "timestamp": now_ms()})
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
                stream.emit("aborted", json!({}));
                return;
            }
        };
        let Some(provider) = self.provider.clone() else {
            stream.emit("error", json!({"errorMessage": NO_PROVIDER_HINT, "errorKind": "unknown"}));
            return;
        };
        let history = match self.store.history(&session_key, HISTORY_LIMIT).await {
            Ok(history) => history,
            Err(error) => {
                tracing::error!(%error, "cannot read history for a turn");
                stream.emit(
                    "error",
                    json!({"errorMessage": format!("cannot read the conversation: {error}"), "errorKind": "unknown"}),
                );
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
            usage = add(usage, completion.usage);
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
                stream.emit(
                    "final",
                    json!({"message": assistant_message(&text), "usage": usage, "stopReason": completion.stop_reason, "model": completion.model}),
                );
            }
            Outcome::Failed(error) => {
                let partial = stream.partial();
                if !partial.is_empty() {
                    self.store_reply(&session_key, &run_id, partial, None, "error", Usage::default()).await;
                }
                tracing::warn!(run = %run_id, error = %error, "turn failed");
                stream.emit("error", json!({"errorMessage": error.message, "errorKind": error.protocol_kind()}));
            }
            Outcome::Aborted => {
                let partial = stream.partial();
                if !partial.is_empty() {
                    self.store_reply(&session_key, &run_id, partial.clone(), None, "aborted", Usage::default()).await;
                }
                stream.emit("aborted", json!({"message": assistant_message(&partial), "stopReason": "aborted"}));
            }
        }
        self.events.publish("sessions.changed", Scope::Read, &json!({"sessionKey": session_key, "reason": "message"}));
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

fn add(total: Usage, more: Usage) -> Usage {
    Usage {
        input_tokens: total.input_tokens + more.input_tokens,
        output_tokens: total.output_tokens + more.output_tokens,
        cache_read_tokens: total.cache_read_tokens + more.cache_read_tokens,
        cache_write_tokens: total.cache_write_tokens + more.cache_write_tokens,
    }
}
