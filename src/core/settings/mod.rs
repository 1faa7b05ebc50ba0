//! The gateway's settings, resolved once: flags over environment over `molt.toml` over defaults.

mod access;
mod channels;
mod deploy;
mod edge;
mod file;
mod layers;
mod mcp;
mod model;
mod replication;
mod tools;

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

pub use access::{AccessSettings, AuthSettings, ChannelSeed};
pub use channels::{ChannelSettings, DiscordSettings, GroupPolicy, SlackSettings, TelegramMode, TelegramSettings};
pub use edge::EdgeSettings;
pub use file::{
    AccessSection, ChannelSection, DeployChannels, DeploySection, FileConfig, GatewaySection, ModelSection,
};
pub use layers::{Origin, Provenance};
pub use mcp::{MCP_CONFIG_VAR, McpConfigError, McpServer, McpSettings, McpTransport};
pub use model::{ANTHROPIC_BASE_URL, Api, ModelSettings, NO_PROVIDER_HINT, OPENAI_BASE_URL, ProviderSettings};
pub use replication::ReplicationSettings;
pub use tools::{ExecMode, ToolSettings, ToolsSection};

use crate::core::secret::Secret;
use layers::{Flag, Layers};

pub const DEFAULT_PORT: u16 = 18789;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl FromStr for LogFormat {
    type Err = ();
    fn from_str(raw: &str) -> Result<Self, ()> {
        match raw {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            _ => Err(()),
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Self::Text => "text",
            Self::Json => "json",
        })
    }
}

/// Values given on the command line (each `None` when not given).
#[derive(Debug, Clone, Default)]
pub struct GatewayFlags {
    pub port: Option<u16>,
    pub bind: Option<IpAddr>,
    pub data_dir: Option<PathBuf>,
    pub log_format: Option<LogFormat>,
    pub config: Option<PathBuf>,
    /// `--insecure`: allow `DEV_MODE` on a non-loopback bind.
    pub insecure: bool,
}

/// Sized for the smallest container (`lite`, 256 MiB): a connection costs tens of KiB.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Four of the largest frames (`policy.maxPayload`, 1 MiB).
pub const DEFAULT_MAX_BUFFERED_BYTES: usize = 4 * 1024 * 1024;
/// Below this a busy but healthy client would be closed.
const MIN_BUFFERED_BYTES: usize = 16 * 1024;
/// Bytes queued for all clients together: a quarter of the `lite` container's 256 MiB, so many
/// slow clients cannot add up to more than the container has.
pub const DEFAULT_MAX_QUEUED_BYTES: usize = 64 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub port: u16,
    pub bind: IpAddr,
    pub data_dir: PathBuf,
    pub log_format: LogFormat,
    /// From `MOLTBOT_GATEWAY_TOKEN` / `MOLT_GATEWAY_TOKEN`; otherwise the daemon loads or
    /// generates one in the data directory.
    pub gateway_token: Option<Secret>,
    /// Accept device identities on direct loopback connections without an operator's approval.
    pub loopback_auto_approve: bool,
    pub tick_interval: Duration,
    /// How long a stop waits for in-flight turns before aborting them.
    pub shutdown_grace: Duration,
    /// Open WebSocket connections at most; one more is refused with 503 before the upgrade.
    pub max_connections: usize,
    /// Bytes a connection may have queued for its client before it is closed as too slow
    /// (`hello-ok.policy.maxBufferedBytes`).
    pub max_buffered_bytes: usize,
    /// Bytes queued for all clients together; a client whose frame would pass it is closed as
    /// too slow.
    pub max_queued_bytes: usize,
    pub model: ModelSettings,
    pub auth: AuthSettings,
    /// Telegram, Discord and Slack: on when their tokens are set.
    pub channels: ChannelSettings,
    /// `DEV_MODE` on a non-loopback bind, explicitly allowed with `--insecure`.
    pub insecure: bool,
    /// Continuous replication to R2 / S3; `None` when no bucket is configured.
    pub replication: Option<ReplicationSettings>,
    /// Allowed origins, trusted proxies and the Worker's proxy secret.
    pub edge: EdgeSettings,
    pub tools: ToolSettings,
    /// The MCP servers of `mcp.json` (`MOLT_MCP_CONFIG`).
    pub mcp: McpSettings,
    /// Where each value came from, for `--print-config`.
    pub provenance: Vec<Provenance>,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("`{var}` has an invalid value `{value}`")]
    InvalidEnv { var: &'static str, value: String },
    #[error("setting `{name}` has an invalid value `{value}`; expected {expected}")]
    Invalid { name: &'static str, value: String, expected: &'static str },
    #[error("{what} needs {vars}")]
    Missing { what: &'static str, vars: &'static str },
    #[error(
        "`DEV_MODE` turns off device approval and admin sign-in; refusing to serve it on {bind}, which other machines can reach"
    )]
    Insecure { bind: IpAddr },
    #[error("cannot read settings file `{path}`: {message}")]
    File { path: PathBuf, message: String },
}

/// How often, how long and how much: the gateway's timing and its bounds on connections and
/// queued bytes, each raised to a floor that keeps it usable.
struct Limits {
    tick_interval: Duration,
    shutdown_grace: Duration,
    max_connections: usize,
    max_buffered_bytes: usize,
    max_queued_bytes: usize,
}

fn limits(layers: &mut Layers<'_>, gateway: &file::GatewaySection) -> Result<Limits, SettingsError> {
    let tick_ms =
        layers.value("tick_interval_ms", None, &["MOLT_TICK_INTERVAL_MS"], gateway.tick_interval_ms, 30_000)?;
    let grace_secs =
        layers.value("shutdown_grace_secs", None, &["MOLT_SHUTDOWN_GRACE_SECS"], gateway.shutdown_grace_secs, 10)?;
    let max_connections = layers.value(
        "max_connections",
        None,
        &["MOLT_MAX_CONNECTIONS"],
        gateway.max_connections,
        DEFAULT_MAX_CONNECTIONS,
    )?;
    let max_buffered_bytes = layers.value(
        "max_buffered_bytes",
        None,
        &["MOLT_MAX_BUFFERED_BYTES"],
        gateway.max_buffered_bytes,
        DEFAULT_MAX_BUFFERED_BYTES,
    )?;
    let max_queued_bytes = layers.value(
        "max_queued_bytes",
        None,
        &["MOLT_MAX_QUEUED_BYTES"],
        gateway.max_queued_bytes,
        DEFAULT_MAX_QUEUED_BYTES,
    )?;
    Ok(Limits {
        tick_interval: Duration::from_millis(tick_ms.max(100)),
        shutdown_grace: Duration::from_secs(grace_secs),
        max_connections: max_connections.max(1),
        max_buffered_bytes: max_buffered_bytes.max(MIN_BUFFERED_BYTES),
        max_queued_bytes: max_queued_bytes.max(MIN_BUFFERED_BYTES),
    })
}

impl Settings {
    /// Resolves the settings from the process environment and the settings file.
    pub fn from_process(flags: &GatewayFlags) -> Result<Self, SettingsError> {
        let env = |name: &str| std::env::var(name).ok();
        let (path, named) = config_path(flags, &env);
        let file = FileConfig::load(&path, named)?.unwrap_or_default();
        Self::resolve(flags, &env, &file)
    }

    /// Resolves from explicit sources; the whole rule set lives here so tests can drive it.
    pub fn resolve(
        flags: &GatewayFlags,
        env: &dyn Fn(&str) -> Option<String>,
        file: &FileConfig,
    ) -> Result<Self, SettingsError> {
        let mut layers = Layers::new(env);
        let gateway = &file.gateway;
        let port =
            layers.value("port", flags.port.map(|p| ("--port", p)), &["MOLT_PORT"], gateway.port, DEFAULT_PORT)?;
        let file_bind = match &gateway.bind {
            Some(raw) => Some(raw.parse::<IpAddr>().map_err(|_| SettingsError::Invalid {
                name: "gateway.bind",
                value: raw.clone(),
                expected: "an IP address such as `127.0.0.1` or `0.0.0.0`",
            })?),
            None => None,
        };
        let bind = layers.value(
            "bind",
            flags.bind.map(|b| ("--bind", b)),
            &["MOLT_BIND"],
            file_bind,
            IpAddr::from([127, 0, 0, 1]),
        )?;
        let data_dir = layers.value(
            "data_dir",
            flags.data_dir.clone().map(|d| ("--data-dir", DisplayPath(d))),
            &["MOLT_DATA_DIR"],
            gateway.data_dir.clone().map(DisplayPath),
            DisplayPath(default_data_dir(env)),
        )?;
        let file_format = match &gateway.log_format {
            Some(raw) => Some(raw.parse::<LogFormat>().map_err(|()| SettingsError::Invalid {
                name: "gateway.log_format",
                value: raw.clone(),
                expected: "`text` or `json`",
            })?),
            None => None,
        };
        let log_format = layers.value(
            "log_format",
            flags.log_format.map(|f| ("--log-format", f)),
            &["MOLT_LOG_FORMAT"],
            file_format,
            LogFormat::Text,
        )?;
        let gateway_token = layers.secret("gateway_token", &["MOLTBOT_GATEWAY_TOKEN", "MOLT_GATEWAY_TOKEN"]);
        let loopback_auto_approve = layers.value(
            "loopback_auto_approve",
            None,
            &["MOLT_LOOPBACK_AUTO_APPROVE"],
            gateway.loopback_auto_approve.map(Flag),
            Flag(true),
        )?;
        let limits = limits(&mut layers, gateway)?;
        let model = model::resolve(&mut layers, &file.model)?;
        let auth = access::resolve(&mut layers)?;
        let channels = channels::resolve(&mut layers, &file.channels)?;
        if auth.dev_mode && !bind.is_loopback() && !flags.insecure {
            return Err(SettingsError::Insecure { bind });
        }
        let replication = replication::resolve(&mut layers)?;
        let tools = tools::resolve(&mut layers, &file.tools)?;
        let edge = edge::resolve(&mut layers, gateway.allowed_origins.as_deref(), gateway.trusted_proxies.as_deref())?;
        let mcp = McpSettings::resolve(env, &data_dir.0);
        Ok(Self {
            port,
            bind,
            data_dir: data_dir.0,
            log_format,
            gateway_token,
            loopback_auto_approve: loopback_auto_approve.0,
            tick_interval: limits.tick_interval,
            shutdown_grace: limits.shutdown_grace,
            max_connections: limits.max_connections,
            max_buffered_bytes: limits.max_buffered_bytes,
            max_queued_bytes: limits.max_queued_bytes,
            model,
            auth,
            channels,
            insecure: flags.insecure,
            replication,
            edge,
            tools,
            mcp,
            provenance: layers.provenance,
        })
    }

    /// Every secret the settings hold, for scrubbing text that may quote one (panic messages).
    pub fn secrets(&self) -> Vec<&Secret> {
        let model =
            self.model.provider.as_ref().map_or([None, None], |p| [p.api_key.as_ref(), p.gateway_auth.as_ref()]);
        let channels = &self.channels;
        let telegram = channels.telegram.as_ref().map_or([None, None], |t| [Some(&t.token), t.webhook_secret.as_ref()]);
        let discord = [channels.discord.as_ref().map(|d| &d.token)];
        let slack = channels
            .slack
            .as_ref()
            .map_or([None, None, None], |s| [Some(&s.bot_token), s.app_token.as_ref(), s.signing_secret.as_ref()]);
        let bucket =
            self.replication.as_ref().map_or([None, None], |r| [Some(&r.access_key_id), Some(&r.secret_access_key)]);
        std::iter::once(self.gateway_token.as_ref())
            .chain(model)
            .chain(telegram)
            .chain(discord)
            .chain(slack)
            .chain(bucket)
            .chain([self.tools.brave_api_key.as_ref()])
            .flatten()
            .chain(self.mcp.secrets())
            .collect()
    }

    /// `--print-config`: one line per setting, secrets redacted, with its origin.
    pub fn describe(&self) -> String {
        let width = self.provenance.iter().map(|line| line.name.len()).max().unwrap_or(0);
        let mut out = String::new();
        for line in &self.provenance {
            out.push_str(&format!("{:width$}  {}  ({})\n", line.name, line.shown, line.origin));
        }
        if self.model.provider.is_none() {
            out.push_str(&format!("\nnote: {NO_PROVIDER_HINT}\n"));
        }
        out
    }
}

/// The settings file: `--config`, else `MOLT_CONFIG`, else `./molt.toml` when present.
fn config_path(flags: &GatewayFlags, env: &dyn Fn(&str) -> Option<String>) -> (PathBuf, bool) {
    if let Some(path) = &flags.config {
        return (path.clone(), true);
    }
    match env("MOLT_CONFIG").filter(|value| !value.is_empty()) {
        Some(path) => (PathBuf::from(path), true),
        None => (PathBuf::from("molt.toml"), false),
    }
}

/// `$XDG_DATA_HOME/molt`, else `~/.local/share/molt`, else `./molt-data`.
pub fn default_data_dir(env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    let non_empty = |name: &str| env(name).filter(|value| !value.is_empty());
    if let Some(xdg) = non_empty("XDG_DATA_HOME") {
        return Path::new(&xdg).join("molt");
    }
    match non_empty("HOME") {
        Some(home) => Path::new(&home).join(".local/share/molt"),
        None => PathBuf::from("molt-data"),
    }
}

/// A path that parses from and prints as a string, for the layered lookup.
#[derive(Debug, Clone)]
struct DisplayPath(PathBuf);

impl FromStr for DisplayPath {
    type Err = std::convert::Infallible;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Ok(Self(PathBuf::from(raw)))
    }
}

impl fmt::Display for DisplayPath {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.display().fmt(formatter)
    }
}

#[cfg(test)]
mod tests;
