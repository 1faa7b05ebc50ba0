//! `molt secrets list|get|set|push` and `molt token rotate`: the deployment's secrets in the
//! local store and on the Worker. Values come from stdin or a hidden prompt, never from argv.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};

use super::context::Context;
use super::deployment::{cloudflare, load_config, load_secrets, open_store};
use super::error::{Hint, UserError};
use super::output;
use crate::core::secret::Secret;
use crate::provision::deploy::{DeployError, LOCAL_ONLY, push_secrets};
use crate::provision::state::{DeployState, StateError};

#[derive(Debug, Args)]
pub struct SecretsArgs {
    #[command(subcommand)]
    command: SecretsCommand,
    /// The deploy folder `molt init` wrote
    #[arg(long, env = "MOLT_DEPLOY_DIR", default_value = "molt-deploy", global = true)]
    dir: PathBuf,
}

#[derive(Debug, Subcommand)]
enum SecretsCommand {
    /// Names of the local secrets, and whether the Worker has each (values are never shown)
    List,
    /// Print one secret's value on stdout
    Get { name: String },
    /// Store a secret locally, its value read from stdin (or a hidden prompt)
    Set { name: String },
    /// Push every local secret the Worker lacks or that changed (`--all`: every one)
    Push {
        #[arg(long)]
        all: bool,
    },
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(subcommand)]
    command: TokenCommand,
    #[arg(long, env = "MOLT_DEPLOY_DIR", default_value = "molt-deploy", global = true)]
    dir: PathBuf,
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Generate a new gateway token and push it to the Worker
    Rotate,
}

pub fn run(args: SecretsArgs, context: &Context) -> anyhow::Result<()> {
    let env = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    let (_, deploy) = load_config(&args.dir)?;
    let store = open_store(&deploy.worker_name, &env)?;
    if let Some(note) = &store.announcement {
        output::note(note);
    }
    match args.command {
        SecretsCommand::List => {
            let local = load_secrets(&store)?;
            let remote = match cloudflare(&deploy, &env) {
                Ok(client) => context.block_on(client.worker_secrets(&deploy.worker_name)).map_err(|e| e.to_string()),
                Err(error) => Err(error.to_string()),
            };
            let remote_names: Vec<String> = match &remote {
                Ok(Some(list)) => list.iter().map(|secret| secret.name.clone()).collect(),
                Ok(None) => Vec::new(),
                Err(reason) => {
                    output::warning(format_args!("cannot list the Worker's secrets: {reason}"));
                    Vec::new()
                }
            };
            let mut names: Vec<&String> = local.keys().chain(remote_names.iter()).collect();
            names.sort();
            names.dedup();
            for name in names {
                let here = if local.contains_key(name) { "local" } else { "-" };
                let there = if remote_names.contains(name) {
                    "worker"
                } else if LOCAL_ONLY.contains(&name.as_str()) {
                    "(local only)"
                } else {
                    "-"
                };
                output::println(format_args!("{name}\t{here}\t{there}"))?;
            }
            Ok(())
        }
        SecretsCommand::Get { name } => {
            let local = load_secrets(&store)?;
            let value = local.get(&name).ok_or_else(|| UserError::from(SecretsError::Unknown(name.clone())))?;
            output::println(value.expose())
        }
        SecretsCommand::Set { name } => {
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(UserError::from(SecretsError::BadName(name)).into());
            }
            let value = read_value(&name)?;
            store.set(&name, value).map_err(UserError::from)?;
            output::status(format_args!(
                "stored `{name}` in {}; push it with `molt secrets push --dir {}`",
                store.location(),
                args.dir.display()
            ));
            Ok(())
        }
        SecretsCommand::Push { all } => {
            let client = cloudflare(&deploy, &env)?;
            let mut state =
                DeployState::load(&args.dir).map_err(|error| UserError::from(SecretsError::State(error)))?;
            let pushed = context
                .block_on(push_secrets(&client, &store, &args.dir, &deploy.worker_name, &mut state, all))
                .map_err(|error| UserError::from(PushFailed { error, dir: args.dir.clone() }))?;
            output::status(format_args!("{pushed} secret(s) pushed to the Worker `{}`", deploy.worker_name));
            Ok(())
        }
    }
}

pub fn rotate(args: TokenArgs, context: &Context) -> anyhow::Result<()> {
    let TokenCommand::Rotate = args.command;
    let env = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    let (_, deploy) = load_config(&args.dir)?;
    let store = open_store(&deploy.worker_name, &env)?;
    let client = cloudflare(&deploy, &env)?;
    let token = Secret::generate();
    store.set("MOLTBOT_GATEWAY_TOKEN", token).map_err(UserError::from)?;
    let mut state = DeployState::load(&args.dir).map_err(|error| UserError::from(SecretsError::State(error)))?;
    let pushed = context
        .block_on(push_secrets(&client, &store, &args.dir, &deploy.worker_name, &mut state, false))
        .map_err(|error| UserError::from(PushFailed { error, dir: args.dir.clone() }))?;
    output::status(format_args!(
        "new gateway token stored and pushed ({pushed} secret(s) updated). It takes effect when the container \
         next starts. Paired devices stay approved, but every client must now present the new token: browsers \
         ask for it once (their cookie held the old one), and `molt chat` and OpenClaw clients need it set again. \
         Show it with `molt secrets get MOLTBOT_GATEWAY_TOKEN --dir {}`",
        args.dir.display()
    ));
    Ok(())
}

/// Pushing the secrets to the Worker failed.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
struct PushFailed {
    error: DeployError,
    dir: PathBuf,
}

impl Hint for PushFailed {
    fn hint(&self) -> Option<String> {
        let dir = self.dir.display();
        Some(match &self.error {
            DeployError::NoWorker(_) => format!("deploy it first: `molt deploy --dir {dir}`"),
            DeployError::Cloudflare { source, .. } if source.is_auth() => {
                "check the API token with `molt doctor`".into()
            }
            _ => format!("run `molt secrets push --dir {dir}` again"),
        })
    }
}

#[derive(Debug, thiserror::Error)]
enum SecretsError {
    #[error("no local secret `{0}`")]
    Unknown(String),
    #[error("`{0}` is not an environment variable name")]
    BadName(String),
    #[error("the value is empty")]
    Empty(String),
    #[error("{0}")]
    State(StateError),
}

impl Hint for SecretsError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            Self::Unknown(_) => "see the names with `molt secrets list`".into(),
            Self::BadName(_) => "use letters, digits and `_`, e.g. `molt secrets set ANTHROPIC_API_KEY`".into(),
            Self::Empty(name) => format!("pipe it in: `printf %s \"$VALUE\" | molt secrets set {name}`"),
            Self::State(_) => "check the deploy folder".into(),
        })
    }
}

/// The value from a hidden prompt on a terminal, else all of stdin (one trailing newline dropped).
fn read_value(name: &str) -> anyhow::Result<Secret> {
    let value = if std::io::stdin().is_terminal() {
        dialoguer::Password::new()
            .with_prompt(format!("value of `{name}`"))
            .interact()
            .context("cannot read the value")?
    } else {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).context("cannot read the value from stdin")?;
        text.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t)).unwrap_or(&text).to_owned()
    };
    if value.is_empty() {
        return Err(UserError::from(SecretsError::Empty(name.to_owned())).into());
    }
    Ok(Secret::new(value))
}
