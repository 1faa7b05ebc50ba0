//! `molt.toml`: the operator's non-secret settings file.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use super::deploy::{AccessSection, ChannelSection, DeployChannels, DeploySection};

use super::SettingsError;

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub gateway: GatewaySection,
    #[serde(default)]
    pub model: ModelSection,
    /// Written by `molt init` for `molt deploy`; the gateway ignores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy: Option<DeploySection>,
    /// Edited by hand; `molt init` does not write it.
    #[serde(default, skip_serializing)]
    pub channels: super::channels::ChannelsSection,
    /// Edited by hand; `molt init` does not write it.
    #[serde(default, skip_serializing)]
    pub tools: super::tools::ToolsSection,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GatewaySection {
    pub port: Option<u16>,
    pub bind: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub log_format: Option<String>,
    pub loopback_auto_approve: Option<bool>,
    pub tick_interval_ms: Option<u64>,
    pub shutdown_grace_secs: Option<u64>,
    pub max_connections: Option<usize>,
    pub max_buffered_bytes: Option<usize>,
    pub max_queued_bytes: Option<usize>,
    /// Origins besides the gateway's own that may open browser WebSockets.
    pub allowed_origins: Option<Vec<String>>,
    /// Peers (IPs or CIDRs) whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Option<Vec<String>>,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    pub provider: Option<String>,
    pub model: Option<String>,
    pub fallbacks: Option<Vec<String>>,
    pub max_tokens: Option<u32>,
    pub timeout_secs: Option<u64>,
    pub max_attempts: Option<u32>,
    pub anthropic_base_url: Option<String>,
    pub openai_base_url: Option<String>,
    pub ai_gateway_base_url: Option<String>,
}

impl FileConfig {
    /// Reads `path`; a missing file is an error only when the operator named it.
    pub fn load(path: &Path, named: bool) -> Result<Option<Self>, SettingsError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound && !named => return Ok(None),
            Err(error) => {
                return Err(SettingsError::File { path: path.to_owned(), message: error.to_string() });
            }
        };
        toml::from_str(&text)
            .map(Some)
            .map_err(|error| SettingsError::File { path: path.to_owned(), message: error.to_string() })
    }
}
