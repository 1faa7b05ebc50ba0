//! The terminal client's state machine: [`App::update`] takes one [`Event`] (a key, a frame
//! from the gateway, a change of connection) and returns the [`Effect`]s to carry out. It does
//! no IO, so every behaviour is tested without a terminal or a socket.

mod exec;
mod keys;
pub use exec::short_command;
mod server;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use crossterm::event::KeyEvent;
use serde_json::Value;

use super::input::Input;
use super::wire::{MAIN_SESSION, PendingCode, PendingDevice, ServerError, SessionSummary, Usage};
use crate::core::protocol::exec::{ExecApprovalRequested, ExecDecision};

/// The scopes `molt chat` asks for: talk, and answer pairing requests and commands waiting for
/// approval.
pub const SCOPES: &[&str] = &["operator.read", "operator.write", "operator.pairing", "operator.approvals"];

/// Something that happened: input from the terminal or news from the connection.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Key(KeyEvent),
    Paste(String),
    /// Mouse wheel over the window; `up` scrolls back.
    Wheel {
        up: bool,
    },
    /// The connection task is opening a socket (attempt 1, 2, …).
    Connecting {
        attempt: u32,
    },
    /// The gateway holds the connect until an operator approves this device.
    WaitingApproval {
        request_id: String,
    },
    Connected(Hello),
    Disconnected(Disconnect),
    Response {
        call: u64,
        result: Result<Value, ServerError>,
    },
    /// A server event frame.
    Server {
        name: String,
        payload: Value,
    },
    /// The window changed size: nothing to decide, the next draw lays it out again.
    Resized,
    /// The clock, once a second: expires requests and counts down to the next retry.
    Tick {
        now_ms: i64,
    },
    /// SIGTERM or SIGHUP: leave as if the user quit, so the terminal is restored.
    Terminate,
    /// What the last draw measured: the transcript's height and its number of wrapped lines.
    Measured {
        height: u16,
        lines: usize,
    },
}

/// What `hello-ok` told the client.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hello {
    pub server_version: String,
    pub scopes: Vec<String>,
}

/// Why the connection is down, and when the connection task tries again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disconnect {
    pub reason: Reason,
    /// `None`: no automatic retry.
    pub retry_in_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// No TCP/TLS connection, or the WebSocket upgrade failed.
    Unreachable(String),
    /// The upgrade answered 401/403: Cloudflare Access (or a proxy) wants credentials.
    AccessDenied(u16),
    /// The gateway refused the token (missing, wrong, expired device token).
    TokenRefused(String),
    /// An operator rejected this device.
    PairingRejected,
    /// Any other refusal of the connect.
    Refused(ServerError),
    /// The connection closed after the handshake.
    Closed(String),
}

/// Something for the runner to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Send a request; its answer comes back as [`Event::Response`] with the same `id`.
    Call {
        id: u64,
        method: &'static str,
        params: Value,
    },
    Quit,
}

/// The state of the link to the gateway, as the status bar and screen messages show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// `previous`: why the last connection failed, still shown while trying again.
    Connecting {
        attempt: u32,
        previous: Option<Disconnect>,
    },
    Waiting {
        request_id: String,
    },
    Connected,
    Down(Disconnect),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Input,
    Sessions,
    Approvals,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Assistant,
    Error,
    /// A tool call of a reply: its name and input, its state in the note.
    Tool,
}

/// One block of the transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub role: Role,
    pub text: String,
    /// Shown after the role: the model and tokens of a reply, `aborted`, an error kind.
    pub note: Option<String>,
}

/// The reply being streamed into the current session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Streaming {
    /// Known once `chat.send` answers (or the first event arrives).
    pub run_id: Option<String>,
    pub text: String,
}

/// An action that waits for `y`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirm {
    Device {
        approve: bool,
        device: PendingDevice,
    },
    Code {
        approve: bool,
        code: PendingCode,
    },
    /// A command waiting for approval; `pattern` is the allowlist entry of an `allow-always`,
    /// edited in the confirmation (the command itself, or a prefix ending in `*`).
    Exec {
        decision: ExecDecision,
        approval: Box<ExecApprovalRequested>,
        pattern: String,
    },
    Reset {
        key: String,
    },
}

/// What a request in flight was for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Purpose {
    Sessions,
    /// `sessions.subscribe`: session list changes, so the sessions panel stays current.
    Subscribe,
    History {
        key: String,
    },
    Send {
        key: String,
    },
    Abort,
    Reset {
        key: String,
    },
    Devices,
    Codes,
    Health,
    Device {
        approve: bool,
        name: String,
        request_id: String,
    },
    Code {
        approve: bool,
        label: String,
        channel: String,
        code: String,
    },
    Execs,
    Exec {
        decision: ExecDecision,
        id: String,
        command: String,
    },
}

/// Fixed facts of this client, given at start.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// The gateway's address as shown to the user (no credentials in it).
    pub url: String,
    pub device_id: String,
    /// Makes idempotency keys and new session keys unique; random in the binary, fixed in tests.
    pub id_prefix: String,
}

/// Everything the screen shows.
#[derive(Debug, Clone)]
pub struct App {
    pub config: AppConfig,
    pub link: Link,
    pub server_version: Option<String>,
    pub can_pair: bool,
    /// The connection may answer commands waiting for approval (`operator.approvals`).
    pub can_approve: bool,
    pub sessions: Vec<SessionSummary>,
    pub current: String,
    pub session_selected: usize,
    pub transcript: Vec<Entry>,
    pub streaming: Option<Streaming>,
    pub input: Input,
    pub focus: Focus,
    pub devices: Vec<PendingDevice>,
    pub codes: Vec<PendingCode>,
    /// Commands waiting for approval, listed before devices and codes.
    pub execs: Vec<ExecApprovalRequested>,
    pub approval_selected: usize,
    pub confirm: Option<Confirm>,
    pub help: bool,
    pub model: Option<String>,
    pub usage: Usage,
    /// Estimated cost of the priced replies of the current session, in US dollars.
    pub cost_usd: f64,
    /// Some reply was made by a model without a known price.
    pub unpriced: bool,
    /// A one-line message in the status bar (the outcome of the last action).
    pub flash: Option<String>,
    /// Set while the gateway says its bucket is far behind (`health`'s `replication.degraded`).
    pub degraded: Option<String>,
    /// Lines scrolled back from the bottom of the transcript.
    pub scroll: usize,
    pub transcript_height: u16,
    pub transcript_lines: usize,
    /// The last [`Event::Tick`]'s clock (0 before the first).
    pub now_ms: i64,
    /// When the link went down, by that clock (set by the next tick when there was none yet).
    pub down_since_ms: Option<i64>,
    calls: HashMap<u64, Purpose>,
    /// The transcript row of each tool call shown, by call id, so its result updates it.
    tool_rows: Vec<(String, usize)>,
    next_call: u64,
    next_local_id: u64,
}

impl App {
    pub fn new(config: AppConfig) -> Self {
        Self {
            config,
            link: Link::Connecting { attempt: 1, previous: None },
            server_version: None,
            can_pair: false,
            can_approve: false,
            sessions: Vec::new(),
            current: MAIN_SESSION.to_owned(),
            session_selected: 0,
            transcript: Vec::new(),
            tool_rows: Vec::new(),
            streaming: None,
            input: Input::default(),
            focus: Focus::Input,
            devices: Vec::new(),
            codes: Vec::new(),
            execs: Vec::new(),
            approval_selected: 0,
            confirm: None,
            help: false,
            model: None,
            usage: Usage::default(),
            cost_usd: 0.0,
            unpriced: false,
            flash: None,
            degraded: None,
            scroll: 0,
            transcript_height: 0,
            transcript_lines: 0,
            now_ms: 0,
            down_since_ms: None,
            calls: HashMap::new(),
            next_call: 0,
            next_local_id: 0,
        }
    }

    /// Applies one event and returns what to do next.
    pub fn update(&mut self, event: Event) -> Vec<Effect> {
        match event {
            Event::Key(key) => self.on_key(key),
            Event::Paste(text) => {
                if self.focus == Focus::Input && self.confirm.is_none() {
                    self.input.insert_str(&text.replace("\r\n", "\n").replace('\r', "\n"));
                }
                Vec::new()
            }
            Event::Resized => Vec::new(),
            Event::Terminate => vec![Effect::Quit],
            Event::Tick { now_ms } => {
                self.now_ms = now_ms;
                if matches!(self.link, Link::Down(_)) && self.down_since_ms.is_none() {
                    self.down_since_ms = Some(now_ms);
                }
                let live = |expires: i64| expires == 0 || expires > now_ms;
                self.devices.retain(|device| live(device.expires_at_ms));
                self.codes.retain(|code| live(code.expires_at_ms));
                self.execs.retain(|exec| live(exec.expires_at_ms));
                self.approval_selected = self.approval_selected.min(self.pending_count().saturating_sub(1));
                Vec::new()
            }
            Event::Wheel { up } => {
                self.scroll_by(if up { 3 } else { -3 });
                Vec::new()
            }
            Event::Measured { height, lines } => {
                // Scrolled back, the view stays on the same text while new lines arrive below.
                if self.scroll > 0 && height == self.transcript_height {
                    self.scroll += lines.saturating_sub(self.transcript_lines);
                }
                self.transcript_height = height;
                self.transcript_lines = lines;
                self.scroll = self.scroll.min(self.max_scroll());
                Vec::new()
            }
            Event::Connecting { attempt } => {
                let previous = match &self.link {
                    Link::Down(down) => Some(down.clone()),
                    Link::Connecting { previous, .. } => previous.clone(),
                    Link::Waiting { .. } | Link::Connected => None,
                };
                self.link = Link::Connecting { attempt, previous };
                Vec::new()
            }
            Event::WaitingApproval { request_id } => {
                self.link = Link::Waiting { request_id };
                Vec::new()
            }
            Event::Connected(hello) => self.on_connected(hello),
            Event::Disconnected(disconnect) => {
                self.on_disconnected(disconnect);
                Vec::new()
            }
            Event::Response { call, result } => self.on_response(call, result),
            Event::Server { name, payload } => self.on_server_event(&name, &payload),
        }
    }

    /// Milliseconds until the connection task tries again, counted down by the clock.
    pub fn retry_left_ms(&self, down: &Disconnect) -> Option<u64> {
        let since = self.down_since_ms.unwrap_or(self.now_ms);
        let waited = u64::try_from(self.now_ms.saturating_sub(since)).unwrap_or(0);
        down.retry_in_ms.map(|retry| retry.saturating_sub(waited))
    }

    pub fn is_connected(&self) -> bool {
        self.link == Link::Connected
    }

    /// The sessions as listed, with the current one first when the gateway does not know it yet.
    pub fn visible_sessions(&self) -> Vec<SessionSummary> {
        let mut list = self.sessions.clone();
        if !list.iter().any(|session| session.key == self.current) {
            let display_name = super::wire::short_session_name(&self.current);
            list.insert(0, SessionSummary { key: self.current.clone(), display_name, total_tokens: 0 });
        }
        list
    }

    /// How many approvals wait: commands, devices, then codes.
    pub fn pending_count(&self) -> usize {
        self.execs.len() + self.devices.len() + self.codes.len()
    }

    fn call(&mut self, purpose: Purpose, method: &'static str, params: Value) -> Effect {
        self.next_call += 1;
        self.calls.insert(self.next_call, purpose);
        Effect::Call { id: self.next_call, method, params }
    }

    fn local_id(&mut self) -> String {
        self.next_local_id += 1;
        format!("{}-{}", self.config.id_prefix, self.next_local_id)
    }

    fn max_scroll(&self) -> usize {
        self.transcript_lines.saturating_sub(usize::from(self.transcript_height))
    }

    fn scroll_by(&mut self, lines: isize) {
        let scrolled = self.scroll.saturating_add_signed(lines);
        self.scroll = scrolled.min(self.max_scroll());
    }
}
