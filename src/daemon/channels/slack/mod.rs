//! Slack: Socket Mode (one socket opened with `apps.connections.open`, every envelope acked at
//! once) or the Events API over HTTP; replies by `chat.postMessage` and `chat.update`, in
//! threads in channels.

mod api;
pub(crate) mod event;
pub mod events;
mod socket;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::liveness::Liveness;
use super::net::with_retries;
use super::platform::{ChatRef, Limits, MessageRef, Platform};
use super::{ChannelError, Router};
use crate::core::settings::SlackSettings;
use crate::core::sync::lock;

pub struct Slack {
    api: api::Api,
    settings: SlackSettings,
    liveness: Arc<Liveness>,
    cancel: CancellationToken,
    bot_user: Mutex<String>,
}

impl Slack {
    pub fn new(settings: SlackSettings, liveness: Arc<Liveness>, cancel: CancellationToken) -> Arc<Self> {
        Arc::new(Self {
            api: api::Api::new(settings.api_url.clone()),
            settings,
            liveness,
            cancel,
            bot_user: Mutex::new(String::new()),
        })
    }

    fn bot_user(&self) -> String {
        lock(&self.bot_user).clone()
    }

    async fn web(&self, method: &str, body: &Value) -> Result<Value, ChannelError> {
        with_retries(&self.cancel, || self.api.call(method, &self.settings.bot_token, Some(body))).await
    }
}

impl Platform for Slack {
    fn name(&self) -> &'static str {
        "slack"
    }

    fn limits(&self) -> Limits {
        // `chat.update` is a tier-3 method (about 50 a minute).
        Limits { max_chars: 4000, edit_interval: Duration::from_millis(1200), typing_interval: None }
    }

    async fn send(&self, chat: &ChatRef, text: &str) -> Result<MessageRef, ChannelError> {
        let mut body = json!({"channel": chat.id, "text": text});
        if let Some(thread) = &chat.thread {
            body["thread_ts"] = json!(thread);
        }
        let sent = self.web("chat.postMessage", &body).await?;
        let ts = sent["ts"].as_str().ok_or_else(|| ChannelError::Invalid("chat.postMessage gave no ts".into()))?;
        Ok(MessageRef(ts.to_owned()))
    }

    async fn edit(&self, chat: &ChatRef, message: &MessageRef, text: &str) -> Result<(), ChannelError> {
        self.web("chat.update", &json!({"channel": chat.id, "ts": message.0, "text": text})).await.map(|_| ())
    }

    async fn typing(&self, _chat: &ChatRef) -> Result<(), ChannelError> {
        Ok(())
    }
}

/// Hands one `event_callback`'s message to the router; `Err` only when it could not be recorded.
pub(super) async fn accept(slack: &Arc<Slack>, router: &Arc<Router>, callback: &Value) -> Result<(), ChannelError> {
    slack.liveness.inbound();
    let Some(inbound) = event::inbound(callback, &slack.bot_user()) else { return Ok(()) };
    router.accept(slack, slack.settings.group_policy, inbound).await.map(drop)
}

/// Learns the bot's user id (`auth.test`), replays unhandled messages, then runs Socket Mode
/// or waits for the Events API.
pub async fn run(slack: Arc<Slack>, router: Arc<Router>, deaf_after: Duration) {
    let cancel = slack.cancel.clone();
    let mut attempt = 0;
    loop {
        match slack.api.call("auth.test", &slack.settings.bot_token, Some(&json!({}))).await {
            Ok(me) => {
                let user = me["user_id"].as_str().unwrap_or_default().to_owned();
                tracing::info!(bot_user = %user, "slack connected");
                *lock(&slack.bot_user) = user;
                break;
            }
            Err(error) => {
                tracing::warn!(%error, "slack auth.test failed; retrying");
                slack.liveness.error(error.to_string());
                if !super::net::wait_to_retry(&error, &mut attempt, &cancel).await {
                    return;
                }
            }
        }
    }
    let bot = slack.bot_user();
    router.replay(&slack, slack.settings.group_policy, |callback| event::inbound(callback, &bot)).await;
    match slack.settings.app_token.clone() {
        Some(app_token) => socket::run(&slack, &router, &app_token, deaf_after).await,
        None => {
            slack.liveness.connected();
            cancel.cancelled().await;
        }
    }
    slack.liveness.disconnected();
}
