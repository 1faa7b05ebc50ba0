//! Which tools guests may use beyond the read-only ones. `MOLT_GUEST_TOOLS` / `[tools]
//! guest_tools` seed it once; from then on it is the operator's to change on the admin page:
//! a store setting (replicated), never overwritten by a restart.

use serde::Serialize;

use super::Agent;
use super::tools::Access;
use crate::daemon::store::StoreError;

pub const GUEST_TOOLS_SETTING: &str = "tools.guest_tools";

/// One tool as the admin page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolView {
    pub name: String,
    /// `read`, `own-notes` or `act`: only `act` tools need a grant.
    pub access: &'static str,
    pub guests: bool,
    /// No grant gives it to guests (`exec`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub operator_only: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolsView {
    pub enabled: bool,
    pub tools: Vec<ToolView>,
}

#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    #[error("there is no tool named `{0}`")]
    Unknown(String),
    #[error("`{0}` only reads; guests may always use it")]
    NotNeeded(String),
    #[error("`{0}` is the operator's alone; no grant gives it to guests")]
    OperatorOnly(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn access_name(access: Access) -> &'static str {
    match access {
        Access::Read => "read",
        Access::OwnNotes => "own-notes",
        Access::Act => "act",
    }
}

impl Agent {
    /// Seeds the grants from the settings when the store has none yet, then applies the
    /// store's. A value that cannot be read leaves guests with the read-only tools.
    pub async fn load_tool_grants(&self) -> Result<(), StoreError> {
        let seeded = serde_json::to_string(&self.tool_settings.guest_tools).unwrap_or_else(|_| "[]".into());
        self.store.seed_setting(GUEST_TOOLS_SETTING, &seeded).await?;
        let stored = self.store.setting(GUEST_TOOLS_SETTING).await?.unwrap_or_default();
        let names: Vec<String> = serde_json::from_str(&stored).unwrap_or_else(|error| {
            tracing::error!(%error, "the stored tool grants cannot be read; guests get the read-only tools");
            Vec::new()
        });
        self.tools.grant(names);
        Ok(())
    }

    pub fn tools_view(&self) -> ToolsView {
        let tools = self
            .tools
            .overview()
            .into_iter()
            .map(|(name, access, guests)| ToolView {
                operator_only: !super::tools::grantable(&name),
                name,
                access: access_name(access),
                guests,
            })
            .collect();
        ToolsView { enabled: self.tool_settings.enabled, tools }
    }

    /// Grants guests exactly `names` (tools that act); stores and applies it.
    pub async fn set_guest_tools(&self, mut names: Vec<String>) -> Result<ToolsView, GrantError> {
        names.sort();
        names.dedup();
        for name in &names {
            if !super::tools::grantable(name) {
                return Err(GrantError::OperatorOnly(name.clone()));
            }
            match self.tools.access_of(name) {
                None => return Err(GrantError::Unknown(name.clone())),
                Some(Access::Act) => {}
                Some(_) => return Err(GrantError::NotNeeded(name.clone())),
            }
        }
        let stored = serde_json::to_string(&names).unwrap_or_else(|_| "[]".into());
        self.store.set_setting(GUEST_TOOLS_SETTING, &stored).await?;
        tracing::info!(tools = ?names, "the tools granted to guests changed");
        self.tools.grant(names);
        Ok(self.tools_view())
    }
}
