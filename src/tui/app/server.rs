//! What the gateway says: the connection coming and going, answers to requests, and events
//! (chat streaming, session changes, pairing requests, commands waiting for approval, and
//! their resolution).

use serde_json::{Value, json};

use super::super::wire::{
    ChatEvent, ChatState, HistoryMessage, PendingCode, PendingDevice, ServerError, SessionSummary, Usage,
};
use super::{App, Disconnect, Effect, Entry, Hello, Link, Purpose, Role, Streaming};
use crate::core::models as price;
use crate::core::protocol::agent::{AgentEvent, ToolEvent, ToolPhase};

const HISTORY_LIMIT: u64 = 200;

impl App {
    pub(super) fn on_connected(&mut self, hello: Hello) -> Vec<Effect> {
        self.link = Link::Connected;
        self.flash = None;
        self.server_version = Some(hello.server_version).filter(|version| !version.is_empty());
        self.can_pair = hello.scopes.iter().any(|scope| scope == "operator.pairing" || scope == "operator.admin");
        self.can_approve = hello.scopes.iter().any(|scope| scope == "operator.approvals" || scope == "operator.admin");
        // What was streaming on the old connection is lost; the history has what was stored.
        self.clear_transcript();
        let mut effects = vec![
            self.call(Purpose::Sessions, "sessions.list", json!({})),
            self.history_call(),
            self.call(Purpose::Health, "health", json!({})),
        ];
        if self.can_pair {
            effects.push(self.call(Purpose::Devices, "device.pair.list", json!({})));
            effects.push(self.call(Purpose::Codes, "pairing.code.list", json!({})));
        }
        if self.can_approve {
            effects.push(self.exec_list_call());
        }
        effects.push(self.call(Purpose::Subscribe, "sessions.subscribe", json!({})));
        effects
    }

    pub(super) fn on_disconnected(&mut self, disconnect: Disconnect) {
        self.link = Link::Down(disconnect);
        self.down_since_ms = (self.now_ms > 0).then_some(self.now_ms);
        self.calls.clear();
        if let Some(streaming) = self.streaming.take()
            && !streaming.text.is_empty()
        {
            self.transcript.push(Entry {
                role: Role::Assistant,
                text: streaming.text,
                note: Some("interrupted: connection lost".to_owned()),
            });
        }
    }

    pub(super) fn history_call(&mut self) -> Effect {
        let key = self.current.clone();
        self.call(
            Purpose::History { key: key.clone() },
            "chat.history",
            json!({"sessionKey": key, "limit": HISTORY_LIMIT}),
        )
    }

    pub(super) fn on_response(&mut self, call: u64, result: Result<Value, ServerError>) -> Vec<Effect> {
        let Some(purpose) = self.calls.remove(&call) else { return Vec::new() };
        let payload = match result {
            Ok(payload) => payload,
            Err(error) => {
                self.on_failed(purpose, &error);
                return Vec::new();
            }
        };
        match purpose {
            Purpose::Sessions => {
                let rows = payload["sessions"].as_array().map(Vec::as_slice).unwrap_or_default();
                self.sessions = rows.iter().filter_map(SessionSummary::from_json).collect();
                if self.model.is_none() {
                    self.model = payload["defaults"]["model"].as_str().map(str::to_owned);
                }
            }
            Purpose::History { key } if key == self.current => self.load_history(&payload),
            Purpose::Send { key } if key == self.current => {
                if let Some(streaming) = &mut self.streaming
                    && streaming.run_id.is_none()
                {
                    streaming.run_id = payload["runId"].as_str().map(str::to_owned);
                }
            }
            Purpose::Reset { key } => {
                if key == self.current {
                    self.clear_transcript();
                }
                self.flash = Some(format!("reset {}", super::super::wire::short_session_name(&key)));
            }
            Purpose::Devices => {
                let rows = payload["pending"].as_array().map(Vec::as_slice).unwrap_or_default();
                self.devices = rows.iter().filter_map(PendingDevice::from_json).collect();
                self.clamp_approval();
            }
            Purpose::Codes => {
                let rows = payload["codes"].as_array().map(Vec::as_slice).unwrap_or_default();
                self.codes = rows.iter().filter_map(PendingCode::from_json).collect();
                self.clamp_approval();
            }
            Purpose::Device { approve, name, request_id } => {
                // The `device.pair.resolved` event may come after this answer.
                self.devices.retain(|known| known.request_id != request_id);
                self.clamp_approval();
                self.flash = Some(if approve { format!("approved {name}") } else { format!("rejected {name}") });
            }
            Purpose::Code { approve, label, channel, code } => {
                self.codes.retain(|known| !(known.channel == channel && known.code == code));
                self.clamp_approval();
                self.flash = Some(if approve { format!("approved {label}") } else { format!("rejected {label}") });
            }
            Purpose::Health => {
                self.degraded = payload["replication"]["degraded"].as_str().map(str::to_owned);
            }
            Purpose::Execs => self.on_exec_list(payload),
            Purpose::Exec { decision, id, command } => self.on_exec_answered(decision, &id, &command),
            Purpose::History { .. } | Purpose::Send { .. } | Purpose::Abort | Purpose::Subscribe => {}
        }
        Vec::new()
    }

    fn on_failed(&mut self, purpose: Purpose, error: &ServerError) {
        let message = error.message.clone();
        match purpose {
            Purpose::Send { key } if key == self.current => {
                self.streaming = None;
                self.transcript.push(Entry { role: Role::Error, text: message, note: None });
            }
            Purpose::Device { name, request_id, .. } => {
                // Expired, superseded or answered elsewhere: it no longer waits.
                if error.detail == "NOT_FOUND" {
                    self.devices.retain(|known| known.request_id != request_id);
                    self.clamp_approval();
                }
                self.flash = Some(format!("{name}: {message}"));
            }
            Purpose::Code { label, channel, code, .. } => {
                if error.detail == "NOT_FOUND" {
                    self.codes.retain(|known| !(known.channel == channel && known.code == code));
                    self.clamp_approval();
                }
                self.flash = Some(format!("{label}: {message}"));
            }
            Purpose::Exec { id, command, .. } => self.on_exec_failed(&id, &command, error),
            _ => self.flash = Some(message),
        }
    }

    fn load_history(&mut self, payload: &Value) {
        let streaming = self.streaming.take();
        self.clear_transcript();
        self.streaming = streaming;
        let rows = payload["messages"].as_array().map(Vec::as_slice).unwrap_or_default();
        for message in rows.iter().filter_map(HistoryMessage::from_json) {
            let role = if message.role == "user" { Role::User } else { Role::Assistant };
            for call in &message.tools {
                let note = if call.is_error { "failed" } else { "done" };
                let text = tool_line(&call.name, Some(&call.args));
                self.transcript.push(Entry { role: Role::Tool, text, note: Some(note.to_owned()) });
            }
            let mut note = None;
            if role == Role::Assistant {
                note = self.count_usage(message.model.as_deref(), message.usage.as_ref());
                if message.stop_reason.as_deref() == Some("aborted") {
                    note = Some("aborted".to_owned());
                }
            }
            self.transcript.push(Entry { role, text: message.text, note });
        }
    }

    /// Adds a reply's usage to the session's totals; returns the reply's note.
    fn count_usage(&mut self, model: Option<&str>, usage: Option<&Usage>) -> Option<String> {
        let usage = usage?;
        self.usage.add(usage);
        let model = model.or(self.model.as_deref()).unwrap_or_default().to_owned();
        match price::cost(&model, usage) {
            Some(cost) => self.cost_usd += cost,
            None if usage.total() > 0 => self.unpriced = true,
            None => {}
        }
        let tokens = usage.total();
        Some(if model.is_empty() { format!("{tokens} tokens") } else { format!("{model} · {tokens} tokens") })
    }

    pub(super) fn on_server_event(&mut self, name: &str, payload: &Value) -> Vec<Effect> {
        match name {
            "chat" => {
                if let Some(event) = ChatEvent::from_json(payload) {
                    self.on_chat(event);
                }
            }
            "agent" => {
                if let Ok(event) = serde_json::from_value::<AgentEvent>(payload.clone())
                    && event.session_key.as_str() == self.current
                {
                    self.on_tool(event.data);
                }
            }
            "sessions.changed" if self.is_connected() => {
                return vec![self.call(Purpose::Sessions, "sessions.list", json!({}))];
            }
            "device.pair.requested" => {
                if let Some(device) = PendingDevice::from_json(payload) {
                    self.devices.retain(|known| known.request_id != device.request_id);
                    self.devices.push(device);
                }
            }
            "device.pair.resolved" => {
                let request = payload["requestId"].as_str();
                let device = payload["deviceId"].as_str();
                self.devices.retain(|known| match request {
                    Some(request) => known.request_id != request,
                    None => Some(known.device_id.as_str()) != device,
                });
                self.clamp_approval();
            }
            "pairing.code.requested" => {
                if let Some(code) = PendingCode::from_json(payload) {
                    self.codes.retain(|known| (&known.channel, &known.code) != (&code.channel, &code.code));
                    self.codes.push(code);
                }
            }
            "pairing.code.resolved" => {
                let channel = payload["channel"].as_str().unwrap_or_default();
                let code = payload["code"].as_str().unwrap_or_default();
                self.codes.retain(|known| !(known.channel == channel && known.code.eq_ignore_ascii_case(code)));
                self.clamp_approval();
            }
            "exec.approval.requested" | "exec.approval.resolved" => self.on_exec_event(name, payload),
            // Each tick (30 s) asks again whether the gateway's bucket is behind.
            "tick" if self.is_connected() => return vec![self.call(Purpose::Health, "health", json!({}))],
            "shutdown" => {
                // A plain stop says when to expect the gateway back; a stop for a reason does not.
                self.flash = Some(match payload["reason"].as_str() {
                    Some(reason) if payload.get("restartExpectedMs").is_none() => {
                        format!("the gateway stopped: {reason}")
                    }
                    _ => "the gateway is shutting down; reconnecting when it is back".to_owned(),
                });
            }
            _ => {}
        }
        Vec::new()
    }

    fn on_chat(&mut self, event: ChatEvent) {
        if event.session_key != self.current {
            return;
        }
        let streaming = self.streaming.get_or_insert_with(|| Streaming { run_id: None, text: String::new() });
        match &streaming.run_id {
            Some(run_id) if *run_id != event.run_id => return,
            Some(_) => {}
            None => streaming.run_id = Some(event.run_id.clone()),
        }
        match event.state {
            ChatState::Delta { text, replace: true } => streaming.text = text,
            ChatState::Delta { text, replace: false } => streaming.text.push_str(&text),
            ChatState::Final { text, usage, model } => {
                self.streaming = None;
                if model.is_some() {
                    self.model.clone_from(&model);
                }
                let note = self.count_usage(model.as_deref(), usage.as_ref());
                self.transcript.push(Entry { role: Role::Assistant, text, note });
            }
            ChatState::Aborted { text } => {
                self.streaming = None;
                self.flash = None;
                self.transcript.push(Entry { role: Role::Assistant, text, note: Some("aborted".to_owned()) });
            }
            ChatState::Error { message, kind } => {
                self.streaming = None;
                let note = Some(kind).filter(|kind| !kind.is_empty() && kind != "unknown");
                self.transcript.push(Entry { role: Role::Error, text: message, note });
            }
        }
    }

    /// A tool call starting adds a line; its result sets the line's state.
    fn on_tool(&mut self, tool: ToolEvent) {
        let row = self.tool_rows.iter().find(|(id, _)| *id == tool.tool_call_id).map(|(_, row)| *row);
        match (tool.phase, row) {
            (ToolPhase::Start, None) => {
                let text = tool_line(&tool.name, tool.args.as_ref());
                self.tool_rows.push((tool.tool_call_id, self.transcript.len()));
                self.transcript.push(Entry { role: Role::Tool, text, note: Some("running".to_owned()) });
            }
            (ToolPhase::Result, Some(row)) => {
                if let Some(entry) = self.transcript.get_mut(row) {
                    entry.note = Some(if tool.is_error { "failed" } else { "done" }.to_owned());
                }
            }
            (ToolPhase::Result, None) => {
                let note = if tool.is_error { "failed" } else { "done" };
                self.transcript.push(Entry { role: Role::Tool, text: tool.name, note: Some(note.to_owned()) });
            }
            (ToolPhase::Start, Some(_)) => {}
        }
    }

    pub(super) fn clamp_approval(&mut self) {
        self.approval_selected = self.approval_selected.min(self.pending_count().saturating_sub(1));
    }
}

/// A tool call in one line: its name and its input, short.
fn tool_line(name: &str, args: Option<&Value>) -> String {
    const MAX_CHARS: usize = 80;
    let args = match args {
        Some(Value::Object(map)) if map.is_empty() => String::new(),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(key, value)| match value {
                Value::String(text) => format!("{key}={text}"),
                other => format!("{key}={other}"),
            })
            .collect::<Vec<_>>()
            .join(" "),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let line = format!("{name} {}", args.split_whitespace().collect::<Vec<_>>().join(" "));
    match line.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.trim_end().to_owned(),
    }
}
