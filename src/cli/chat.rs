//! `molt chat`: settles where the gateway is and which credentials to send (`gateway_url`), then
//! hands over to the terminal client in `crate::tui`.

use std::path::PathBuf;

use clap::Args;

use super::context::Context;
use super::error::{Hint, UserError};
use super::gateway_url::Target;
use super::output::{self, Stream};
use crate::core::settings::{GatewayFlags, Settings};
use crate::tui::{Options, TuiError};

#[derive(Debug, Args)]
pub struct ChatArgs {
    /// The gateway's URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]
    #[arg(long)]
    url: Option<String>,
    /// The local gateway's data directory, where its token is kept [env: MOLT_DATA_DIR]
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

pub fn run(args: ChatArgs, context: &Context) -> anyhow::Result<()> {
    let options = options(&args)?;
    context.block_on(crate::tui::run(options)).map_err(|error| match error {
        // The terminal failing under the client is not something the user did.
        TuiError::Terminal(_) => anyhow::Error::new(error),
        _ => UserError::from(error).into(),
    })
}

impl Hint for TuiError {
    fn hint(&self) -> Option<String> {
        match self {
            Self::NotATerminal => Some("run `molt chat` in a terminal; for scripts use `molt pair`".into()),
            Self::Identity(_) => Some("check the permissions of the config directory".into()),
            Self::Terminal(_) => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot find a config directory for this terminal's identity")]
struct NoConfigDir;

impl Hint for NoConfigDir {
    fn hint(&self) -> Option<String> {
        Some("set `XDG_CONFIG_HOME` or `HOME`".into())
    }
}

fn options(args: &ChatArgs) -> anyhow::Result<Options> {
    let flags = GatewayFlags { data_dir: args.data_dir.clone(), ..GatewayFlags::default() };
    let settings = Settings::from_process(&flags).map_err(UserError::from)?;
    let target = Target::resolve(args.url.as_deref(), &settings)?;
    let env = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    Ok(Options {
        url: target.url.websocket(),
        display_url: target.url.as_str().to_owned(),
        gateway_token: target.token,
        access: target.access,
        config_dir: config_dir(&env)?,
        // The screen is stdout: `tui::run` refuses to start unless it is a terminal.
        color: output::color(Stream::Stdout),
    })
}

/// `$XDG_CONFIG_HOME/molt`, else `~/.config/molt`.
fn config_dir(env: &dyn Fn(&str) -> Option<String>) -> Result<PathBuf, UserError> {
    if let Some(base) = env("XDG_CONFIG_HOME") {
        return Ok(PathBuf::from(base).join("molt"));
    }
    match env("HOME") {
        Some(home) => Ok(PathBuf::from(home).join(".config").join("molt")),
        None => Err(NoConfigDir.into()),
    }
}
