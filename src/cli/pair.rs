//! `molt pair`: approve, reject, revoke and rotate devices, and answer chat-platform pairing
//! codes, against a local gateway (its token) or a deployed one (an Access service token).

use clap::{Args, Subcommand};
use serde_json::Value;

use super::admin_client::AdminClient;
use super::context::Context;
use super::error::{Hint, UserError};
use super::gateway_url::Target;
use super::pair_text::{self, short};
use crate::core::settings::{GatewayFlags, Settings};

#[derive(Debug, Args)]
pub struct PairArgs {
    /// The gateway's URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]
    #[arg(long, global = true)]
    url: Option<String>,
    /// The local gateway's data directory, where its token is kept [env: MOLT_DATA_DIR]
    #[arg(long, global = true)]
    data_dir: Option<std::path::PathBuf>,
    /// Print the API's JSON instead of text
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: PairCommand,
}

#[derive(Debug, Subcommand)]
enum PairCommand {
    /// Devices waiting for approval and devices already paired
    List,
    /// Let a waiting device in (a unique prefix of its request id is enough)
    Approve { request_id: String },
    /// Turn a waiting device away
    Reject { request_id: String },
    /// Unpair a device: its tokens stop working and its connections close at once
    Revoke { device_id: String },
    /// Give a device a new token (shown once); the old one stops working
    Rotate { device_id: String },
    /// Chat-platform pairing codes
    #[command(subcommand)]
    Code(CodeCommand),
}

#[derive(Debug, Subcommand)]
enum CodeCommand {
    /// Codes waiting for approval
    List,
    /// Allow the sender of a code to talk to the assistant
    Approve { channel: String, code: String },
    /// Turn the sender of a code away
    Reject { channel: String, code: String },
}

pub fn run(args: PairArgs, context: &Context) -> anyhow::Result<()> {
    context.block_on(async move {
        let flags = GatewayFlags { data_dir: args.data_dir.clone(), ..GatewayFlags::default() };
        let settings = Settings::from_process(&flags).map_err(UserError::from)?;
        let client = AdminClient::new(Target::resolve(args.url.as_deref(), &settings)?)?;
        let output = execute(&client, &args.command).await?;
        if args.json { super::output::json(&output.json) } else { super::output::print(&output.text) }
    })
}

struct Output {
    json: Value,
    text: String,
}

async fn execute(client: &AdminClient, command: &PairCommand) -> anyhow::Result<Output> {
    match command {
        PairCommand::List => {
            let devices = client.get("/api/admin/devices").await?;
            Ok(Output { text: pair_text::devices(&devices, crate::core::time::now_ms()), json: devices })
        }
        PairCommand::Approve { request_id } | PairCommand::Reject { request_id } => {
            let approve = matches!(command, PairCommand::Approve { .. });
            let id = resolve(client, "pending", "requestId", request_id).await?;
            let verb = if approve { "approve" } else { "reject" };
            let json = client.post(&format!("/api/admin/devices/{id}/{verb}")).await?;
            let text = if approve {
                let device = &json["device"];
                format!("approved {} ({})\n", name_of(device), short(device["deviceId"].as_str().unwrap_or_default()))
            } else {
                format!("rejected request {}\n", short(&id))
            };
            Ok(Output { json, text })
        }
        PairCommand::Revoke { device_id } => {
            let id = resolve(client, "paired", "deviceId", device_id).await?;
            let json = client.delete(&format!("/api/admin/devices/{id}")).await?;
            let closed = json["closedConnections"].as_u64().unwrap_or(0);
            Ok(Output { text: format!("revoked device {}; closed {closed} open connection(s)\n", short(&id)), json })
        }
        PairCommand::Rotate { device_id } => {
            let id = resolve(client, "paired", "deviceId", device_id).await?;
            let json = client.post(&format!("/api/admin/devices/{id}/rotate")).await?;
            let token = json["deviceToken"].as_str().unwrap_or_default();
            Ok(Output {
                text: format!(
                    "new token for device {} (shown once; the old one no longer works):\n{token}\n",
                    short(&id)
                ),
                json,
            })
        }
        PairCommand::Code(CodeCommand::List) => {
            let codes = client.get("/api/admin/codes").await?;
            Ok(Output { text: pair_text::codes(&codes, crate::core::time::now_ms()), json: codes })
        }
        PairCommand::Code(CodeCommand::Approve { channel, code } | CodeCommand::Reject { channel, code }) => {
            let approve = matches!(command, PairCommand::Code(CodeCommand::Approve { .. }));
            let verb = if approve { "approve" } else { "reject" };
            let json = client.post(&format!("/api/admin/codes/{channel}/{code}/{verb}")).await?;
            let sender = json["senderId"].as_str().unwrap_or_default();
            let text = if approve {
                format!("approved {channel} sender {sender}: they can talk to the assistant now\n")
            } else {
                format!("rejected {channel} code {}\n", code.to_uppercase())
            };
            Ok(Output { json, text })
        }
    }
}

fn name_of(device: &Value) -> String {
    device["displayName"].as_str().or_else(|| device["clientId"].as_str()).unwrap_or("device").to_owned()
}

/// Turns a unique prefix (at least 4 characters) of an id into the whole id.
async fn resolve(client: &AdminClient, list: &str, field: &str, given: &str) -> anyhow::Result<String> {
    let devices = client.get("/api/admin/devices").await?;
    let ids: Vec<String> = devices[list]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| item[field].as_str())
        .map(str::to_owned)
        .collect();
    if ids.iter().any(|id| id == given) {
        return Ok(given.to_owned());
    }
    let matches: Vec<&String> = ids.iter().filter(|id| given.len() >= 4 && id.starts_with(given)).collect();
    let what = if list == "pending" { "waiting request" } else { "paired device" };
    let given = given.to_owned();
    match matches.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(UserError::from(PairError::NoMatch { what, given }).into()),
        _ => Err(UserError::from(PairError::Ambiguous { what, given, count: matches.len() }).into()),
    }
}

#[derive(Debug, thiserror::Error)]
enum PairError {
    #[error("no {what} matches `{given}`")]
    NoMatch { what: &'static str, given: String },
    #[error("`{given}` matches {count} {what}s")]
    Ambiguous { what: &'static str, given: String, count: usize },
}

impl Hint for PairError {
    fn hint(&self) -> Option<String> {
        Some(
            match self {
                Self::NoMatch { .. } => "run `molt pair list` to see the current ids (requests expire after 5 minutes)",
                Self::Ambiguous { .. } => "give more characters of the id",
            }
            .into(),
        )
    }
}
