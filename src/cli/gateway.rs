//! `molt gateway`: resolve settings, bind, print the URL to open, serve until a signal.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use tokio_util::sync::CancellationToken;

use super::context::Context;
use super::error::{Hint, UserError};
use super::{logging, output};
use crate::core::settings::{GatewayFlags, LogFormat, Settings};
use crate::daemon::token::{self, TokenSource};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct GatewayArgs {
    #[command(subcommand)]
    action: Option<GatewayAction>,
    /// Port to listen on [env: MOLT_PORT] [default: 18789]
    #[arg(long)]
    port: Option<u16>,
    /// Address to bind [env: MOLT_BIND] [default: 127.0.0.1]
    #[arg(long)]
    bind: Option<IpAddr>,
    /// Where the store, token and workspace live [env: MOLT_DATA_DIR]
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// `text` or `json` [env: MOLT_LOG_FORMAT]
    #[arg(long, value_parser = ["text", "json"])]
    log_format: Option<String>,
    /// Settings file [env: MOLT_CONFIG] [default: ./molt.toml when present]
    #[arg(long)]
    config: Option<PathBuf>,
    /// Print the resolved settings (secrets redacted) and where each came from, then exit
    #[arg(long)]
    print_config: bool,
    /// Allow `DEV_MODE` on an address other machines can reach (device approval and admin
    /// sign-in are then off for everyone who has the gateway token)
    #[arg(long)]
    insecure: bool,
}

#[derive(Debug, Subcommand)]
enum GatewayAction {
    /// Ship every change and store a snapshot in the bucket now
    Backup(super::backup::BackupArgs),
}

pub fn run(args: GatewayArgs, context: &Context) -> anyhow::Result<()> {
    if let Some(GatewayAction::Backup(backup)) = args.action {
        return super::backup::run(backup, context);
    }
    let flags = GatewayFlags {
        port: args.port,
        bind: args.bind,
        data_dir: args.data_dir,
        log_format: args
            .log_format
            .as_deref()
            .map(|format| if format == "json" { LogFormat::Json } else { LogFormat::Text }),
        config: args.config,
        insecure: args.insecure,
    };
    let mut settings = Settings::from_process(&flags).map_err(UserError::from)?;
    if args.print_config {
        return output::print(settings.describe());
    }
    logging::init(settings.log_format);
    let data_dir = settings.data_dir.clone();
    std::fs::create_dir_all(&data_dir)
        .map_err(|error| UserError::from(GatewayError::DataDir { path: data_dir.clone(), error }))?;
    let (token, source) =
        token::load_or_generate(settings.gateway_token.as_ref(), &data_dir).map_err(UserError::from)?;
    settings.gateway_token = Some(token.clone());
    logging::install_panic_hook(settings.secrets().into_iter().map(|secret| secret.expose().to_owned()).collect());

    context.block_on(async move {
        let address = SocketAddr::new(settings.bind, settings.port);
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|error| UserError::from(GatewayError::Listen { address, error }))?;
        let local = listener.local_addr().context("cannot read the bound address")?;
        let host = if local.ip().is_unspecified() { IpAddr::from([127, 0, 0, 1]) } else { local.ip() };
        let base = format!("http://{}/", SocketAddr::new(host, local.port()));
        let line = match source {
            TokenSource::Generated => format!("molt gateway is running: open {base}#token={}", token.expose()),
            TokenSource::Stored => format!(
                "molt gateway is running: open {base} (token in `{}`)",
                data_dir.join(token::TOKEN_FILE).display()
            ),
            TokenSource::Environment => format!("molt gateway is running: open {base} (token from the environment)"),
        };
        // A courtesy line: the gateway keeps serving when nobody reads its stdout.
        let _ = output::println(line);
        tracing::info!(address = %local, data_dir = %data_dir.display(), "listening");
        let shutdown = CancellationToken::new();
        tokio::spawn(stop_on_signal(shutdown.clone()));
        Ok(crate::daemon::serve(settings, listener, shutdown).await.map_err(UserError::from)?)
    })
}

#[derive(Debug, thiserror::Error)]
enum GatewayError {
    #[error("cannot create the data directory `{}`: {error}", .path.display())]
    DataDir { path: PathBuf, error: std::io::Error },
    #[error("cannot listen on {address}: {error}")]
    Listen { address: SocketAddr, error: std::io::Error },
}

impl Hint for GatewayError {
    fn hint(&self) -> Option<String> {
        Some(
            match self {
                Self::DataDir { .. } => {
                    "choose a writable directory with `molt gateway --data-dir DIR` (or `MOLT_DATA_DIR`)"
                }
                Self::Listen { .. } => "pick another port with `molt gateway --port PORT`",
            }
            .into(),
        )
    }
}

async fn stop_on_signal(shutdown: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut terminate) = signal(SignalKind::terminate()) else {
            tracing::error!("cannot listen for SIGTERM");
            return;
        };
        tokio::select! {
            _ = terminate.recv() => tracing::info!("SIGTERM received"),
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    shutdown.cancel();
}
