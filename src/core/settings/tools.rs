//! What the assistant may do: whether tools run at all, their bounds, which tools chat users
//! other than the operator may use, and the keys and hosts of the tools that reach out.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::core::secret::Secret;

use super::SettingsError;
use super::layers::{Flag, Layers, Origin};

pub const BRAVE_API_URL: &str = "https://api.search.brave.com/res/v1";

/// `[tools]` in `molt.toml`.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ToolsSection {
    pub enabled: Option<bool>,
    pub max_rounds: Option<u32>,
    pub call_timeout_secs: Option<u64>,
    pub max_result_bytes: Option<usize>,
    /// Tools besides the read-only ones that paired chat users other than the operator may use.
    pub guest_tools: Option<Vec<String>>,
    /// `host[:port]` names `web_fetch` may reach although they resolve to private addresses.
    pub web_fetch_allow: Option<Vec<String>>,
    pub brave_api_url: Option<String>,
    /// The model's context window in tokens, when the built-in table does not know the model.
    pub context_tokens: Option<u32>,
    /// `off`, `approve` or `allowlist`: whether `exec` is offered and what a command needs.
    pub exec: Option<String>,
    pub exec_approval_secs: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolSettings {
    /// `MOLT_TOOLS` / `[tools] enabled`: off, the model is offered no tool at all.
    pub enabled: bool,
    /// Tool rounds in one turn at most (`MOLT_MAX_TOOL_ROUNDS`).
    pub max_rounds: usize,
    pub call_timeout: Duration,
    /// A tool's result is cut to this many bytes before the model reads it.
    pub max_result_bytes: usize,
    pub guest_tools: Vec<String>,
    pub web_fetch_allow: Vec<String>,
    /// `web_search` is offered only with a key.
    pub brave_api_key: Option<Secret>,
    pub brave_api_url: String,
    /// `MOLT_CONTEXT_TOKENS`: overrides the context window of the model table.
    pub context_tokens: Option<u32>,
    /// `MOLT_EXEC`: whether the operator's shell commands run, and who decides.
    pub exec: ExecMode,
    /// `MOLT_EXEC_APPROVAL_SECS`: how long a command waits for the operator, then is denied.
    pub exec_approval_timeout: Duration,
}

/// `MOLT_EXEC`: `off` (the tool is not offered), `approve` (each command not on the allowlist
/// waits for the operator), `allowlist` (only allowlisted commands run, nobody is asked).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExecMode {
    #[default]
    Off,
    Approve,
    Allowlist,
}

impl std::str::FromStr for ExecMode {
    type Err = ();
    fn from_str(raw: &str) -> Result<Self, ()> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "off" | "0" | "false" | "no" => Ok(Self::Off),
            "approve" | "ask" => Ok(Self::Approve),
            "allowlist" => Ok(Self::Allowlist),
            _ => Err(()),
        }
    }
}

impl std::fmt::Display for ExecMode {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(match self {
            Self::Off => "off",
            Self::Approve => "approve",
            Self::Allowlist => "allowlist",
        })
    }
}

impl Default for ToolSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            max_rounds: 16,
            call_timeout: Duration::from_secs(60),
            max_result_bytes: 100_000,
            guest_tools: Vec::new(),
            web_fetch_allow: Vec::new(),
            brave_api_key: None,
            brave_api_url: BRAVE_API_URL.to_owned(),
            context_tokens: None,
            exec: ExecMode::Off,
            exec_approval_timeout: Duration::from_secs(300),
        }
    }
}

/// A comma-separated list in the environment, or the file's list.
fn list(layers: &mut Layers<'_>, name: &'static str, var: &'static str, file: Option<&Vec<String>>) -> Vec<String> {
    let split = |raw: &str| -> Vec<String> {
        raw.split(',').map(str::trim).filter(|item| !item.is_empty()).map(str::to_owned).collect()
    };
    match layers.env(&[var]) {
        Some((var, raw)) => {
            layers.record(name, raw.clone(), Origin::Env(var));
            split(&raw)
        }
        None => {
            let items = file.cloned().unwrap_or_default();
            if !items.is_empty() {
                layers.record(name, items.join(","), Origin::File);
            }
            items
        }
    }
}

pub(super) fn resolve(layers: &mut Layers<'_>, file: &ToolsSection) -> Result<ToolSettings, SettingsError> {
    let defaults = ToolSettings::default();
    let enabled = layers.value("tools", None, &["MOLT_TOOLS"], file.enabled.map(Flag), Flag(defaults.enabled))?;
    let max_rounds = layers.value(
        "max_tool_rounds",
        None,
        &["MOLT_MAX_TOOL_ROUNDS"],
        file.max_rounds,
        defaults.max_rounds as u32,
    )?;
    let timeout_secs = layers.value(
        "tool_timeout_secs",
        None,
        &["MOLT_TOOL_TIMEOUT_SECS"],
        file.call_timeout_secs,
        defaults.call_timeout.as_secs(),
    )?;
    let max_result_bytes = layers.value(
        "tool_max_result_bytes",
        None,
        &["MOLT_TOOL_MAX_RESULT_BYTES"],
        file.max_result_bytes,
        defaults.max_result_bytes,
    )?;
    let guest_tools = list(layers, "guest_tools", "MOLT_GUEST_TOOLS", file.guest_tools.as_ref());
    let web_fetch_allow = list(layers, "web_fetch_allow", "MOLT_WEB_FETCH_ALLOW", file.web_fetch_allow.as_ref());
    let brave_api_key = layers.secret("brave_api_key", &["BRAVE_API_KEY"]);
    let brave_api_url = layers.value(
        "brave_api_url",
        None,
        &["MOLT_BRAVE_API_URL"],
        file.brave_api_url.clone(),
        defaults.brave_api_url.clone(),
    )?;
    let context_tokens = layers.optional("context_tokens", None, &["MOLT_CONTEXT_TOKENS"], file.context_tokens)?;
    let exec_file = match &file.exec {
        Some(raw) => Some(raw.parse::<ExecMode>().map_err(|()| SettingsError::Invalid {
            name: "tools.exec",
            value: raw.clone(),
            expected: "`off`, `approve` or `allowlist`",
        })?),
        None => None,
    };
    let exec = layers.value("exec", None, &["MOLT_EXEC"], exec_file, defaults.exec)?;
    let exec_approval_secs = layers.value(
        "exec_approval_secs",
        None,
        &["MOLT_EXEC_APPROVAL_SECS"],
        file.exec_approval_secs,
        defaults.exec_approval_timeout.as_secs(),
    )?;
    Ok(ToolSettings {
        enabled: enabled.0,
        max_rounds: (max_rounds.max(1)) as usize,
        call_timeout: Duration::from_secs(timeout_secs.max(1)),
        max_result_bytes: max_result_bytes.max(1024),
        guest_tools,
        web_fetch_allow,
        brave_api_key,
        brave_api_url: brave_api_url.trim_end_matches('/').to_owned(),
        context_tokens: context_tokens.filter(|tokens| *tokens > 0),
        exec,
        exec_approval_timeout: Duration::from_secs(exec_approval_secs.clamp(1, 3600)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved(vars: &[(&str, &str)], file: &ToolsSection) -> ToolSettings {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let env = move |name: &str| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let mut layers = Layers::new(&env);
        resolve(&mut layers, file).unwrap()
    }

    #[test]
    fn defaults_environment_and_file() {
        let settings = resolved(&[], &ToolsSection::default());
        assert_eq!(settings, ToolSettings::default());
        let file = ToolsSection {
            guest_tools: Some(vec!["write_file".into()]),
            max_rounds: Some(3),
            ..ToolsSection::default()
        };
        let settings = resolved(
            &[
                ("MOLT_TOOLS", "off"),
                ("MOLT_WEB_FETCH_ALLOW", "127.0.0.1:8080, intranet.local ,"),
                ("BRAVE_API_KEY", "k"),
                ("MOLT_BRAVE_API_URL", "http://127.0.0.1:9/res/v1/"),
                ("MOLT_CONTEXT_TOKENS", "0"),
            ],
            &file,
        );
        assert!(!settings.enabled);
        assert_eq!(settings.max_rounds, 3);
        assert_eq!(settings.guest_tools, ["write_file"]);
        assert_eq!(settings.web_fetch_allow, ["127.0.0.1:8080", "intranet.local"]);
        assert_eq!(settings.brave_api_key.as_ref().map(Secret::expose), Some("k"));
        assert_eq!(settings.brave_api_url, "http://127.0.0.1:9/res/v1");
        assert_eq!(settings.context_tokens, None);
        assert_eq!(resolved(&[("MOLT_MAX_TOOL_ROUNDS", "0")], &file).max_rounds, 1);
        assert_eq!(settings.exec, ExecMode::Off, "exec is off unless asked for");
        let exec = resolved(&[("MOLT_EXEC", "Approve"), ("MOLT_EXEC_APPROVAL_SECS", "0")], &file);
        assert_eq!((exec.exec, exec.exec_approval_timeout), (ExecMode::Approve, Duration::from_secs(1)));
        let file = ToolsSection { exec: Some("allowlist".into()), ..ToolsSection::default() };
        assert_eq!(resolved(&[], &file).exec, ExecMode::Allowlist);
    }
}
