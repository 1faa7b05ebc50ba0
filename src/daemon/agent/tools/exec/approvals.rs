//! Commands waiting for the operator. A command not on the allowlist is put here, announced as
//! `exec.approval.requested` to every connection holding `operator.approvals` (and, typed, to
//! the chat platforms that forward it to the operator's chat), and waits for
//! `exec.approval.resolve`, its time limit (then it is denied) or its call being dropped; each
//! way ends with `exec.approval.resolved`. Pending commands live in memory only: a restart
//! ends their turns anyway. Every answer is in the audit log.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{broadcast, oneshot};

use super::allowlist::{Allowlist, AllowlistError, PatternError, checked_pattern, covers};
use crate::core::asker::OperatorIds;
use crate::core::protocol::events::AuditAppended;
use crate::core::protocol::exec::{ExecApprovalRequested, ExecApprovalResolved, ExecDecision, ExecRequest, Unanswered};
use crate::core::settings::{ExecMode, ToolSettings};
use crate::core::sync::lock;
use crate::core::time::now_ms;
use crate::daemon::events::EventBus;
use crate::daemon::store::{Store, StoreError};

/// Commands waiting at once at most; one more is refused without asking.
const MAX_PENDING: usize = 32;

/// What the chat platforms hear: the same events, typed.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    Requested(ExecApprovalRequested),
    Resolved(ExecApprovalResolved),
}

/// Who answered, for the event and the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolver {
    pub name: String,
    pub address: Option<String>,
}

/// How waiting for the operator ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Decided {
        decision: ExecDecision,
        by: String,
    },
    Unanswered(Unanswered),
    /// Too many commands wait already.
    Busy,
}

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("unknown or expired approval id")]
    Unknown,
    #[error(transparent)]
    Pattern(#[from] PatternError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<AllowlistError> for ResolveError {
    fn from(error: AllowlistError) -> Self {
        match error {
            AllowlistError::Pattern(error) => Self::Pattern(error),
            AllowlistError::Store(error) => Self::Store(error),
            AllowlistError::Unknown(_) => Self::Unknown,
        }
    }
}

struct Pending {
    requested: ExecApprovalRequested,
    answer: oneshot::Sender<(ExecDecision, String)>,
}

pub struct ExecApprovals {
    mode: ExecMode,
    timeout: Duration,
    store: Store,
    events: EventBus,
    allowlist: Allowlist,
    pending: Mutex<Vec<Pending>>,
    notices: broadcast::Sender<Notice>,
    operators: OperatorIds,
}

impl ExecApprovals {
    pub fn new(store: Store, events: EventBus, settings: &ToolSettings, operators: OperatorIds) -> Arc<Self> {
        Arc::new(Self {
            mode: if settings.enabled { settings.exec } else { ExecMode::Off },
            timeout: settings.exec_approval_timeout,
            allowlist: Allowlist::new(store.clone()),
            store,
            events,
            pending: Mutex::new(Vec::new()),
            notices: broadcast::Sender::new(64),
            operators,
        })
    }

    pub fn mode(&self) -> ExecMode {
        self.mode
    }

    /// How long a command waits for the operator.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub fn allowlist(&self) -> &Allowlist {
        &self.allowlist
    }

    /// The chat where the operator answers on `channel`: the first of their own IDs there.
    pub fn operator_chat(&self, channel: &str) -> Option<String> {
        self.operators.first(channel).map(str::to_owned)
    }

    /// Whether `sender_id` on `channel` is the operator.
    pub fn is_operator(&self, channel: &str, sender_id: &str) -> bool {
        self.operators.contains(channel, sender_id)
    }

    /// Requests and resolutions from now on, for a chat platform's forwarder.
    pub fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.notices.subscribe()
    }

    /// What waits now, oldest first.
    pub fn pending(&self) -> Vec<ExecApprovalRequested> {
        lock(&self.pending).iter().map(|pending| pending.requested.clone()).collect()
    }

    /// Announces `request` and waits for the operator, at most the time limit. Dropping the
    /// future (the turn aborted) withdraws the request.
    pub async fn ask(&self, request: ExecRequest) -> Answer {
        let now = now_ms();
        let expires = now.saturating_add(i64::try_from(self.timeout.as_millis()).unwrap_or(i64::MAX));
        let requested = ExecApprovalRequested {
            id: uuid::Uuid::new_v4().to_string(),
            request,
            created_at_ms: now,
            expires_at_ms: expires,
        };
        let (sender, receiver) = oneshot::channel();
        {
            let mut pending = lock(&self.pending);
            if pending.len() >= MAX_PENDING {
                return Answer::Busy;
            }
            pending.push(Pending { requested: requested.clone(), answer: sender });
        }
        let mut waiting = Waiting { approvals: self, id: requested.id.clone(), settled: false };
        tracing::info!(id = %requested.id, "a command waits for the operator's approval");
        self.events.emit(&requested);
        let _ = self.notices.send(Notice::Requested(requested));
        let answer = match tokio::time::timeout(self.timeout, receiver).await {
            Ok(Ok((decision, by))) => Answer::Decided { decision, by },
            Ok(Err(_)) => Answer::Unanswered(Unanswered::Cancelled),
            Err(_) => Answer::Unanswered(Unanswered::Expired),
        };
        if let Answer::Unanswered(reason) = &answer {
            waiting.withdraw(*reason);
        }
        waiting.settled = true;
        answer
    }

    /// The operator's answer to `id`. `allow-always` adds `pattern` (or the exact command) to
    /// the allowlist first; a pattern that does not cover the command is refused and the
    /// command keeps waiting.
    pub async fn resolve(
        &self,
        id: &str,
        decision: ExecDecision,
        pattern: Option<&str>,
        resolver: &Resolver,
    ) -> Result<ExecApprovalResolved, ResolveError> {
        let request = lock(&self.pending)
            .iter()
            .find(|pending| pending.requested.id == id)
            .map(|pending| pending.requested.request.clone())
            .ok_or(ResolveError::Unknown)?;
        let added = match decision {
            ExecDecision::AllowAlways => {
                let pattern = checked_pattern(pattern.unwrap_or(&request.command))?;
                if !covers(&pattern, &request.command) {
                    return Err(PatternError::NotCovering { pattern, command: request.command }.into());
                }
                self.allowlist.add(&pattern, &resolver.name).await?;
                Some(pattern)
            }
            ExecDecision::AllowOnce | ExecDecision::Deny => None,
        };
        // Claimed here, once: a second answer (another client, a double click) finds nothing.
        let claimed = {
            let mut pending = lock(&self.pending);
            let index = pending.iter().position(|pending| pending.requested.id == id);
            index.map(|index| pending.remove(index))
        };
        let Some(claimed) = claimed else { return Err(ResolveError::Unknown) };
        let _ = claimed.answer.send((decision, resolver.name.clone()));
        let resolved = ExecApprovalResolved {
            id: id.to_owned(),
            decision,
            resolved_by: Some(resolver.name.clone()),
            ts: now_ms(),
            request: Some(request),
            pattern: added,
            reason: None,
        };
        tracing::info!(id, decision = decision.as_str(), by = %resolver.name, "a command's approval was answered");
        self.audit(&resolver.name, resolver.address.as_deref(), &resolved).await;
        self.announce(resolved.clone());
        Ok(resolved)
    }

    /// Removes an allowlist entry; audited.
    pub async fn remove_allowed(&self, pattern: &str, resolver: &Resolver) -> Result<(), AllowlistError> {
        self.allowlist.remove(pattern).await?;
        let address = resolver.address.as_deref();
        if let Err(error) = self.store.audit(&resolver.name, "exec.allowlist.remove", pattern, address, None).await {
            tracing::error!(%error, "cannot write the audit log");
        }
        self.events.emit(&AuditAppended { action: "exec.allowlist.remove".into(), target: pattern.to_owned() });
        Ok(())
    }

    async fn audit(&self, actor: &str, address: Option<&str>, resolved: &ExecApprovalResolved) {
        let action = format!("exec.{}", resolved.decision.as_str());
        let command = resolved.request.as_ref().map_or("", |request| request.command.as_str());
        let detail = resolved.pattern.as_deref();
        if let Err(error) = self.store.audit(actor, &action, command, address, detail).await {
            tracing::error!(%error, "cannot write the audit log");
        }
        self.events.emit(&AuditAppended { action, target: command.to_owned() });
    }

    fn announce(&self, resolved: ExecApprovalResolved) {
        self.events.emit(&resolved);
        let _ = self.notices.send(Notice::Resolved(resolved));
    }
}

/// One request while it waits: dropped unsettled (the call was cancelled), it withdraws it.
struct Waiting<'a> {
    approvals: &'a ExecApprovals,
    id: String,
    settled: bool,
}

impl Waiting<'_> {
    /// Removes the request if it still waits and tells everyone it will not run.
    fn withdraw(&mut self, reason: Unanswered) {
        self.settled = true;
        let removed = {
            let mut pending = lock(&self.approvals.pending);
            let index = pending.iter().position(|pending| pending.requested.id == self.id);
            index.map(|index| pending.remove(index))
        };
        let Some(removed) = removed else { return };
        tracing::info!(id = %self.id, ?reason, "a command stopped waiting for approval; it does not run");
        self.approvals.announce(ExecApprovalResolved {
            id: self.id.clone(),
            decision: ExecDecision::Deny,
            resolved_by: None,
            ts: now_ms(),
            request: Some(removed.requested.request),
            pattern: None,
            reason: Some(reason),
        });
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if !self.settled {
            self.withdraw(Unanswered::Cancelled);
        }
    }
}
