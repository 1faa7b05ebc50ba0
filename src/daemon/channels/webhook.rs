//! What the platforms' webhooks (Telegram's webhook, Slack's Events API) make of a call,
//! without HTTP: the outcomes and refusals the daemon's HTTP layer turns into status codes.

use std::sync::{Arc, OnceLock};

use serde_json::Value;

use super::{ChannelError, Channels, Router};

/// A call the platform is to be told succeeded.
#[derive(Debug, Clone, PartialEq)]
pub enum WebhookOutcome {
    /// Its message is recorded (now or by an earlier delivery) and answered at most once.
    Accepted,
    /// Nothing to answer or unreadable: acknowledged, since a retry would not help.
    Ignored,
    /// Slack's `url_verification`: the challenge to send back.
    Challenge(Value),
}

/// A call the platform is to be refused; the variants name the HTTP answer they stand for.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The platform is not configured on this gateway (404).
    #[error("{0} is not configured")]
    NotConfigured(&'static str),
    /// Configured, but the store and agent are not open yet; the platform retries (503).
    #[error("starting")]
    Starting,
    /// Configured without what this webhook needs (404).
    #[error("{0}")]
    Off(&'static str),
    /// A wrong secret token, or a bad or stale signature (401).
    #[error("{0}")]
    Unauthorized(&'static str),
    /// A body that cannot be read (400).
    #[error("{0}")]
    Malformed(&'static str),
    /// The message could not be recorded; the platform retries (503).
    #[error("cannot record the update")]
    NotRecorded(#[source] ChannelError),
}

/// The adapter and router a webhook call needs, or why there are none yet.
pub(super) fn target<'a, T>(
    channels: &'a Channels,
    platform: &'static str,
    configured: bool,
    adapter: &'a OnceLock<Arc<T>>,
) -> Result<(&'a Arc<T>, &'a Arc<Router>), WebhookError> {
    match (adapter.get(), channels.router.get()) {
        (Some(adapter), Some(router)) => Ok((adapter, router)),
        _ if configured => Err(WebhookError::Starting),
        _ => Err(WebhookError::NotConfigured(platform)),
    }
}
