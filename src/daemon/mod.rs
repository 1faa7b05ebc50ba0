//! The gateway daemon: HTTP and WebSocket server, auth, agent turns, model providers, the store
//! and the embedded web UI. Entry point: [`serve`].

pub mod access;
mod admin;
pub mod agent;
pub mod channels;
mod edge;
pub mod events;
pub(crate) mod http;
mod http_webhooks;
pub mod logs;
pub mod pairing;
pub mod providers;
mod ratelimit;
pub mod replication;
mod server;
mod state;
pub mod store;
pub mod token;
mod web;
pub(crate) mod ws;

pub use server::{ServeError, serve};
pub use state::Readiness;
