//! The integration tests, one module per area, in one test binary: each binary links the whole
//! `molt` library, so one binary instead of two dozen is most of the tests' build time. Every
//! test starts its own gateway, fakes and temporary folders and touches no process-wide state
//! (environment, current directory, global subscribers), so they share a process safely under
//! `cargo test` as well as under nextest's one process per test. `support/` holds the fakes,
//! the in-process gateway and the clients every module uses.
//!
//! Run one area with `cargo nextest run -E 'test(/^protocol::/)'` or
//! `cargo test --test it protocol::`.

mod support;

mod access;
mod admin_api;
mod browser;
mod channels_all;
mod channels_discord;
mod channels_slack;
mod channels_telegram;
mod cli;
mod cli_output;
mod commands;
mod conversation;
mod deploy;
mod doctor;
mod edge;
mod exec;
mod init;
mod mcp;
mod mcp_doctor;
mod pair_cli;
mod pairing;
mod process;
mod protocol;
mod providers;
mod replication;
mod replication_kill;
mod skills;
mod skills_cli;
mod stream;
mod tail;
mod tools;
mod tools_search;
mod tools_send;
mod tools_web;
mod tui;
mod wrangler;
