//! The command line: one module per subcommand, each with its clap `Args` and `run`.

mod backup;
mod gateway;
mod logging;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
}

/// A failure the user can act on: exit code 1, the message, and the next command to try.
#[derive(Debug)]
pub struct UserError {
    pub message: String,
    pub hint: Option<String>,
}

impl UserError {
    pub fn new(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self { message: message.into(), hint: Some(hint.into()) }
    }
}

impl std::fmt::Display for UserError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.message)
    }
}

impl std::error::Error for UserError {}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Gateway(args) => gateway::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => report(&error),
    }
}

/// Prints `error: …` and a `hint:` line to stderr; exit 1 for user errors, 2 otherwise.
fn report(error: &anyhow::Error) -> ExitCode {
    eprintln!("error: {error:#}");
    match error.downcast_ref::<UserError>() {
        Some(user) => {
            if let Some(hint) = &user.hint {
                eprintln!("hint: {hint}");
            }
            ExitCode::from(1)
        }
        None => ExitCode::from(2),
    }
}
