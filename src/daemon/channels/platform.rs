//! The channel trait every chat platform implements, and the shapes the router works with:
//! an inbound message, where to answer, and the platform's limits.

use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ChannelError;

/// A conversation on a platform: a chat, a channel or a DM, and optionally a thread in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatRef {
    pub id: String,
    /// Slack's `thread_ts`, Telegram's forum topic: replies go there.
    pub thread: Option<String>,
}

/// A message molt sent, so it can be edited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRef(pub String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatKind {
    Direct,
    Group,
}

/// A message someone sent to the bot, as the router needs it: platform-neutral, and what the
/// store records for it, so a replay needs no platform parser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inbound {
    /// Unique per platform update: a redelivery carries the same key.
    pub dedupe_key: String,
    pub chat: ChatRef,
    pub kind: ChatKind,
    pub sender_id: String,
    pub sender_name: Option<String>,
    pub text: String,
    /// The bot was mentioned or replied to.
    pub addressed: bool,
}

/// What a platform allows; the router paces and splits by it.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest message, in characters.
    pub max_chars: usize,
    /// Least time between two edits of messages in one chat.
    pub edit_interval: Duration,
    /// How often the typing indicator must be renewed while a turn runs; `None`: no indicator.
    pub typing_interval: Option<Duration>,
}

/// One chat platform: its connection loop and the few calls a reply needs.
pub trait Platform: Send + Sync + 'static {
    /// `telegram`, `discord` or `slack`: the pairing channel name.
    fn name(&self) -> &'static str;

    fn limits(&self) -> Limits;

    /// Sends a new message and returns its reference.
    fn send(&self, chat: &ChatRef, text: &str) -> impl Future<Output = Result<MessageRef, ChannelError>> + Send;

    /// Replaces the text of a message molt sent.
    fn edit(
        &self,
        chat: &ChatRef,
        message: &MessageRef,
        text: &str,
    ) -> impl Future<Output = Result<(), ChannelError>> + Send;

    /// Shows "typing…" for a few seconds.
    fn typing(&self, chat: &ChatRef) -> impl Future<Output = Result<(), ChannelError>> + Send;
}
