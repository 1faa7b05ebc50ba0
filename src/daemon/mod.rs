//! The gateway daemon: HTTP and WebSocket server, auth, agent turns, model providers, the store
//! and the embedded web UI. Entry point: [`serve`].

mod admin;
pub mod agent;
pub mod auth;
pub mod channels;
pub mod events;
pub(crate) mod http;
pub mod logs;
pub mod mcp;
pub mod net;
pub mod pairing;
pub mod providers;
pub mod replication;
mod server;
pub(crate) mod state;
pub mod store;
pub mod token;
mod web;
pub(crate) mod ws;

pub(crate) use server::unserved;
pub use server::{ServeError, serve};
pub use state::Readiness;
