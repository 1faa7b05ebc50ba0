//! The tool registry: every tool the model may call, what each may do, and which of them the
//! one who asked may use. A call outside the asker's rights is answered to the model as refused
//! and never runs. Each tool lives in its own file and owns its input schema and its limits.

pub mod exec;
mod files;
mod memory;
pub mod memory_search;
mod round;
pub mod send_message;
pub mod web_fetch;
mod web_search;
mod workspace_path;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use round::{CallOutcome, RoundLimits, run_round};

use crate::core::asker::{Asker, MemoryScope, Rights};
use crate::core::ids::SessionKey;
use crate::core::settings::ToolSettings;
use crate::core::sync::lock;
use crate::daemon::providers::{ToolImage, ToolSpec};
use crate::daemon::store::Store;

/// What a tool does to the world, which decides who may use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reads only (the web, the workspace, memory): any paired chat user may use it.
    Read,
    /// Writes only the asker's own notes (`memory_write`: the operator's memory for the
    /// operator, a guest's own notes for a guest), so anyone may use it.
    OwnNotes,
    /// Writes files or memory, or sends messages: the operator's, unless the operator granted
    /// it to guests.
    Act,
}

/// Everything a call may use: whose turn it is and the gateway's parts it may touch.
#[derive(Clone)]
pub struct ToolContext {
    pub workspace: PathBuf,
    pub store: Store,
    pub session_key: SessionKey,
    pub asker: Asker,
    /// Where a fact the asker wants remembered goes.
    pub scope: MemoryScope,
}

impl ToolContext {
    /// The asker's rights, as the registry judged them: the operator's scope is the shared one.
    pub fn rights(&self) -> Rights {
        match self.scope {
            MemoryScope::Shared => Rights::Operator,
            MemoryScope::Sender { .. } => Rights::Guest,
        }
    }
}

/// A failed call; its text goes back to the model as an `is_error` result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ToolError(String);

impl ToolError {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

pub type ToolFuture<'a> = BoxFuture<'a, Result<String, ToolError>>;
pub type OutputFuture<'a> = BoxFuture<'a, Result<ToolOutput, ToolError>>;

/// A result with pictures besides its text (a screenshot, an MCP server's image).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ToolOutput {
    pub text: String,
    pub images: Vec<ToolImage>,
}

impl From<String> for ToolOutput {
    fn from(text: String) -> Self {
        Self { text, images: Vec::new() }
    }
}

pub trait Tool: Send + Sync {
    /// Name, description and JSON-schema input, as offered to the model.
    fn spec(&self) -> ToolSpec;

    fn access(&self) -> Access;

    /// Runs one call. Dropping the future cancels it (`chat.abort`, the call's timeout).
    fn call<'a>(&'a self, input: Value, context: &'a ToolContext) -> ToolFuture<'a>;

    /// How long one call may take: the round's limit, unless the tool bounds its own calls
    /// (`exec` waits for the operator, then for its command).
    fn call_timeout(&self, round: Duration) -> Duration {
        round
    }

    /// Runs one call of a tool whose results may carry images; the round calls this. A tool
    /// that answers with text alone keeps the default.
    fn call_output<'a>(&'a self, input: Value, context: &'a ToolContext) -> OutputFuture<'a> {
        Box::pin(async move { self.call(input, context).await.map(ToolOutput::from) })
    }
}

/// Reads a call's input into the tool's typed arguments; a bad input is an error the model
/// reads and can correct.
pub fn arguments<T: DeserializeOwned>(input: Value) -> Result<T, ToolError> {
    serde_json::from_value(input).map_err(|error| ToolError::new(format!("invalid arguments: {error}")))
}

/// A tool with its spec, built once.
pub type Entry = (ToolSpec, Arc<dyn Tool>);

/// Tools that come and go while the gateway runs (an MCP server's, as it connects and changes
/// its list). The registry asks for the current list at each use: one snapshot, shared, not
/// rebuilt.
pub trait ToolSource: Send + Sync {
    fn tools(&self) -> Arc<[Entry]>;
}

/// The tools of this gateway and who may use which.
pub struct Registry {
    /// Each tool with its spec, built once.
    tools: Vec<Entry>,
    /// Tools added at run time, after the fixed ones.
    sources: Vec<Arc<dyn ToolSource>>,
    /// Tools the operator granted to guests besides the read-only ones (the admin page changes
    /// them while the gateway runs).
    granted: Mutex<BTreeSet<String>>,
}

/// Tools no grant gives a guest: what they do is the operator's alone.
const OPERATOR_ONLY: &[&str] = &[exec::EXEC];

/// Whether the operator may grant the tool `name` to guests at all.
pub fn grantable(name: &str) -> bool {
    !OPERATOR_ONLY.contains(&name)
}

/// A tool's current name for one of its earlier names, which the model may still use.
fn canonical(name: &str) -> &str {
    match name {
        memory::REMEMBER => memory::MEMORY_WRITE,
        other => other,
    }
}

/// Why a call did not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Unknown(String),
    NotAllowed(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unknown(name) => write!(formatter, "there is no tool named `{name}`"),
            Self::NotAllowed(name) => {
                write!(formatter, "refused: `{name}` is not available to this user; only the operator can use it here")
            }
        }
    }
}

impl Registry {
    /// The built-in tools the settings turn on; none when tools are off.
    pub fn built_in(settings: &ToolSettings) -> Self {
        let mut registry = Self::empty();
        if !settings.enabled {
            return registry;
        }
        registry.grant(settings.guest_tools.iter().cloned());
        for tool in memory::tools().into_iter().chain(files::tools()) {
            registry.add(tool);
        }
        for tool in memory_search::tools() {
            registry.add(tool);
        }
        registry.add(Arc::new(web_fetch::WebFetch::new(settings)));
        if let Some(search) = web_search::tool(settings) {
            registry.add(search);
        }
        registry
    }

    pub fn empty() -> Self {
        Self { tools: Vec::new(), sources: Vec::new(), granted: Mutex::new(BTreeSet::new()) }
    }

    /// Adds tools that change at run time; a fixed tool of the same name wins.
    pub fn add_source(&mut self, source: Arc<dyn ToolSource>) {
        self.sources.push(source);
    }

    /// Every tool, the fixed ones first, each source's in its order.
    fn each(&self, mut visit: impl FnMut(&ToolSpec, &Arc<dyn Tool>)) {
        self.tools.iter().for_each(|(spec, tool)| visit(spec, tool));
        for source in &self.sources {
            source.tools().iter().for_each(|(spec, tool)| visit(spec, tool));
        }
    }

    /// The tool named `name`.
    fn find(&self, name: &str) -> Option<Arc<dyn Tool>> {
        let fixed = self.tools.iter().find(|(spec, _)| spec.name == name).map(|(_, tool)| Arc::clone(tool));
        fixed.or_else(|| {
            self.sources.iter().find_map(|source| {
                source.tools().iter().find(|(spec, _)| spec.name == name).map(|(_, tool)| Arc::clone(tool))
            })
        })
    }

    /// Adds a tool; one with the same name replaces the earlier.
    pub fn add(&mut self, tool: Arc<dyn Tool>) {
        let spec = tool.spec();
        self.tools.retain(|(known, _)| known.name != spec.name);
        self.tools.push((spec, tool));
    }

    fn allowed(&self, tool: &dyn Tool, name: &str, rights: Rights) -> bool {
        match rights {
            Rights::Operator => true,
            Rights::Guest => tool.access() != Access::Act || (grantable(name) && lock(&self.granted).contains(name)),
        }
    }

    /// Replaces the tools granted to guests.
    pub fn grant(&self, names: impl IntoIterator<Item = String>) {
        *lock(&self.granted) = names.into_iter().collect();
    }

    /// Every tool with its access and whether guests may use it, in a stable order.
    pub fn overview(&self) -> Vec<(String, Access, bool)> {
        let mut all = Vec::new();
        self.each(|spec, tool| {
            all.push((spec.name.clone(), tool.access(), self.allowed(tool.as_ref(), &spec.name, Rights::Guest)));
        });
        all
    }

    /// The access of the tool `name`, if there is one.
    pub fn access_of(&self, name: &str) -> Option<Access> {
        self.find(name).map(|tool| tool.access())
    }

    /// The tools offered to the model on behalf of `rights`, in a stable order.
    pub fn offered(&self, rights: Rights) -> Vec<ToolSpec> {
        let mut offered = Vec::new();
        self.each(|spec, tool| {
            if self.allowed(tool.as_ref(), &spec.name, rights) {
                offered.push(spec.clone());
            }
        });
        offered
    }

    /// The tool `name` when `rights` may run it.
    pub fn permitted(&self, name: &str, rights: Rights) -> Result<Arc<dyn Tool>, Refusal> {
        let name = canonical(name);
        let tool = self.find(name).ok_or_else(|| Refusal::Unknown(name.to_owned()))?;
        if self.allowed(tool.as_ref(), name, rights) { Ok(tool) } else { Err(Refusal::NotAllowed(name.to_owned())) }
    }
}

#[cfg(test)]
mod tests;
