//! One server's life: connect in the background, list its tools once per connection (and again
//! on `notifications/tools/list_changed`), publish them, and when it fails to start, stops
//! answering the handshake or ends, withdraw its tools and start it again after a backoff that
//! grows to a bound. Nothing here is awaited by a turn.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rmcp::RoleClient;
use rmcp::model::{ClientRequest, PingRequest};
use rmcp::service::{Peer, QuitReason, ServiceError};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::McpTools;
use super::connect::{self, Connection, StderrTail};
use super::tool::{McpTool, offered_name};
use crate::core::settings::{McpServer, McpTransport};
use crate::core::sync::lock;
use crate::daemon::agent::tools::{Access, Entry, Tool};
use crate::daemon::providers::ToolSpec;

/// A server that has not completed the MCP handshake by then is stopped and started again.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a stop waits for a server to close before its process group is killed.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(3);
/// The first wait before a restart, doubled after each failure up to the last.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// A connection that lasted this long starts the backoff over.
const STABLE: Duration = Duration::from_secs(60);
/// A connected server is asked whether it is still there this often, and given this long.
const PING_EVERY: Duration = Duration::from_secs(30);
const PING_TIMEOUT: Duration = Duration::from_secs(10);
/// Tools taken from one server at most, and the bytes of each description.
const MAX_TOOLS: usize = 128;
const MAX_DESCRIPTION_BYTES: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Connecting,
    Up,
    Down,
    Disabled,
    /// Its entry in `mcp.json` cannot be used.
    Invalid,
}

/// What the gateway knows of one server now.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerStatus {
    pub state: State,
    pub transport: &'static str,
    pub tools: usize,
    /// Starts after the first.
    pub restarts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

pub struct Server {
    pub name: Arc<str>,
    pub config: McpServer,
    status: Mutex<ServerStatus>,
    pub stderr: Arc<StderrTail>,
    tools_changed: Arc<Notify>,
    /// Woken by a call that failed on the transport.
    suspect: Arc<Notify>,
}

impl Server {
    pub fn new(config: McpServer) -> Self {
        let transport = match &config.transport {
            Ok(McpTransport::Stdio { .. }) => "stdio",
            Ok(McpTransport::Http { .. }) => "http",
            Err(_) => "unknown",
        };
        let (state, last_error) = match &config.transport {
            Err(error) => (State::Invalid, Some(error.clone())),
            Ok(_) if config.disabled => (State::Disabled, None),
            Ok(_) => (State::Connecting, None),
        };
        let status = ServerStatus { state, transport, tools: 0, restarts: 0, last_error };
        Self {
            name: Arc::from(config.name.as_str()),
            config,
            status: Mutex::new(status),
            stderr: Arc::default(),
            tools_changed: Arc::default(),
            suspect: Arc::default(),
        }
    }

    pub fn status(&self) -> ServerStatus {
        lock(&self.status).clone()
    }

    fn update(&self, change: impl FnOnce(&mut ServerStatus)) {
        change(&mut lock(&self.status));
    }

    /// Whether the supervisor has anything to run.
    pub fn runs(&self) -> bool {
        self.config.transport.is_ok() && !self.config.disabled
    }
}

/// What a supervisor shares with the others.
#[derive(Clone)]
pub struct Shared {
    pub tools: Arc<McpTools>,
    pub inherited: Arc<[(String, String)]>,
    pub http: reqwest_mcp::Client,
    pub stop: CancellationToken,
}

/// Runs `server` until the gateway stops.
pub async fn supervise(server: Arc<Server>, shared: Shared) {
    let Ok(transport) = &server.config.transport else { return };
    let mut failures = 0u32;
    loop {
        server.update(|status| status.state = State::Connecting);
        let started = Instant::now();
        let connecting = connect::connect(
            &server.name,
            transport,
            &shared.inherited,
            &shared.http,
            Arc::clone(&server.tools_changed),
            &server.stderr,
        );
        let error = tokio::select! {
            () = shared.stop.cancelled() => return,
            connected = tokio::time::timeout(CONNECT_TIMEOUT, connecting) => match connected {
                Err(_) => format!("no answer to the MCP handshake within {} s", CONNECT_TIMEOUT.as_secs()),
                Ok(Err(error)) => error,
                Ok(Ok(connection)) => match run(&server, &shared, connection).await {
                    None => return,
                    Some(error) => error,
                },
            },
        };
        shared.tools.set(&server.name, Vec::new());
        if shared.stop.is_cancelled() {
            return;
        }
        if started.elapsed() >= STABLE {
            failures = 0;
        }
        let delay = backoff(failures);
        failures = failures.saturating_add(1);
        tracing::warn!(server = %server.name, %error, retry_in_ms = delay.as_millis() as u64, "an MCP server is down");
        server.update(|status| {
            status.state = State::Down;
            status.tools = 0;
            status.last_error = Some(error);
        });
        tokio::select! {
            () = shared.stop.cancelled() => return,
            () = tokio::time::sleep(delay) => {}
        }
        server.update(|status| status.restarts = status.restarts.saturating_add(1));
    }
}

/// `FIRST_BACKOFF` doubled per failure, at most `MAX_BACKOFF`, less up to a fifth at random so
/// servers that fail together do not restart together.
fn backoff(failures: u32) -> Duration {
    let full = FIRST_BACKOFF.saturating_mul(1 << failures.min(16)).min(MAX_BACKOFF);
    full.mul_f64(1.0 - rand::random::<f64>() * 0.2)
}

/// Serves one connection: lists, publishes, lists again when told; returns why it ended, or
/// `None` when the gateway stops.
async fn run(server: &Server, shared: &Shared, connection: Connection) -> Option<String> {
    let peer = connection.peer().clone();
    let cancel = connection.cancellation_token();
    let ended = connection.waiting();
    tokio::pin!(ended);
    let listed = list(server, shared, &peer).await;
    if let Err(error) = listed {
        cancel.cancel();
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, ended).await;
        return Some(error);
    }
    server.update(|status| {
        status.state = State::Up;
        status.last_error = None;
    });
    tracing::info!(server = %server.name, tools = server.status().tools, "MCP server connected");
    let mut pings = tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
    let failure = loop {
        tokio::select! {
            () = shared.stop.cancelled() => break None,
            quit = &mut ended => {
                return Some(match quit {
                    Ok(QuitReason::Closed) => "the server closed the connection".to_owned(),
                    Ok(QuitReason::Cancelled) => "the connection was cancelled".to_owned(),
                    Ok(QuitReason::JoinError(error)) | Err(error) => format!("the connection failed: {error}"),
                    Ok(_) => "the connection ended".to_owned(),
                });
            }
            () = server.tools_changed.notified() => {
                if let Err(error) = list(server, shared, &peer).await {
                    tracing::warn!(server = %server.name, %error, "cannot list an MCP server's tools again; keeping the last list");
                }
            }
            // A call failed on the transport (an HTTP server gone): ask now, not at the next ping.
            () = server.suspect.notified() => {
                if let Some(error) = ping(&peer).await {
                    break Some(error);
                }
            }
            _ = pings.tick() => {
                if let Some(error) = ping(&peer).await {
                    break Some(error);
                }
            }
        }
    };
    cancel.cancel();
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, ended).await;
    failure
}

/// Why the server is taken for gone, if it is: no answer to a ping in time, or a transport that
/// failed. An error answer is an answer: the server is there.
async fn ping(peer: &Peer<RoleClient>) -> Option<String> {
    let request = ClientRequest::PingRequest(PingRequest::default());
    match tokio::time::timeout(PING_TIMEOUT, peer.send_request(request)).await {
        Err(_) => Some(format!("no answer to a ping within {} s", PING_TIMEOUT.as_secs())),
        Ok(Ok(_) | Err(ServiceError::McpError(_))) => None,
        Ok(Err(error)) => Some(format!("a ping failed: {error}")),
    }
}

/// Lists the server's tools (every page) and publishes those its allowlist keeps.
async fn list(server: &Server, shared: &Shared, peer: &Peer<RoleClient>) -> Result<(), String> {
    let listed = match tokio::time::timeout(server.config.call_timeout, peer.list_all_tools()).await {
        Err(_) => return Err(format!("`tools/list` got no answer within {} s", server.config.call_timeout.as_secs())),
        Ok(Err(error)) => return Err(format!("`tools/list` failed: {error}")),
        Ok(Ok(listed)) => listed,
    };
    let access = if server.config.guests { Access::Read } else { Access::Act };
    let allowed = |name: &str| server.config.allowed_tools.as_ref().is_none_or(|names| names.iter().any(|n| n == name));
    let mut taken = BTreeSet::new();
    let mut entries: Vec<Entry> = Vec::new();
    for tool in listed.into_iter().filter(|tool| allowed(&tool.name)).take(MAX_TOOLS) {
        let name = offered_name(&server.name, &tool.name, &taken);
        taken.insert(name.clone());
        let description = tool.description.as_deref().or(tool.title.as_deref()).unwrap_or_default();
        let spec = ToolSpec {
            name,
            description: bounded(description),
            input_schema: Value::Object(tool.input_schema.as_ref().clone()),
        };
        let call = McpTool::new(
            spec.clone(),
            Arc::clone(&server.name),
            tool.name.into_owned(),
            peer.clone(),
            server.config.call_timeout,
            access,
            Arc::clone(&server.suspect),
        );
        entries.push((spec, Arc::new(call) as Arc<dyn Tool>));
    }
    let count = entries.len();
    shared.tools.set(&server.name, entries);
    server.update(|status| status.tools = count);
    Ok(())
}

fn bounded(text: &str) -> String {
    let mut end = text.len().min(MAX_DESCRIPTION_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_up_to_its_bound() {
        let first = backoff(0);
        assert!(first <= FIRST_BACKOFF && first >= FIRST_BACKOFF.mul_f64(0.8), "{first:?}");
        let third = backoff(2);
        assert!(third <= FIRST_BACKOFF * 4 && third >= (FIRST_BACKOFF * 4).mul_f64(0.8), "{third:?}");
        for failures in [10, 100, u32::MAX] {
            assert!(backoff(failures) <= MAX_BACKOFF);
        }
    }
}
