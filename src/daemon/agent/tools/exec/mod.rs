//! `exec`: runs a shell command for the operator, in the workspace, on the gateway's machine.
//! Off unless `MOLT_EXEC` says `approve` (every command not on the allowlist waits for the
//! operator's `allow-once`, `allow-always` or `deny`) or `allowlist` (only allowlisted commands
//! run; the rest are refused without asking). Never a guest's: only the operator's devices and
//! own chat IDs can cause a command, whatever is granted. `approvals.rs` holds the waiting,
//! `allowlist.rs` what runs without asking, `run.rs` the process itself.

mod allowlist;
mod approvals;
mod run;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

pub use allowlist::{AllowEntry, AllowlistError, PatternError};
pub use approvals::{Answer, ExecApprovals, Notice, ResolveError, Resolver};

use super::workspace_path::Workspace;
use super::{Access, Registry, Tool, ToolContext, ToolError, ToolFuture, arguments};
use crate::core::asker::{Asker, Rights};
use crate::core::protocol::exec::{ExecDecision, ExecRequest, Unanswered};
use crate::core::settings::ExecMode;
use crate::daemon::providers::ToolSpec;
use run::{Ending, Finished};

pub const EXEC: &str = "exec";
/// A command's time limit when the model gives none, and the most it may ask for.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_TIMEOUT: Duration = Duration::from_secs(600);
/// Longest command accepted, in bytes.
const MAX_COMMAND_BYTES: usize = 8 * 1024;

/// Offers `exec` unless `MOLT_EXEC` is `off` (or tools are off), or the machine has no shell
/// (the distroless deploy images have none).
pub fn offer(registry: &mut Registry, approvals: Arc<ExecApprovals>) {
    if approvals.mode() == ExecMode::Off {
        return;
    }
    if !std::path::Path::new(run::SHELL).exists() {
        tracing::warn!(
            shell = run::SHELL,
            "MOLT_EXEC is on but this machine has no shell: the `exec` tool is not offered"
        );
        return;
    }
    registry.add(Arc::new(Exec { approvals }));
}

struct Exec {
    approvals: Arc<ExecApprovals>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    command: String,
    #[serde(default)]
    cwd: Option<String>,
    #[serde(default)]
    timeout_secs: Option<u64>,
}

impl Tool for Exec {
    fn spec(&self) -> ToolSpec {
        let asks = match self.approvals.mode() {
            ExecMode::Approve => {
                "The operator approves each command that is not on their allowlist; a denied or unanswered command does not run."
            }
            _ => "Only commands on the operator's allowlist run; any other is refused.",
        };
        ToolSpec {
            name: EXEC.into(),
            description: format!(
                "Run a shell command (`sh -c`) on the operator's machine, in the workspace folder. {asks} \
                 The command gets only PATH, HOME (the workspace) and LANG in its environment, no input, and \
                 {default} s to finish (at most {max} s); everything it started is stopped when it ends. \
                 Returns the exit code, stdout and stderr (each cut at 32 KiB). Prefer the file tools for \
                 reading and writing files.",
                default = DEFAULT_TIMEOUT.as_secs(),
                max = MAX_TIMEOUT.as_secs(),
            ),
            input_schema: json!({
                "type": "object",
                "properties": {
                    "command": {"type": "string", "description": "The command line, as typed in a shell."},
                    "cwd": {"type": "string", "description": "A folder of the workspace to run in, relative to it; the workspace itself by default."},
                    "timeout_secs": {"type": "integer", "minimum": 1, "maximum": MAX_TIMEOUT.as_secs(), "description": "Seconds the command may run."},
                },
                "required": ["command"],
                "additionalProperties": false,
            }),
        }
    }

    fn access(&self) -> Access {
        Access::Act
    }

    fn call_timeout(&self, _round: Duration) -> Duration {
        // The wait for the operator and the command's own limit, both bounded here.
        let asking = if self.approvals.mode() == ExecMode::Approve { self.approvals.timeout() } else { Duration::ZERO };
        asking + MAX_TIMEOUT + Duration::from_secs(5)
    }

    fn call<'a>(&'a self, input: Value, context: &'a ToolContext) -> ToolFuture<'a> {
        Box::pin(async move {
            let Input { command, cwd, timeout_secs } = arguments(input)?;
            // The registry never offers it to a guest; this holds even if a grant slipped by.
            if context.rights() != Rights::Operator {
                return Err(ToolError::new("refused: `exec` is the operator's alone"));
            }
            let command = checked_command(&command)?;
            let workspace = Workspace::open(&context.workspace, &context.scope)
                .map_err(|error| ToolError::new(error.to_string()))?;
            let folder = match cwd.as_deref().map(str::trim).filter(|cwd| !cwd.is_empty()) {
                None => workspace.root(),
                Some(raw) => workspace.resolve(raw).map_err(|error| ToolError::new(error.to_string()))?,
            };
            if !folder.absolute().is_dir() {
                return Err(ToolError::new(format!("`{}` is not a folder of the workspace", folder.shown())));
            }
            let limit = timeout_secs
                .map_or(DEFAULT_TIMEOUT, |secs| Duration::from_secs(secs).clamp(Duration::from_secs(1), MAX_TIMEOUT));
            let request = ExecRequest {
                command: command.clone(),
                cwd: (!folder.is_root()).then(|| folder.relative().to_owned()),
                host: "gateway".into(),
                agent_id: Some("main".into()),
                session_key: Some(context.session_key.clone()),
                asked_by: Some(asked_by(&context.asker)),
                timeout_secs: Some(limit.as_secs()),
            };
            let allowed = self.permission(request).await?;
            let home = workspace.root();
            let finished = run::run(&command, folder.absolute(), home.absolute(), limit, || {
                tracing::info!(%allowed, timeout_secs = limit.as_secs(), "running a command");
            })
            .await
            .map_err(|error| ToolError::new(error.to_string()))?;
            report(&command, &finished)
        })
    }
}

impl Exec {
    /// Why the command may run (`allowlisted by …`, `allowed once by …`), or the refusal the
    /// model reads.
    async fn permission(&self, request: ExecRequest) -> Result<String, ToolError> {
        let covering = self.approvals.allowlist().covering(&request.command).await;
        let covering = covering.map_err(|error| ToolError::new(format!("the allowlist cannot be read: {error}")))?;
        if let Some(pattern) = covering {
            return Ok(format!("allowlisted by `{pattern}`"));
        }
        let command = request.command.clone();
        if self.approvals.mode() != ExecMode::Approve {
            return Err(ToolError::new(format!(
                "refused: `{command}` is not on the operator's allowlist, so it did not run; the operator can add it on the admin page"
            )));
        }
        match self.approvals.ask(request).await {
            Answer::Decided { decision: ExecDecision::Deny, by } => {
                Err(ToolError::new(format!("refused: the operator ({by}) denied `{command}`; it did not run")))
            }
            Answer::Decided { decision, by } => Ok(format!("{} by {by}", decision.as_str())),
            Answer::Unanswered(Unanswered::Expired) => Err(ToolError::new(format!(
                "refused: nobody approved `{command}` within {} s; it did not run",
                self.approvals.timeout().as_secs()
            ))),
            Answer::Unanswered(Unanswered::Cancelled) => {
                Err(ToolError::new(format!("`{command}` was withdrawn before an answer; it did not run")))
            }
            Answer::Busy => Err(ToolError::new(
                "refused: too many commands already wait for the operator; try again once they are answered",
            )),
        }
    }
}

/// Who asked, as the approval shows it.
fn asked_by(asker: &Asker) -> String {
    match asker {
        Asker::Operator => "operator".to_owned(),
        Asker::Sender { channel, sender_id } => format!("{channel}:{sender_id}"),
    }
}

fn checked_command(raw: &str) -> Result<String, ToolError> {
    let command = raw.trim();
    if command.is_empty() {
        return Err(ToolError::new("the command is empty"));
    }
    if command.len() > MAX_COMMAND_BYTES {
        return Err(ToolError::new(format!("the command is longer than {MAX_COMMAND_BYTES} bytes")));
    }
    if command.contains('\0') {
        return Err(ToolError::new("the command contains a NUL byte"));
    }
    Ok(command.to_owned())
}

/// The result the model reads: how the command ended, then its output.
fn report(command: &str, finished: &Finished) -> Result<String, ToolError> {
    let mut text = match finished.ending {
        Ending::Exited(code) => format!("exit code: {code}"),
        Ending::Signalled(signal) => format!("killed by signal {signal}"),
        Ending::TimedOut(limit) => {
            format!("timed out after {} s: `{command}` and everything it started were stopped", limit.as_secs())
        }
    };
    for (name, captured) in [("stdout", &finished.stdout), ("stderr", &finished.stderr)] {
        if captured.total > 0 {
            if !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&format!("--- {name} ---\n{}", captured.text()));
        }
    }
    if finished.stdout.total == 0 && finished.stderr.total == 0 {
        text.push_str("\n(no output)");
    }
    match finished.ending {
        Ending::TimedOut(_) => Err(ToolError::new(text)),
        _ => Ok(text),
    }
}
