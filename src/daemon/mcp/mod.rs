//! MCP servers as a source of tools: each server of `mcp.json` is connected in the background
//! and supervised (`server.rs`), its tools offered as `mcp__<server>__<tool>` (`tool.rs`) through
//! one [`ToolSource`] the registry consults, their list replaced only when a connection lists
//! them. Reports each server's state for `/readyz` (state and tool count only: it is public) and
//! for the admin status (errors and the last stderr lines). A turn never waits on a server.

mod connect;
mod server;
mod tool;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use server::{ServerStatus, State};
pub use tool::{McpTool, offered_name, output};

use crate::core::settings::{McpServer, Settings};
use crate::core::sync::lock;
use crate::daemon::agent::tools::{Entry, ToolSource};
use server::{Server, Shared};

/// How long a stop waits for every server to close.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// Every server's current tools, in the order of `mcp.json`.
#[derive(Default)]
pub struct McpTools {
    /// What the registry reads: replaced whole when a server's list changes.
    snapshot: Mutex<Arc<[Entry]>>,
    by_server: Mutex<Vec<(Arc<str>, Vec<Entry>)>>,
}

impl McpTools {
    fn new(servers: &[Arc<Server>]) -> Self {
        let by_server = servers.iter().map(|server| (Arc::clone(&server.name), Vec::new())).collect();
        Self { snapshot: Mutex::new(Arc::from(Vec::new())), by_server: Mutex::new(by_server) }
    }

    /// Replaces `server`'s tools (none: it is down).
    pub fn set(&self, server: &str, tools: Vec<Entry>) {
        let mut by_server = lock(&self.by_server);
        if let Some((_, held)) = by_server.iter_mut().find(|(name, _)| &**name == server) {
            *held = tools;
        }
        let all: Vec<Entry> = by_server.iter().flat_map(|(_, tools)| tools.iter().cloned()).collect();
        *lock(&self.snapshot) = Arc::from(all);
    }
}

impl ToolSource for McpTools {
    fn tools(&self) -> Arc<[Entry]> {
        Arc::clone(&lock(&self.snapshot))
    }
}

/// `servers` with each one whose name, made a tool-name prefix, repeats an earlier one's made
/// unusable: two tools of one name would make the model's provider refuse every request.
fn distinct(mut servers: Vec<McpServer>) -> Vec<McpServer> {
    let mut prefixes: BTreeMap<String, String> = BTreeMap::new();
    for server in &mut servers {
        let prefix = offered_name(&server.name, "", &Default::default());
        match prefixes.get(&prefix) {
            Some(first) if server.transport.is_ok() => {
                server.transport = Err(format!("its tools would have the names of `{first}`'s; rename one of them"));
            }
            Some(_) => {}
            None => {
                prefixes.insert(prefix, server.name.clone());
            }
        }
    }
    servers
}

/// The MCP servers of this gateway.
pub struct Mcp {
    config: String,
    config_error: Option<String>,
    servers: Vec<Arc<Server>>,
    tools: Arc<McpTools>,
    inherited: Arc<[(String, String)]>,
    stop: CancellationToken,
    tasks: TaskTracker,
    started: AtomicBool,
}

/// One server in `/readyz`: whether it is up, nothing of why.
#[derive(Debug, Serialize)]
pub struct PublicStatus {
    pub state: State,
    pub tools: usize,
}

/// The admin status: the file, why it could not be read, and every server with its details.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdminStatus {
    pub config: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub servers: BTreeMap<String, AdminServer>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdminServer {
    #[serde(flatten)]
    pub status: ServerStatus,
    /// The server's last stderr lines (stdio servers).
    pub stderr: Vec<String>,
}

impl Mcp {
    pub fn new(settings: &Settings) -> Self {
        let mcp = &settings.mcp;
        let (servers, config_error) = match &mcp.servers {
            // With tools off, MCP servers are not started either.
            Ok(_) if !settings.tools.enabled => (Vec::new(), None),
            Ok(servers) => {
                (distinct(servers.clone()).into_iter().map(|config| Arc::new(Server::new(config))).collect(), None)
            }
            Err(error) => (Vec::new(), Some(error.to_string())),
        };
        let tools = Arc::new(McpTools::new(&servers));
        Self {
            config: mcp.path.display().to_string(),
            config_error,
            servers,
            tools,
            inherited: Arc::from(mcp.inherited.clone()),
            stop: CancellationToken::new(),
            tasks: TaskTracker::new(),
            started: AtomicBool::new(false),
        }
    }

    /// The tools of every connected server, for the registry.
    pub fn tools(&self) -> Arc<dyn ToolSource> {
        Arc::clone(&self.tools) as Arc<dyn ToolSource>
    }

    /// Connects every enabled server in the background; returns at once.
    pub fn start(&self) {
        if let Some(error) = &self.config_error {
            tracing::error!(%error, "MCP servers are off: their configuration cannot be read");
        }
        if self.started.swap(true, Ordering::AcqRel) {
            return;
        }
        for server in &self.servers {
            if let Err(error) = &server.config.transport {
                tracing::error!(server = %server.name, %error, "an MCP server's entry cannot be used");
            }
        }
        let running: Vec<&Arc<Server>> = self.servers.iter().filter(|server| server.runs()).collect();
        if running.is_empty() {
            return;
        }
        let http = match connect::http_client() {
            Ok(http) => http,
            Err(error) => {
                tracing::error!(%error, "MCP servers are off");
                return;
            }
        };
        let shared = Shared {
            tools: Arc::clone(&self.tools),
            inherited: Arc::clone(&self.inherited),
            http,
            stop: self.stop.clone(),
        };
        for server in running {
            self.tasks.spawn(server::supervise(Arc::clone(server), shared.clone()));
        }
    }

    /// Closes every server (each within a few seconds, then its process group is killed).
    pub async fn stop(&self) {
        self.stop.cancel();
        self.tasks.close();
        if tokio::time::timeout(STOP_TIMEOUT, self.tasks.wait()).await.is_err() {
            tracing::warn!("MCP servers still closing after the stop's grace; their processes are killed");
        }
    }

    /// `/readyz`'s view; empty when no server is configured.
    pub fn public_status(&self) -> BTreeMap<String, PublicStatus> {
        self.servers
            .iter()
            .map(|server| {
                let status = server.status();
                (server.name.to_string(), PublicStatus { state: status.state, tools: status.tools })
            })
            .collect()
    }

    pub fn admin_status(&self) -> AdminStatus {
        let servers = self
            .servers
            .iter()
            .map(|server| {
                let admin = AdminServer { status: server.status(), stderr: server.stderr.lines() };
                (server.name.to_string(), admin)
            })
            .collect();
        AdminStatus { config: self.config.clone(), error: self.config_error.clone(), servers }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::core::asker::Rights;
    use crate::core::settings::McpTransport;
    use crate::daemon::agent::tools::{Access, Refusal, Registry, Tool, ToolContext, ToolFuture};
    use crate::daemon::providers::ToolSpec;

    struct Fixed(&'static str, Access);

    impl Tool for Fixed {
        fn spec(&self) -> ToolSpec {
            ToolSpec { name: self.0.to_owned(), description: String::new(), input_schema: json!({"type": "object"}) }
        }
        fn access(&self) -> Access {
            self.1
        }
        fn call<'a>(&'a self, _input: Value, _context: &'a ToolContext) -> ToolFuture<'a> {
            Box::pin(async { Ok(String::new()) })
        }
    }

    fn entry(name: &'static str, access: Access) -> Entry {
        let tool: Arc<dyn Tool> = Arc::new(Fixed(name, access));
        (tool.spec(), tool)
    }

    fn server(name: &str) -> Arc<Server> {
        let transport = Ok(McpTransport::Stdio { command: "x".into(), args: Vec::new(), env: Vec::new() });
        Arc::new(Server::new(McpServer {
            name: name.into(),
            transport,
            disabled: false,
            allowed_tools: None,
            call_timeout: Duration::from_secs(1),
            guests: false,
        }))
    }

    fn names(specs: Vec<ToolSpec>) -> Vec<String> {
        specs.into_iter().map(|spec| spec.name).collect()
    }

    #[test]
    fn servers_whose_tool_names_would_clash_are_refused() {
        let config = |name: &str| server(name).config.clone();
        let kept = distinct(vec![config("my server"), config("my_server"), config("other")]);
        assert!(kept[0].transport.is_ok() && kept[2].transport.is_ok());
        assert_eq!(
            kept[1].transport.as_ref().unwrap_err(),
            "its tools would have the names of `my server`'s; rename one of them"
        );
    }

    #[test]
    fn the_registry_reads_the_servers_current_tools_in_the_files_order() {
        let tools = Arc::new(McpTools::new(&[server("a"), server("b")]));
        let mut registry = Registry::empty();
        registry.add(Arc::new(Fixed("memory_write", Access::OwnNotes)));
        registry.add_source(Arc::clone(&tools) as Arc<dyn ToolSource>);
        assert_eq!(names(registry.offered(Rights::Operator)), ["memory_write"]);

        tools.set("b", vec![entry("mcp__b__act", Access::Act)]);
        tools.set("a", vec![entry("mcp__a__read", Access::Read)]);
        assert_eq!(names(registry.offered(Rights::Operator)), ["memory_write", "mcp__a__read", "mcp__b__act"]);
        assert_eq!(names(registry.offered(Rights::Guest)), ["memory_write", "mcp__a__read"]);
        assert!(registry.permitted("mcp__b__act", Rights::Operator).is_ok());
        assert_eq!(
            registry.permitted("mcp__b__act", Rights::Guest).err(),
            Some(Refusal::NotAllowed("mcp__b__act".into()))
        );
        registry.grant(["mcp__b__act".to_owned()]);
        assert!(registry.permitted("mcp__b__act", Rights::Guest).is_ok(), "the operator may grant it");

        tools.set("b", Vec::new());
        assert_eq!(
            registry.permitted("mcp__b__act", Rights::Operator).err(),
            Some(Refusal::Unknown("mcp__b__act".into()))
        );
        assert_eq!(registry.access_of("mcp__a__read"), Some(Access::Read));
        assert_eq!(registry.overview().len(), 2);
    }
}
