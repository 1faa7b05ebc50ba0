//! Keys: what each one does in each focus, and the actions behind them (send, abort, switch,
//! new and reset sessions, approve and reject with a confirmation).

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use serde_json::json;

use super::{App, Confirm, Effect, Entry, Focus, Purpose, Role, Streaming};

impl App {
    pub(super) fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        if key.kind == KeyEventKind::Release {
            return Vec::new();
        }
        let control = key.modifiers.contains(KeyModifiers::CONTROL);
        if control && matches!(key.code, KeyCode::Char('c' | 'q')) {
            return vec![Effect::Quit];
        }
        if self.help {
            self.help = false;
            return Vec::new();
        }
        if self.confirm.is_some() {
            return self.on_confirm_key(key);
        }
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        match key.code {
            KeyCode::F(1) => {
                self.help = true;
                return Vec::new();
            }
            KeyCode::Char('?') if self.focus != Focus::Input || self.input.is_empty() => {
                self.help = true;
                return Vec::new();
            }
            KeyCode::Esc => return self.on_escape(),
            KeyCode::Tab => {
                self.focus = match self.focus {
                    Focus::Input => Focus::Sessions,
                    Focus::Sessions => Focus::Approvals,
                    Focus::Approvals => Focus::Input,
                };
                self.select_current_session();
                return Vec::new();
            }
            KeyCode::BackTab => {
                self.focus = match self.focus {
                    Focus::Input => Focus::Approvals,
                    Focus::Sessions => Focus::Input,
                    Focus::Approvals => Focus::Sessions,
                };
                self.select_current_session();
                return Vec::new();
            }
            KeyCode::PageUp => {
                self.scroll_by(self.page());
                return Vec::new();
            }
            KeyCode::PageDown => {
                self.scroll_by(-self.page());
                return Vec::new();
            }
            KeyCode::Char('n') if control => return self.new_session(),
            KeyCode::Char('r') if control => {
                self.confirm = Some(Confirm::Reset { key: self.current.clone() });
                return Vec::new();
            }
            KeyCode::Char('d') if control && self.input.is_empty() => return vec![Effect::Quit],
            KeyCode::Up if control || alt => return self.switch_by(-1),
            KeyCode::Down if control || alt => return self.switch_by(1),
            _ => {}
        }
        match self.focus {
            Focus::Input => self.on_input_key(key, control, alt),
            Focus::Sessions => self.on_sessions_key(key),
            Focus::Approvals => self.on_approvals_key(key),
        }
    }

    fn page(&self) -> isize {
        isize::try_from(self.transcript_height.saturating_sub(1).max(1)).unwrap_or(1)
    }

    fn on_escape(&mut self) -> Vec<Effect> {
        if self.streaming.is_some() && self.is_connected() {
            let run_id = self.streaming.as_ref().and_then(|streaming| streaming.run_id.clone());
            let mut params = json!({"sessionKey": self.current});
            if let Some(run_id) = run_id {
                params["runId"] = json!(run_id);
            }
            self.flash = Some("aborting the reply".to_owned());
            return vec![self.call(Purpose::Abort, "chat.abort", params)];
        }
        if self.focus != Focus::Input {
            self.focus = Focus::Input;
        } else {
            self.flash = None;
        }
        Vec::new()
    }

    fn on_input_key(&mut self, key: KeyEvent, control: bool, alt: bool) -> Vec<Effect> {
        let shift = key.modifiers.contains(KeyModifiers::SHIFT);
        match key.code {
            KeyCode::Enter if alt || shift || control => self.input.insert('\n'),
            KeyCode::Char('j') if control => self.input.insert('\n'),
            KeyCode::Enter => return self.send(),
            KeyCode::Backspace => self.input.backspace(),
            KeyCode::Delete => self.input.delete(),
            KeyCode::Left => self.input.left(),
            KeyCode::Right => self.input.right(),
            KeyCode::Home => self.input.home(),
            KeyCode::End => self.input.end(),
            KeyCode::Char('a') if control => self.input.home(),
            KeyCode::Char('e') if control => self.input.end(),
            KeyCode::Up => self.input.up(),
            KeyCode::Down => self.input.down(),
            KeyCode::Char('u') if control => self.input.clear_to_line_start(),
            KeyCode::Char('w') if control => self.input.delete_word(),
            KeyCode::Char(character) if !control && !alt => self.input.insert(character),
            _ => {}
        }
        Vec::new()
    }

    fn on_sessions_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let count = self.visible_sessions().len();
        match key.code {
            KeyCode::Up | KeyCode::Char('k') => self.session_selected = self.session_selected.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => {
                self.session_selected = (self.session_selected + 1).min(count.saturating_sub(1));
            }
            KeyCode::Enter => {
                if let Some(session) = self.visible_sessions().get(self.session_selected) {
                    let key = session.key.clone();
                    self.focus = Focus::Input;
                    return self.switch_to(&key);
                }
            }
            KeyCode::Char('n') => return self.new_session(),
            KeyCode::Char('r') => {
                if let Some(session) = self.visible_sessions().get(self.session_selected) {
                    self.confirm = Some(Confirm::Reset { key: session.key.clone() });
                }
            }
            _ => {}
        }
        Vec::new()
    }

    fn on_approvals_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let count = self.pending_count();
        match key.code {
            KeyCode::Up | KeyCode::Char('k') => self.approval_selected = self.approval_selected.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => {
                self.approval_selected = (self.approval_selected + 1).min(count.saturating_sub(1));
            }
            _ if self.on_exec_key(key) => {}
            KeyCode::Char(letter @ ('a' | 'r')) => {
                let approve = letter == 'a';
                // Commands come first in the list, then devices, then codes.
                let selected = self.approval_selected.saturating_sub(self.execs.len());
                if !self.can_pair {
                    self.flash = Some("this connection may not answer pairing requests".to_owned());
                } else if let Some(device) = self.devices.get(selected) {
                    self.confirm = Some(Confirm::Device { approve, device: device.clone() });
                } else if let Some(code) = self.codes.get(selected.saturating_sub(self.devices.len())) {
                    self.confirm = Some(Confirm::Code { approve, code: code.clone() });
                } else {
                    self.flash = Some("nothing waits for approval".to_owned());
                }
            }
            _ => {}
        }
        Vec::new()
    }

    fn on_confirm_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        if let Some(effects) = self.on_exec_always_key(key) {
            return effects;
        }
        match key.code {
            KeyCode::Char('y' | 'Y') | KeyCode::Enter => {}
            KeyCode::Char('n' | 'N') | KeyCode::Esc => {
                self.confirm = None;
                return Vec::new();
            }
            _ => return Vec::new(),
        }
        if matches!(self.confirm, Some(Confirm::Exec { .. })) {
            return self.confirm_exec();
        }
        let Some(confirm) = self.confirm.take() else { return Vec::new() };
        if !self.is_connected() {
            self.flash = Some("not connected to the gateway".to_owned());
            return Vec::new();
        }
        let effect = match confirm {
            Confirm::Device { approve, device } => {
                let method = if approve { "device.pair.approve" } else { "device.pair.reject" };
                let purpose =
                    Purpose::Device { approve, name: device.name.clone(), request_id: device.request_id.clone() };
                self.call(purpose, method, json!({"requestId": device.request_id}))
            }
            Confirm::Code { approve, code } => {
                let method = if approve { "pairing.code.approve" } else { "pairing.code.reject" };
                let label = format!("{} {}", code.channel, code.sender_name.clone().unwrap_or(code.sender_id.clone()));
                let params = json!({"channel": code.channel, "code": code.code});
                self.call(Purpose::Code { approve, label, channel: code.channel, code: code.code }, method, params)
            }
            Confirm::Reset { key } => {
                self.call(Purpose::Reset { key: key.clone() }, "sessions.reset", json!({"key": key}))
            }
            // Sent by `confirm_exec` above.
            Confirm::Exec { .. } => return Vec::new(),
        };
        vec![effect]
    }

    fn send(&mut self) -> Vec<Effect> {
        if self.input.text().trim().is_empty() {
            return Vec::new();
        }
        if !self.is_connected() {
            self.flash = Some("not connected: the message stays here until the gateway is back".to_owned());
            return Vec::new();
        }
        if self.streaming.is_some() {
            self.flash = Some("a reply is still streaming: wait for it, or press Esc to abort it".to_owned());
            return Vec::new();
        }
        let message = self.input.submit();
        self.transcript.push(Entry { role: Role::User, text: message.clone(), note: None });
        self.streaming = Some(Streaming { run_id: None, text: String::new() });
        self.scroll = 0;
        self.flash = None;
        let key = self.current.clone();
        let params = json!({"sessionKey": key, "message": message, "idempotencyKey": self.local_id()});
        vec![self.call(Purpose::Send { key }, "chat.send", params)]
    }

    fn new_session(&mut self) -> Vec<Effect> {
        let key = format!("agent:main:tui-{}", self.local_id());
        self.focus = Focus::Input;
        self.switch_to(&key)
    }

    fn switch_by(&mut self, step: isize) -> Vec<Effect> {
        let sessions = self.visible_sessions();
        let Some(position) = sessions.iter().position(|session| session.key == self.current) else {
            return Vec::new();
        };
        let target = position.saturating_add_signed(step).min(sessions.len().saturating_sub(1));
        match sessions.get(target) {
            Some(session) if target != position => {
                let key = session.key.clone();
                self.switch_to(&key)
            }
            _ => Vec::new(),
        }
    }

    /// Opens another session: an empty transcript, then its history from the gateway.
    pub(super) fn switch_to(&mut self, key: &str) -> Vec<Effect> {
        if key == self.current {
            return Vec::new();
        }
        self.current = key.to_owned();
        self.clear_transcript();
        self.select_current_session();
        if !self.is_connected() {
            return Vec::new();
        }
        vec![self.history_call()]
    }

    pub(super) fn clear_transcript(&mut self) {
        self.transcript.clear();
        self.tool_rows.clear();
        self.streaming = None;
        self.scroll = 0;
        self.usage = Default::default();
        self.cost_usd = 0.0;
        self.unpriced = false;
    }

    fn select_current_session(&mut self) {
        let current = self.current.clone();
        self.session_selected =
            self.visible_sessions().iter().position(|session| session.key == current).unwrap_or_default();
    }
}
