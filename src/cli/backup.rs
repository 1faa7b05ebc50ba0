//! `molt gateway backup`: ship every change and store a snapshot in the bucket now.
//!
//! It asks the running gateway (the admin API on loopback, with the gateway token) because that
//! gateway owns the bucket: a second process opening the store would claim a new generation and
//! fence it. `--offline` is for when no gateway runs: it restores, claims, snapshots and stops,
//! exactly as a gateway start and stop would.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::context::Context;
use super::error::{Hint, UserError};
use super::gateway_url::Target;
use super::output;
use crate::core::settings::{GatewayFlags, Settings};
use crate::daemon::replication::{Replication, ReplicationError};
use crate::daemon::store::{Store, StoreError};

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The running gateway's URL [env: MOLT_URL] [default: http://127.0.0.1:<port>]
    #[arg(long)]
    url: Option<String>,
    /// Port of the running gateway [env: MOLT_PORT] [default: 18789]
    #[arg(long)]
    port: Option<u16>,
    /// Where the store and token live [env: MOLT_DATA_DIR]
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Settings file [env: MOLT_CONFIG]
    #[arg(long)]
    config: Option<PathBuf>,
    /// No gateway is running: open the store here, snapshot it into the bucket, and stop
    #[arg(long)]
    offline: bool,
    /// With `--offline`: take the bucket over even if a gateway still holds it (that gateway is
    /// fenced and stops)
    #[arg(long, requires = "offline")]
    force: bool,
}

pub fn run(args: BackupArgs, context: &Context) -> anyhow::Result<()> {
    let flags =
        GatewayFlags { port: args.port, data_dir: args.data_dir, config: args.config, ..GatewayFlags::default() };
    let settings = Settings::from_process(&flags).map_err(UserError::from)?;
    if settings.replication.is_none() {
        return Err(UserError::from(BackupError::NoBucket).into());
    }
    let report = if args.offline {
        context.block_on(offline(&settings, args.force))?
    } else {
        context.block_on(online(&settings, args.url))?
    };
    output::println(format_args!(
        "snapshot `{}`: {} bytes, up to change {}",
        report["key"].as_str().unwrap_or_default(),
        report["bytes"],
        report["seq"]
    ))
}

async fn online(settings: &Settings, url: Option<String>) -> anyhow::Result<Value> {
    let target = Target::resolve(url.as_deref(), settings)?;
    let base = target.url.as_str().to_owned();
    let token = target.token.ok_or_else(|| UserError::from(BackupError::NoToken(base.clone())))?;
    let client = reqwest::Client::builder().timeout(Duration::from_secs(300)).build().context("HTTP client")?;
    let endpoint = format!("{}/api/admin/replication/backup", target.url.http());
    let response = client.post(&endpoint).bearer_auth(token.expose()).send().await.map_err(|error| {
        UserError::from(BackupError::Unreachable { base: base.clone(), reason: without_url(&error) })
    })?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or_default();
    if !status.is_success() {
        let message = body["error"].as_str().unwrap_or("the gateway refused the backup").to_owned();
        return Err(UserError::from(BackupError::Refused(message)).into());
    }
    Ok(body["snapshot"].clone())
}

async fn offline(settings: &Settings, force: bool) -> anyhow::Result<Value> {
    let data_dir = settings.data_dir.clone();
    let workspace = data_dir.join("workspace");
    std::fs::create_dir_all(&workspace).with_context(|| format!("cannot create `{}`", workspace.display()))?;
    let replication = Replication::new(settings.replication.as_ref())?;
    if !force {
        let holder = replication.holder().await.map_err(|error| UserError::from(BackupError::ReadBucket(error)))?;
        if let Some(holder) = holder {
            return Err(UserError::from(BackupError::Held(holder)).into());
        }
    }
    let shutdown = CancellationToken::new();
    replication
        .restore(&data_dir, &workspace, &shutdown, output::status)
        .await
        .map_err(|error| UserError::from(BackupError::Restore(error)))?;
    let store = Store::open(&data_dir).map_err(|error| UserError::from(BackupError::Store(error)))?;
    replication.start(store, &data_dir, &workspace, |reason| output::status(format_args!("fenced: {reason}")));
    let report = replication.backup_now().await;
    replication.stop().await;
    let report = report.map_err(|error| UserError::from(BackupError::Backup(error)))?;
    Ok(serde_json::to_value(report).unwrap_or_default())
}

#[derive(Debug, thiserror::Error)]
enum BackupError {
    #[error("no bucket is configured, so there is nothing to back up to")]
    NoBucket,
    #[error(
        "no gateway token for `{0}`: `MOLT_GATEWAY_TOKEN` is unset, and the data directory's token goes to loopback URLs only"
    )]
    NoToken(String),
    #[error("cannot reach the gateway at {base}: {reason}")]
    Unreachable { base: String, reason: String },
    #[error("{0}")]
    Refused(String),
    #[error("cannot read the bucket: {0}")]
    ReadBucket(ReplicationError),
    #[error("a gateway holds the bucket ({0}); an offline backup would fence it")]
    Held(String),
    #[error("restore refused: {0}")]
    Restore(ReplicationError),
    #[error("{0}")]
    Store(StoreError),
    #[error("{0}")]
    Backup(ReplicationError),
}

impl Hint for BackupError {
    fn hint(&self) -> Option<String> {
        Some(
            match self {
                Self::NoBucket => {
                    "set `R2_ACCESS_KEY_ID`, `R2_SECRET_ACCESS_KEY`, `R2_BUCKET_NAME` and `CF_ACCOUNT_ID` (or \
                     `MOLT_S3_ENDPOINT`)"
                }
                Self::NoToken(_) => {
                    "set `MOLT_GATEWAY_TOKEN` to that gateway's token, or pass `--data-dir` of a local one"
                }
                Self::Unreachable { .. } => {
                    "start it with `molt gateway`, pass `--url`, or use `molt gateway backup --offline` when none runs"
                }
                Self::Refused(_) => "check `molt gateway`'s log, or its `/readyz`",
                Self::ReadBucket(_) | Self::Backup(_) => "check the bucket settings",
                Self::Held(_) => {
                    "run `molt gateway backup` (it asks the running gateway), or stop that gateway first; if it \
                     died without a clean stop, add `--force`"
                }
                Self::Restore(_) => "fix the bucket's objects, then run the backup again",
                Self::Store(_) => "check the data directory",
            }
            .into(),
        )
    }
}

/// reqwest's message without the URL (it is printed separately).
fn without_url(error: &reqwest::Error) -> String {
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(error);
    let mut last = error.to_string();
    while let Some(inner) = source {
        last = inner.to_string();
        source = inner.source();
    }
    last
}
