//! One agent turn: prompt → provider stream → `chat` events → the reply stored with its usage.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio_util::sync::CancellationToken;

use super::tools::{self, CallOutcome, RoundLimits, ToolContext};
use super::{Agent, lock};
use crate::core::asker::Asker;
use crate::core::ids::{RunId, SessionKey};
use crate::core::protocol::agent::{AgentEvent, AgentStream, ToolCallRecord, ToolEvent, ToolPhase};
use crate::core::protocol::sessions::ChangeReason;
use crate::core::protocol::{AssistantMessage, ChatEvent, ChatStep, ErrorKind};
use crate::core::settings::NO_PROVIDER_HINT;
use crate::core::time::now_ms;
use crate::daemon::providers::{self, ProviderError, ToolResult, ToolRound, ToolUse};
use crate::daemon::store::{MessageRole, NewMessage, Usage};

/// Emits the `chat` events of one run with their per-run `seq`. Dropped before the run ended
/// (a panic unwinding the turn, or the turn's task dropped), it still tells the clients.
struct ChatStream<'a> {
    agent: &'a Agent,
    run_id: &'a RunId,
    session_key: &'a SessionKey,
    seq: AtomicU64,
    text: Mutex<String>,
    /// Tool calls of this run: finished ones as stored, and those still running.
    tools: Mutex<Vec<ToolCallRecord>>,
    running: Mutex<Vec<ToolUse>>,
    ended: AtomicBool,
}

impl Drop for ChatStream<'_> {
    fn drop(&mut self) {
        if self.ended.load(Ordering::Relaxed) {
            return;
        }
        self.end_running_tools();
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

    fn tool_started(&self, call: &ToolUse) {
        lock(&self.running).push(call.clone());
        self.publish_tool(ToolEvent {
            phase: ToolPhase::Start,
            tool_call_id: call.id.clone(),
            name: call.name.clone(),
            args: Some(call.input.clone()),
            result: None,
            is_error: false,
        });
    }

    fn tool_done(&self, outcome: &CallOutcome) {
        lock(&self.running).retain(|call| call.id != outcome.call.id);
        self.publish_tool(ToolEvent {
            phase: ToolPhase::Result,
            tool_call_id: outcome.call.id.clone(),
            name: outcome.call.name.clone(),
            args: None,
            result: Some(outcome.result.clone()),
            is_error: outcome.is_error,
        });
    }

    /// Keeps a round's calls, in the order the model asked for them, for the stored reply.
    fn record(&self, outcomes: &[CallOutcome]) {
        lock(&self.tools).extend(outcomes.iter().map(|outcome| ToolCallRecord {
            tool_call_id: outcome.call.id.clone(),
            name: outcome.call.name.clone(),
            args: outcome.call.input.clone(),
            result: with_image_note(&outcome.result, &outcome.images),
            is_error: outcome.is_error,
        }));
    }

    /// Calls cut short by an abort end as failed, so no client shows them running forever.
    fn end_running_tools(&self) {
        let running = std::mem::take(&mut *lock(&self.running));
        let outcomes: Vec<CallOutcome> = running
            .into_iter()
            .map(|call| CallOutcome {
                call,
                result: "aborted before it finished".into(),
                is_error: true,
                images: Vec::new(),
            })
            .collect();
        for outcome in &outcomes {
            self.tool_done(outcome);
        }
        self.record(&outcomes);
    }

    fn publish_tool(&self, data: ToolEvent) {
        self.agent.events.publish_tool(AgentEvent {
            run_id: self.run_id.clone(),
            session_key: self.session_key.clone(),
            seq: self.seq.fetch_add(1, Ordering::Relaxed),
            stream: AgentStream::Tool,
            ts: now_ms(),
            data,
        });
    }

    fn recorded_tools(&self) -> Vec<ToolCallRecord> {
        lock(&self.tools).clone()
    }

    fn partial(&self) -> String {
        lock(&self.text).clone()
    }

    fn fail(&self, message: String, kind: ErrorKind) {
        self.emit(ChatStep::Error { error_message: message, error_kind: kind });
    }
}

/// A result as stored and shown: its images named, not kept (they would swell the store).
fn with_image_note(text: &str, images: &[crate::daemon::providers::ToolImage]) -> String {
    let mut shown = text.to_owned();
    for image in images {
        shown.push_str(&format!("\n[image: {}, {} bytes of base64]", image.media_type, image.data.len()));
    }
    shown
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
        asker: Asker,
    ) {
        let stream = ChatStream {
            agent: self,
            run_id: &run_id,
            session_key: &session_key,
            seq: AtomicU64::new(0),
            text: Mutex::new(String::new()),
            tools: Mutex::new(Vec::new()),
            running: Mutex::new(Vec::new()),
            ended: AtomicBool::new(false),
        };
        let scope = asker.memory_scope(&self.operators);
        let rights = asker.rights(&self.operators);
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
        let prepared = match self.prepare(provider.as_ref(), &session_key, &scope, rights, false).await {
            Ok(prepared) => prepared,
            Err(error) => {
                tracing::error!(%error, "cannot read history for a turn");
                stream.fail(format!("cannot read the conversation: {error}"), ErrorKind::Unknown);
                return;
            }
        };
        let (mut request, models) = (prepared.request, prepared.models);
        let context = ToolContext {
            workspace: self.workspace.clone(),
            store: self.store.clone(),
            session_key: session_key.clone(),
            asker,
            scope,
        };
        let limits = RoundLimits {
            call_timeout: self.tool_settings.call_timeout,
            max_result_bytes: self.tool_settings.max_result_bytes,
        };
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
            if completion.tool_uses.is_empty() {
                break Outcome::Done(completion);
            }
            if request.tool_rounds.len() >= self.tool_settings.max_rounds {
                tracing::warn!(run = %run_id, rounds = request.tool_rounds.len(), "a turn reached its tool-round limit");
                let rounds = request.tool_rounds.len();
                stream.delta(&format!("\n\n[stopped: this turn reached its limit of {rounds} tool rounds]"));
                break Outcome::Done(completion);
            }
            // Run the tools and ask again; the reply keeps streaming into the same message.
            let started = |call: &ToolUse| stream.tool_started(call);
            let done = |outcome: &CallOutcome| stream.tool_done(outcome);
            let round = tools::run_round(&self.tools, &completion.tool_uses, rights, &context, limits, &started, &done);
            let outcomes = tokio::select! {
                outcomes = round => Some(outcomes),
                () = cancel.cancelled() => None,
            };
            let Some(outcomes) = outcomes else { break Outcome::Aborted };
            stream.record(&outcomes);
            let results = outcomes
                .into_iter()
                .map(|outcome| ToolResult {
                    tool_use_id: outcome.call.id,
                    content: outcome.result,
                    is_error: outcome.is_error,
                    images: outcome.images,
                })
                .collect();
            request.tool_rounds.push(ToolRound { text: completion.text, calls: completion.tool_uses, results });
        };
        stream.end_running_tools();
        match outcome {
            Outcome::Done(completion) => {
                let text = stream.partial();
                let reply = Reply { content: text.clone(), model: Some(completion.model.clone()), usage };
                self.store_reply(&session_key, &run_id, reply, &completion.stop_reason, stream.recorded_tools()).await;
                stream.emit(ChatStep::Final {
                    message: AssistantMessage::text(&text),
                    usage,
                    stop_reason: completion.stop_reason,
                    model: completion.model,
                });
            }
            Outcome::Failed(error) => {
                let partial = stream.partial();
                let tools = stream.recorded_tools();
                if !partial.is_empty() || !tools.is_empty() {
                    let reply = Reply { content: partial, model: None, usage };
                    self.store_reply(&session_key, &run_id, reply, "error", tools).await;
                }
                tracing::warn!(run = %run_id, error = %error, "turn failed");
                let kind = error.protocol_kind();
                stream.fail(error.message, kind);
            }
            Outcome::Aborted => {
                let partial = stream.partial();
                let tools = stream.recorded_tools();
                if !partial.is_empty() || !tools.is_empty() {
                    let reply = Reply { content: partial.clone(), model: None, usage };
                    self.store_reply(&session_key, &run_id, reply, "aborted", tools).await;
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
        reply: Reply,
        stop_reason: &str,
        tools: Vec<ToolCallRecord>,
    ) {
        let message = NewMessage {
            session_key: session_key.clone(),
            run_id: run_id.clone(),
            role: MessageRole::Assistant,
            content: reply.content,
            idempotency_key: None,
            model: reply.model,
            stop_reason: Some(stop_reason.to_owned()),
            usage: reply.usage,
            tools,
        };
        if let Err(error) = self.store.append_message(message).await {
            tracing::error!(%error, run = %run_id, "cannot store the assistant's reply");
        }
    }
}

/// A reply as far as it got.
struct Reply {
    content: String,
    model: Option<String>,
    usage: Usage,
}
