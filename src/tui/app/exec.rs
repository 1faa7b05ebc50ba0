//! Commands waiting for the operator's approval (`exec.approval.*`): listed first in the
//! approvals panel; `a` allows once, `A` allows always (the confirmation lets the operator
//! shorten the allowlist entry to a prefix ending in `*`), `r` denies; each asks first.

use crossterm::event::{KeyCode, KeyEvent};
use serde_json::{Value, json};

use super::{App, Confirm, Effect, Purpose};
use crate::core::protocol::exec::{ExecApprovalList, ExecApprovalRequested, ExecDecision};
use crate::tui::wire::ServerError;

/// `git status` shown in one line, cut at `max` characters.
pub fn short_command(command: &str, max: usize) -> String {
    let line = command.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}

impl App {
    pub(super) fn exec_list_call(&mut self) -> Effect {
        self.call(Purpose::Execs, "exec.approval.list", json!({}))
    }

    /// `exec.approval.requested` and `exec.approval.resolved`.
    pub(super) fn on_exec_event(&mut self, name: &str, payload: &Value) {
        match name {
            "exec.approval.requested" => {
                if let Ok(requested) = serde_json::from_value::<ExecApprovalRequested>(payload.clone()) {
                    self.execs.retain(|known| known.id != requested.id);
                    self.execs.push(requested);
                }
            }
            _ => {
                let id = payload["id"].as_str().unwrap_or_default();
                self.execs.retain(|known| known.id != id);
                self.clamp_approval();
            }
        }
    }

    pub(super) fn on_exec_list(&mut self, payload: Value) {
        if let Ok(list) = serde_json::from_value::<ExecApprovalList>(payload) {
            self.execs = list.pending;
            self.clamp_approval();
        }
    }

    /// A key on the selected command; `false` when the selection is not a command.
    pub(super) fn on_exec_key(&mut self, key: KeyEvent) -> bool {
        let Some(approval) = self.execs.get(self.approval_selected).cloned() else { return false };
        let decision = match key.code {
            KeyCode::Char('a') => ExecDecision::AllowOnce,
            KeyCode::Char('A') => ExecDecision::AllowAlways,
            KeyCode::Char('r' | 'd') => ExecDecision::Deny,
            _ => return false,
        };
        if !self.can_approve {
            self.flash = Some("this connection may not answer commands waiting for approval".to_owned());
            return true;
        }
        let pattern = approval.request.command.clone();
        self.confirm = Some(Confirm::Exec { decision, approval: Box::new(approval), pattern });
        true
    }

    /// Keys while an `allow-always` confirmation is open: they edit the allowlist entry;
    /// Enter sends, Esc gives up. `None` for other confirmations.
    pub(super) fn on_exec_always_key(&mut self, key: KeyEvent) -> Option<Vec<Effect>> {
        let Some(Confirm::Exec { decision: ExecDecision::AllowAlways, pattern, .. }) = &mut self.confirm else {
            return None;
        };
        match key.code {
            KeyCode::Enter => return Some(self.confirm_exec()),
            KeyCode::Esc => self.confirm = None,
            KeyCode::Backspace => {
                pattern.pop();
            }
            KeyCode::Char(character) => pattern.push(character),
            _ => {}
        }
        Some(Vec::new())
    }

    /// Sends the confirmed answer.
    pub(super) fn confirm_exec(&mut self) -> Vec<Effect> {
        let Some(Confirm::Exec { decision, approval, pattern }) = self.confirm.take() else { return Vec::new() };
        if !self.is_connected() {
            self.flash = Some("not connected to the gateway".to_owned());
            return Vec::new();
        }
        let mut params = json!({"id": approval.id, "decision": decision.as_str()});
        if decision == ExecDecision::AllowAlways && pattern.trim() != approval.request.command {
            params["pattern"] = json!(pattern.trim());
        }
        let purpose = Purpose::Exec { decision, id: approval.id.clone(), command: approval.request.command.clone() };
        vec![self.call(purpose, "exec.approval.resolve", params)]
    }

    pub(super) fn on_exec_answered(&mut self, decision: ExecDecision, id: &str, command: &str) {
        // The `exec.approval.resolved` event may come after this answer.
        self.execs.retain(|known| known.id != id);
        self.clamp_approval();
        let done = match decision {
            ExecDecision::AllowOnce => "allowed once",
            ExecDecision::AllowAlways => "allowed always",
            ExecDecision::Deny => "denied",
        };
        self.flash = Some(format!("{done}: {}", short_command(command, 40)));
    }

    pub(super) fn on_exec_failed(&mut self, id: &str, command: &str, error: &ServerError) {
        // Expired, withdrawn or answered elsewhere: it no longer waits.
        if error.detail == "NOT_FOUND" {
            self.execs.retain(|known| known.id != id);
            self.clamp_approval();
        }
        self.flash = Some(format!("{}: {}", short_command(command, 40), error.message));
    }
}
