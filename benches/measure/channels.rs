//! The three chat-platform fakes a bench connects the gateway to, the environment that points
//! molt at them, and one timed reply per platform: a direct message in, the reply out.

use std::time::{Duration, Instant};

use crate::support::Pace;
use crate::support::fake_discord::{self, FakeDiscord};
use crate::support::fake_slack::{self, FakeSlack};
use crate::support::fake_telegram::{self, FakeTelegram};

pub struct Channels {
    pub telegram: FakeTelegram,
    pub discord: FakeDiscord,
    pub slack: FakeSlack,
}

/// Longest a bench waits for one reply.
const REPLY_WAIT: Duration = Duration::from_secs(30);

impl Channels {
    pub async fn start(pace: Pace) -> Channels {
        Channels {
            telegram: FakeTelegram::start_paced(pace).await,
            discord: FakeDiscord::start_paced(pace).await,
            slack: FakeSlack::start_paced(pace).await,
        }
    }

    /// The gateway's environment: the token, the model at `model_url`, the three platforms
    /// with open DM policies.
    pub fn env(&self, model_url: &str) -> Vec<(&'static str, String)> {
        vec![
            ("MOLT_GATEWAY_TOKEN", "t".into()),
            ("ANTHROPIC_API_KEY", "sk-ant-bench".into()),
            ("ANTHROPIC_BASE_URL", model_url.into()),
            ("TELEGRAM_BOT_TOKEN", fake_telegram::TOKEN.into()),
            ("MOLT_TELEGRAM_API_URL", self.telegram.base_url()),
            ("TELEGRAM_DM_POLICY", "open".into()),
            ("DISCORD_BOT_TOKEN", fake_discord::TOKEN.into()),
            ("MOLT_DISCORD_API_URL", self.discord.api_url()),
            ("DISCORD_DM_POLICY", "open".into()),
            ("SLACK_BOT_TOKEN", fake_slack::BOT_TOKEN.into()),
            ("SLACK_APP_TOKEN", fake_slack::APP_TOKEN.into()),
            ("MOLT_SLACK_API_URL", self.slack.api_url()),
            ("SLACK_DM_POLICY", "open".into()),
        ]
    }

    /// Waits (10 s at most each) until Slack's socket is open, Discord identified and
    /// Telegram polls.
    pub async fn wait_connected(&self) {
        self.slack.wait_until("the socket", |slack| slack.live_sockets() == 1).await;
        self.discord.wait_until("identify", |discord| discord.frames().iter().any(|frame| frame["op"] == 2)).await;
        self.telegram.wait_until("a poll", |calls| calls.iter().any(|call| call.method == "getUpdates")).await;
    }

    /// A Telegram DM saying `text` from a chat of its own; when the fake received the first
    /// `sendMessage` to that chat (`None` after 30 s).
    pub async fn telegram_reply(&self, chat: i64, text: &str) -> (Instant, Option<Instant>) {
        let chat_id = chat.to_string();
        let queued = Instant::now();
        self.telegram.message(chat, chat, text);
        let sent = poll(|| {
            let calls = self.telegram.calls_of("sendMessage");
            calls.iter().find(|call| call.body["chat_id"].as_str() == Some(chat_id.as_str())).map(|call| call.at)
        })
        .await;
        (queued, sent.map(tokio::time::Instant::into_std))
    }

    /// A Discord DM in channel `channel`; when the fake received the reply's create call.
    pub async fn discord_reply(&self, channel: &str, text: &str) -> (Instant, Option<Instant>) {
        let path = format!("/api/v10/channels/{channel}/messages");
        let queued = Instant::now();
        self.discord.message(channel, None, "500000000000000001", text, false);
        let sent = poll(|| {
            let calls = self.discord.calls();
            calls.iter().find(|call| call.method == "POST" && call.path == path).map(|call| call.at)
        })
        .await;
        (queued, sent.map(tokio::time::Instant::into_std))
    }

    /// A Slack DM in channel `channel` over Socket Mode; when the fake received the reply's
    /// `chat.postMessage`.
    pub async fn slack_reply(&self, channel: &str, text: &str) -> (Instant, Option<Instant>) {
        let callback = self.slack.callback(channel, "U0009", text);
        let queued = Instant::now();
        self.slack.deliver(&callback, 0);
        let sent = poll(|| {
            let calls = self.slack.calls_of("chat.postMessage");
            calls.iter().find(|call| call.body["channel"].as_str() == Some(channel)).map(|call| call.at)
        })
        .await;
        (queued, sent.map(tokio::time::Instant::into_std))
    }
}

/// Checks `found` every millisecond for 30 s at most.
async fn poll<T>(found: impl Fn() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + REPLY_WAIT;
    while Instant::now() < deadline {
        if let Some(value) = found() {
            return Some(value);
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    None
}
