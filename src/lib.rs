//! molt: the operator's tool and the gateway daemon for a self-hosted AI assistant.
#![forbid(unsafe_code)]

pub mod cli;
pub mod core;
pub mod daemon;
#[doc(hidden)]
pub mod fuzzing;
pub mod provision;
pub mod tui;

/// The version reported to clients and in `--version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
