//! Agent turns: `chat.send` stores the user's message, answers at once, and streams the model's
//! reply as `chat` events; runs can be aborted, and a stop drains or aborts them.

mod budget;
mod commands;
mod compaction;
mod error;
mod grants;
mod prompt;
mod skills;
pub mod tools;
mod turn;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use error::AgentError;
pub use grants::{GrantError, ToolView, ToolsView};
pub use prompt::WORKSPACE_FILES;
pub use skills::{SkillView, SkillsError, SkillsView};

use crate::core::asker::{Asker, OperatorIds};
use crate::core::ids::{RunId, SessionKey};
use crate::core::protocol::sessions::{AbortResult, ChangeReason, ChatSendAck, SendStatus};
use crate::core::protocol::{AssistantMessage, ChatEvent, ChatStep};
use crate::core::settings::{ModelSettings, Settings, ToolSettings};
use crate::core::sync::lock;
use crate::daemon::events::EventBus;
use crate::daemon::providers::{self, Provider};
use tools::Registry;

use crate::daemon::store::{Appended, MessageRole, NewMessage, Store, Usage};

/// Longest user message accepted, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;

struct ActiveRun {
    session_key: SessionKey,
    cancel: CancellationToken,
}

pub struct Agent {
    store: Store,
    provider: Option<Arc<dyn Provider>>,
    model: ModelSettings,
    workspace: PathBuf,
    events: EventBus,
    runs: Mutex<HashMap<RunId, ActiveRun>>,
    /// One turn at a time per session, in the order they were sent.
    session_locks: Mutex<HashMap<SessionKey, Arc<tokio::sync::Mutex<()>>>>,
    /// When each session's last compaction failed (`compaction.rs`).
    compaction_failures: Mutex<HashMap<SessionKey, std::time::Instant>>,
    tracker: TaskTracker,
    closing: AtomicBool,
    /// The operator's own chat IDs: they write shared memory and use every tool.
    operators: OperatorIds,
    tools: Registry,
    tool_settings: ToolSettings,
    skills: skills::Skills,
    /// Commands waiting for the operator, and what `exec` runs without asking.
    exec: Arc<tools::exec::ExecApprovals>,
}

/// What an agent is built from besides its store and bus.
pub struct AgentParts {
    pub provider: Option<Arc<dyn Provider>>,
    pub model: ModelSettings,
    pub workspace: PathBuf,
    pub operators: OperatorIds,
    pub tools: Registry,
    pub tool_settings: ToolSettings,
}

impl AgentParts {
    /// The parts the settings describe: their provider, model, tools and operator IDs.
    pub fn from_settings(settings: &Settings, workspace: PathBuf) -> Self {
        Self {
            provider: providers::from_settings(&settings.model),
            model: settings.model.clone(),
            workspace,
            operators: OperatorIds::from_seeds(&settings.auth.channel_seeds),
            tools: Registry::built_in(&settings.tools),
            tool_settings: settings.tools.clone(),
        }
    }
}

impl Agent {
    pub fn new(store: Store, events: EventBus, mut parts: AgentParts) -> Arc<Self> {
        let exec = tools::exec::ExecApprovals::new(
            store.clone(),
            events.clone(),
            &parts.tool_settings,
            parts.operators.clone(),
        );
        tools::exec::offer(&mut parts.tools, Arc::clone(&exec));
        Arc::new(Self {
            store,
            provider: parts.provider,
            model: parts.model,
            skills: skills::Skills::new(&parts.workspace),
            workspace: parts.workspace,
            events,
            runs: Mutex::new(HashMap::new()),
            session_locks: Mutex::new(HashMap::new()),
            compaction_failures: Mutex::new(HashMap::new()),
            tracker: TaskTracker::new(),
            closing: AtomicBool::new(false),
            operators: parts.operators,
            tools: parts.tools,
            tool_settings: parts.tool_settings,
            exec,
        })
    }

    /// The commands waiting for the operator, and the allowlist.
    pub fn exec_approvals(&self) -> &Arc<tools::exec::ExecApprovals> {
        &self.exec
    }

    pub fn provider_name(&self) -> Option<&str> {
        self.provider.as_deref().map(Provider::name)
    }

    pub fn model(&self) -> &ModelSettings {
        &self.model
    }

    pub fn active_runs(&self) -> usize {
        lock(&self.runs).len()
    }

    /// Stores the message (exactly once per idempotency key) and starts its turn.
    pub async fn send(
        self: &Arc<Self>,
        session_key: SessionKey,
        text: String,
        idempotency_key: String,
        asker: Asker,
    ) -> Result<ChatSendAck, AgentError> {
        if self.closing.load(Ordering::Acquire) {
            return Err(AgentError::Closing);
        }
        if text.trim().is_empty() {
            return Err(AgentError::Empty);
        }
        if text.len() > MAX_MESSAGE_BYTES {
            return Err(AgentError::TooLong(MAX_MESSAGE_BYTES));
        }
        let run_id = RunId::generate();
        if let Some(command) = commands::Command::parse(&text) {
            return Ok(self.start_command(command, session_key, run_id, asker));
        }
        let appended = self
            .store
            .append_message(NewMessage {
                session_key: session_key.clone(),
                run_id: run_id.clone(),
                role: MessageRole::User,
                content: text,
                idempotency_key: Some(idempotency_key),
                model: None,
                stop_reason: None,
                usage: Usage::default(),
                tools: Vec::new(),
            })
            .await
            .inspect_err(|error| tracing::error!(%error, "cannot store a chat message"))?;
        match appended {
            Appended::Duplicate { run_id, answered } => {
                let running = lock(&self.runs).contains_key(&run_id);
                let status = if running || !answered { SendStatus::InFlight } else { SendStatus::Ok };
                Ok(ChatSendAck { run_id, status })
            }
            Appended::Inserted(_) => {
                let cancel = CancellationToken::new();
                lock(&self.runs)
                    .insert(run_id.clone(), ActiveRun { session_key: session_key.clone(), cancel: cancel.clone() });
                self.events.session_changed(&session_key, ChangeReason::Message);
                let agent = Arc::clone(self);
                let turn_run = run_id.clone();
                self.tracker.spawn(async move {
                    // Unregistered on every path, a panic in the turn included.
                    let _registered = Registered { agent: &agent, run_id: &turn_run };
                    agent.run_turn(session_key, turn_run.clone(), cancel, asker).await;
                });
                Ok(ChatSendAck { run_id, status: SendStatus::Started })
            }
        }
    }

    /// Answers a command as a run of its own, after the caller has its acknowledgement and in
    /// turn with the session's other runs.
    fn start_command(
        self: &Arc<Self>,
        command: commands::Command,
        session_key: SessionKey,
        run_id: RunId,
        asker: Asker,
    ) -> ChatSendAck {
        let agent = Arc::clone(self);
        let run = run_id.clone();
        self.tracker.spawn(async move {
            let session_lock = agent.session_lock(&session_key);
            let _turn = session_lock.lock().await;
            let answer = agent.run_command(command, &session_key, &asker).await;
            agent.events.publish_chat(ChatEvent {
                run_id: run,
                session_key,
                seq: 0,
                step: ChatStep::Final {
                    message: AssistantMessage::text(&answer),
                    usage: Usage::default(),
                    stop_reason: "command".into(),
                    model: String::new(),
                },
            });
        });
        ChatSendAck { run_id, status: SendStatus::Started }
    }

    /// Aborts the session's runs (or just `run_id`); answers `chat.abort`'s payload.
    pub fn abort(&self, session_key: &SessionKey, run_id: Option<&RunId>) -> Result<AbortResult, AgentError> {
        let runs = lock(&self.runs);
        let mut aborted = Vec::new();
        match run_id {
            Some(run_id) => {
                if let Some(run) = runs.get(run_id) {
                    if &run.session_key != session_key {
                        return Err(AgentError::RunMismatch);
                    }
                    run.cancel.cancel();
                    aborted.push(run_id.clone());
                }
            }
            None => {
                for (id, run) in runs.iter().filter(|(_, run)| &run.session_key == session_key) {
                    run.cancel.cancel();
                    aborted.push(id.clone());
                }
            }
        }
        Ok(AbortResult { ok: true, aborted: !aborted.is_empty(), run_ids: aborted })
    }

    /// Refuses new turns, lets running ones finish within `grace`, then aborts the rest (each
    /// stores what it streamed so far) and waits for them to record it.
    pub async fn shutdown(&self, grace: Duration) {
        self.closing.store(true, Ordering::Release);
        self.tracker.close();
        if tokio::time::timeout(grace, self.tracker.wait()).await.is_ok() {
            return;
        }
        let pending = {
            let runs = lock(&self.runs);
            for run in runs.values() {
                run.cancel.cancel();
            }
            runs.len()
        };
        tracing::info!(pending, "aborting turns still running at shutdown");
        if tokio::time::timeout(Duration::from_secs(5), self.tracker.wait()).await.is_err() {
            tracing::error!("turns did not stop within 5 s of being aborted");
        }
    }

    fn session_lock(&self, key: &SessionKey) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = lock(&self.session_locks);
        locks.retain(|_, held| Arc::strong_count(held) > 1);
        Arc::clone(locks.entry(key.clone()).or_default())
    }
}

/// A running turn's entry in `runs`, removed when the turn's task ends however it ends.
struct Registered<'a> {
    agent: &'a Agent,
    run_id: &'a RunId,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        lock(&self.agent.runs).remove(self.run_id);
    }
}

#[cfg(test)]
mod tests;
