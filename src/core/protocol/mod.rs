//! The gateway protocol's payloads as types, with serde's wire names: what the gateway sends
//! and what its clients (the web page aside) read. New methods and events start here.

pub mod chat;

pub use chat::{AssistantMessage, ChatEvent, ChatStep, ErrorKind, Usage};
