//! The gateway protocol's methods, results and events as types, with serde's wire names: the
//! gateway parses every request into a [`Call`] once and answers with these types; `molt chat`
//! reads the same types. New methods and events start here.

pub mod agent;
pub mod chat;
pub mod connect;
pub mod events;
pub mod exec;
pub mod hello;
pub mod logs;
pub mod methods;
pub mod params;
#[cfg(test)]
mod recorded;
pub mod sessions;

pub use chat::{AssistantMessage, ChatEvent, ChatStep, ErrorKind, TextBlock, Usage};
pub use methods::{Call, Method};
