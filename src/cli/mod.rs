//! The command line: one module per subcommand, each with its clap `Args` and `run`, given the
//! one [`Context`]; failures are reported by `error::report` (exit code 1 or 2).

// Stdout and stderr go through `output`: a closed pipe ends a command quietly instead of
// panicking, and one rule decides colour.
#![deny(clippy::print_stdout, clippy::print_stderr)]

mod admin_client;
mod backup;
mod chat;
pub mod completions;
mod context;
mod deploy;
mod deployment;
mod doctor;
mod error;
mod gateway;
mod gateway_url;
mod init;
mod logging;
mod output;
mod pair;
mod pair_text;
mod prompt;
mod secrets;
mod skills;
mod tail;
mod tail_gateway;
mod tail_text;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use context::Context;

#[derive(Debug, Parser)]
#[command(name = "molt", version, about = "Run your own AI assistant: deploy it, and be its gateway")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway daemon: web chat, model providers, the embedded store
    Gateway(gateway::GatewayArgs),
    /// Approve or refuse devices and chat-platform users
    Pair(pair::PairArgs),
    /// The assistant's skills: list, add, remove, enable, disable
    Skills(skills::SkillsArgs),
    /// Set up a deployment: ask what it needs, keep its secrets, render the deploy folder
    Init(Box<init::InitArgs>),
    /// Deploy to Cloudflare: bucket, credentials, Access, Worker, secrets, webhooks; prints the URL
    Deploy(deploy::DeployArgs),
    /// The deployment's secrets: list, get, set, push
    Secrets(secrets::SecretsArgs),
    /// The gateway token: rotate
    Token(secrets::TokenArgs),
    /// Check the whole chain: token, account, bucket, Access, secrets, Worker, channels, model
    Doctor(doctor::DoctorArgs),
    /// Follow the Worker's live logs (or the gateway's, with `--gateway`)
    Tail(tail::TailArgs),
    /// Print shell completions
    Completions(completions::CompletionsArgs),
    /// Print the man page (roff)
    Man,
    /// Talk to the assistant and answer pairing requests in a terminal UI
    Chat(chat::ChatArgs),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = Context::new().and_then(|context| run(cli.command, &context));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if output::is_closed(&error) => ExitCode::SUCCESS,
        Err(error) => error::report(&error),
    }
}

fn run(command: Command, context: &Context) -> anyhow::Result<()> {
    match command {
        Command::Gateway(args) => gateway::run(args, context),
        Command::Pair(args) => pair::run(args, context),
        Command::Skills(args) => skills::run(args, context),
        Command::Init(args) => init::run(*args, context),
        Command::Deploy(args) => deploy::run(args, context),
        Command::Secrets(args) => secrets::run(args, context),
        Command::Token(args) => secrets::rotate(args, context),
        Command::Doctor(args) => doctor::run(args, context),
        Command::Tail(args) => tail::run(args, context),
        Command::Completions(args) => completions::run(args),
        Command::Man => completions::man(),
        Command::Chat(args) => chat::run(args, context),
    }
}
