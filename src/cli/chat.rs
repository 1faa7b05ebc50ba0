//! `molt chat`: settles where the gateway is and which credentials to send, then hands over to
//! the terminal client in `crate::tui`.

use std::path::PathBuf;

use clap::Args;

use super::context::Context;
use super::error::{Hint, UserError};
use super::output::{self, Stream};
use crate::core::secret::Secret;
use crate::core::settings::{GatewayFlags, Settings};
use crate::core::url::local_token_for;
use crate::daemon::token::TOKEN_FILE;
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
enum ChatError {
    #[error("`{0}` is not an http, https, ws or wss URL")]
    NotHttp(String),
    #[error("cannot find a config directory for this terminal's identity")]
    NoConfigDir,
}

impl Hint for ChatError {
    fn hint(&self) -> Option<String> {
        Some(
            match self {
                Self::NotHttp(_) => "pass `--url https://<worker>.workers.dev` or `--url http://127.0.0.1:18789`",
                Self::NoConfigDir => "set `XDG_CONFIG_HOME` or `HOME`",
            }
            .into(),
        )
    }
}

fn options(args: &ChatArgs) -> anyhow::Result<Options> {
    let flags = GatewayFlags { data_dir: args.data_dir.clone(), ..GatewayFlags::default() };
    let settings = Settings::from_process(&flags).map_err(UserError::from)?;
    let env = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    let given = args.url.clone().or_else(|| env("MOLT_URL"));
    let display_url = match &given {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => {
            let host = if settings.bind.is_unspecified() { "127.0.0.1".to_owned() } else { settings.bind.to_string() };
            format!("http://{host}:{}", settings.port)
        }
    };
    let url = websocket_url(&display_url).ok_or_else(|| UserError::from(ChatError::NotHttp(display_url.clone())))?;
    // The token kept in the data directory belongs to the local gateway: never send it elsewhere.
    let gateway_token =
        settings.gateway_token.clone().or_else(|| local_token_for(&display_url, &settings.data_dir.join(TOKEN_FILE)));
    let access = match (env("MOLT_ACCESS_CLIENT_ID"), env("MOLT_ACCESS_CLIENT_SECRET")) {
        (Some(id), Some(secret)) => Some((id, Secret::new(secret))),
        _ => None,
    };
    Ok(Options {
        url,
        display_url,
        gateway_token,
        access,
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
        None => Err(ChatError::NoConfigDir.into()),
    }
}

/// `http://h:p` → `ws://h:p/ws`, `https://h` → `wss://h/ws`; a URL with a path keeps it.
fn websocket_url(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "http" | "ws" => "ws",
        "https" | "wss" => "wss",
        _ => return None,
    };
    if rest.is_empty() {
        return None;
    }
    let has_path = rest.split_once('/').is_some_and(|(_, path)| !path.is_empty());
    Some(if has_path { format!("{scheme}://{rest}") } else { format!("{scheme}://{}/ws", rest.trim_end_matches('/')) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turns_page_urls_into_websocket_urls() {
        assert_eq!(websocket_url("http://127.0.0.1:18789").as_deref(), Some("ws://127.0.0.1:18789/ws"));
        assert_eq!(
            websocket_url("https://molt.example.workers.dev").as_deref(),
            Some("wss://molt.example.workers.dev/ws")
        );
        assert_eq!(websocket_url("wss://h/custom").as_deref(), Some("wss://h/custom"));
        assert_eq!(websocket_url("ftp://h"), None);
        assert_eq!(websocket_url("127.0.0.1:18789"), None);
    }
}
