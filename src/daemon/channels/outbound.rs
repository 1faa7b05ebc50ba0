//! Messages molt sends on its own rather than in reply: the running adapters by platform name,
//! and a text split at the platform's length limit by the replies' own splitter. The
//! `send_message` tool reaches the platforms only through [`ChannelOutbound`]; who may be
//! reached is the tool's decision, not this file's.

use std::sync::{Arc, OnceLock};

use futures_util::future::BoxFuture;

use super::discord::Discord;
use super::platform::{ChatRef, Platform};
use super::slack::Slack;
use super::split::split;
use super::telegram::Telegram;
use crate::daemon::agent::tools::send_message::{Outbound, OutboundError};

/// The adapters once started: the webhooks answer through them, and so do sends.
#[derive(Default)]
pub(super) struct Adapters {
    pub(super) telegram: OnceLock<Arc<Telegram>>,
    pub(super) discord: OnceLock<Arc<Discord>>,
    pub(super) slack: OnceLock<Arc<Slack>>,
}

/// A handle on the channels' adapters that exists before they start (the agent, and so its
/// tools, is built first); a send before they run, or to a platform not configured, is refused.
#[derive(Clone, Default)]
pub struct ChannelOutbound(pub(super) Arc<Adapters>);

impl Outbound for ChannelOutbound {
    fn send<'a>(
        &'a self,
        channel: &'a str,
        chat_id: &'a str,
        text: &'a str,
    ) -> BoxFuture<'a, Result<usize, OutboundError>> {
        Box::pin(async move {
            let adapters = &self.0;
            match channel {
                "telegram" => deliver(adapters.telegram.get(), channel, chat_id, text).await,
                "discord" => deliver(adapters.discord.get(), channel, chat_id, text).await,
                "slack" => deliver(adapters.slack.get(), channel, chat_id, text).await,
                other => Err(OutboundError::NotRunning(other.to_owned())),
            }
        })
    }
}

/// Sends the pieces of `text` in order; stops at the first that fails.
async fn deliver<P: Platform>(
    platform: Option<&Arc<P>>,
    channel: &str,
    chat_id: &str,
    text: &str,
) -> Result<usize, OutboundError> {
    let platform = platform.ok_or_else(|| OutboundError::NotRunning(channel.to_owned()))?;
    let chat = ChatRef { id: chat_id.to_owned(), thread: None };
    let pieces: Vec<String> =
        split(text, platform.limits().max_chars).into_iter().filter(|piece| !piece.trim().is_empty()).collect();
    for (sent, piece) in pieces.iter().enumerate() {
        if let Err(error) = platform.send(&chat, piece).await {
            return Err(OutboundError::Failed { sent, total: pieces.len(), error: error.to_string() });
        }
    }
    tracing::info!(channel, messages = pieces.len(), "a message was sent on the operator's behalf");
    Ok(pieces.len())
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;
    use crate::core::sync::lock;
    use crate::daemon::channels::ChannelError;
    use crate::daemon::channels::platform::{Limits, MessageRef};

    /// A platform of 10-character messages that fails from its third send on.
    #[derive(Default)]
    struct Narrow {
        sent: Mutex<Vec<(String, String)>>,
    }

    impl Platform for Narrow {
        fn name(&self) -> &'static str {
            "telegram"
        }
        fn limits(&self) -> Limits {
            Limits { max_chars: 10, edit_interval: Duration::ZERO, typing_interval: None }
        }
        async fn send(&self, chat: &ChatRef, text: &str) -> Result<MessageRef, ChannelError> {
            let mut sent = lock(&self.sent);
            if sent.len() == 2 {
                return Err(ChannelError::Api {
                    platform: "telegram",
                    status: 400,
                    description: "chat not found".into(),
                });
            }
            sent.push((chat.id.clone(), text.to_owned()));
            Ok(MessageRef(sent.len().to_string()))
        }
        async fn edit(&self, _: &ChatRef, _: &MessageRef, _: &str) -> Result<(), ChannelError> {
            Ok(())
        }
        async fn typing(&self, _: &ChatRef) -> Result<(), ChannelError> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_long_text_goes_out_in_pieces_and_a_failure_says_how_far_it_got() {
        let narrow = Arc::new(Narrow::default());
        let failed = deliver(Some(&narrow), "telegram", "42", "aaaa bbbb cccc dddd eeee").await.unwrap_err();
        assert_eq!(failed.to_string(), "telegram answered 400: chat not found (after 2 of 3 messages were sent)");
        let sent = lock(&narrow.sent).clone();
        assert_eq!(sent, [("42".to_owned(), "aaaa bbbb".to_owned()), ("42".to_owned(), "cccc dddd".to_owned())]);
        let failed = deliver(Some(&narrow), "telegram", "42", "one").await.unwrap_err();
        assert_eq!(failed.to_string(), "telegram answered 400: chat not found");
        let fresh = Arc::new(Narrow::default());
        assert_eq!(deliver(Some(&fresh), "telegram", "7", "short").await, Ok(1));
        let none: Option<&Arc<Narrow>> = None;
        let absent = deliver(none, "slack", "C1", "hi").await.unwrap_err();
        assert_eq!(absent.to_string(), "slack is not configured on this gateway");
        let outbound = ChannelOutbound::default();
        assert_eq!(outbound.send("discord", "1", "hi").await, Err(OutboundError::NotRunning("discord".into())));
    }
}
